from decimal import Decimal

import pytest

from riskmgr.app.config import Settings, normalize_database_url
from riskmgr.core.errors import ConfigError


def test_defaults_are_the_documented_ones():
    s = Settings.from_env({})
    assert s.poll_seconds == 5
    assert s.paper_accounts == ("paper",)
    assert s.paper_start_balance == Decimal(10000)
    assert s.database_url.startswith("sqlite:///") and s.database_url.endswith("instance/riskmgr.db")
    assert s.scheduler_enabled is True
    assert s.shutdown_grace_seconds == 20  # below Heroku's 30 s between SIGTERM and SIGKILL


@pytest.mark.parametrize(
    ("name", "value", "expected_words"),
    [
        ("POLL_SECONDS", "0", ["POLL_SECONDS", "'0'", "1–300"]),
        ("POLL_SECONDS", "five", ["POLL_SECONDS", "whole number", "1–300"]),
        ("PAPER_START_BALANCE", "-5", ["PAPER_START_BALANCE", "'-5'", "100–10000000"]),
        ("PAPER_TAKER_FEE", "0.5", ["PAPER_TAKER_FEE", "0–0.01"]),
        ("PAPER_FUNDING_PCT_8H", "2", ["PAPER_FUNDING_PCT_8H", "'2'", "-1–1"]),
        ("SCHEDULER_ENABLED", "maybe", ["SCHEDULER_ENABLED", "true/false"]),
        ("SHUTDOWN_GRACE_SECONDS", "0", ["SHUTDOWN_GRACE_SECONDS", "'0'", "1–120"]),
        ("SHUTDOWN_GRACE_SECONDS", "121", ["SHUTDOWN_GRACE_SECONDS", "'121'", "1–120"]),
        ("LOG_LEVEL", "loud", ["LOG_LEVEL", "debug, info, warning, error"]),
        ("DISPLAY_TIMEZONE", "Mars/Base", ["DISPLAY_TIMEZONE", "Mars/Base"]),
        ("PAPER_ACCOUNTS", "a,a", ["PAPER_ACCOUNTS", "twice"]),
        ("PAPER_ACCOUNTS", "bad name", ["PAPER_ACCOUNTS", "'bad name'"]),
    ],
)
def test_bad_setting_is_refused_with_its_name_value_and_range(name, value, expected_words):
    with pytest.raises(ConfigError) as exc:
        Settings.from_env({name: value})
    for word in expected_words:
        assert word in str(exc.value)


def test_short_api_token_is_refused_without_echoing_it():
    with pytest.raises(ConfigError) as exc:
        Settings.from_env({"RISKMGR_API_TOKEN": "short-secret"})
    assert "RISKMGR_API_TOKEN" in str(exc.value)
    assert "short-secret" not in str(exc.value)


def test_heroku_postgres_spelling_is_accepted():
    assert normalize_database_url("postgres://u:p@h/db") == "postgresql://u:p@h/db"
    assert Settings.from_env({"DATABASE_URL": "postgres://u:p@h/db"}).database_url == "postgresql://u:p@h/db"


def test_every_setting_read_is_documented_in_env_example():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    source = "\n".join(p.read_text() for p in (root / "riskmgr").rglob("*.py"))
    prefixes = "|".join(
        ("RISKMGR_", "RISK_", "PAPER_", "POLL_", "FETCH_", "SCHEDULER_", "MARKET_", "DISPLAY_", "LOG_", "SESSION_",
         "DATABASE_", "SECRET_", "INSTANCE_", "ALERT_", "TELEGRAM_", "SMTP_", "ACCOUNT", "SIGNAL_", "AUTO_TRADE",
         "WATCHDOG_", "BACKTEST_", "EMERGENCY_", "SELFTEST_")
    )
    read = set(re.findall(rf'"((?:{prefixes})[A-Z_]+)"', source))
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (root / ".env.example").read_text(), re.M))
    assert read - documented == set()


def test_every_risk_limit_is_documented_in_env_example_with_its_default():
    import re
    from pathlib import Path

    from riskmgr.risk.config import RiskLimits, field_table

    text = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    documented = dict(re.findall(r"^(RISK_[A-Z0-9_]+)=(.*)$", text, re.M))
    def shown(value):
        return str(value).lower() if isinstance(value, bool) else str(value)

    assert documented == {f"RISK_{r['name'].upper()}": shown(r["default"]) for r in field_table()}
    assert RiskLimits.from_env(documented) == RiskLimits()  # the example's values are the defaults
