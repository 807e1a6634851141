"""Settings: read from the environment once (``.env`` via python-dotenv), validated, then frozen.

Every problem raises ``ConfigError`` naming the variable, the value given and what is allowed.
``.env.example`` documents each variable read here; a test keeps the two in step.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from riskmgr.core.env import read_bool, read_choice, read_decimal, read_int, read_names, read_raw
from riskmgr.core.errors import ConfigError
from riskmgr.core.secret_strength import GENERATE_HINT, PASSWORD_MIN_BITS, TOKEN_MIN_BITS, check_secret
from riskmgr.risk.config import RiskLimits

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_INSTANCE = PROJECT_ROOT / "instance"
def normalize_database_url(url: str) -> str:
    """Accept the ``postgres://`` spelling that Heroku-style platforms hand out."""
    if url.startswith("postgres://"):
        return "postgresql://" + url[len("postgres://"):]
    return url


def _read_timezone(env: Mapping[str, str]) -> str:
    raw = read_raw(env, "DISPLAY_TIMEZONE") or "UTC"
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"DISPLAY_TIMEZONE={raw!r} is not a known IANA time zone (e.g. UTC, Europe/Berlin)") from None
    return raw


def _read_redis_url(env: Mapping[str, str]) -> str | None:
    raw = read_raw(env, "REDIS_URL")
    if raw is None:
        return None
    if not raw.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("REDIS_URL must start with redis://, rediss:// or unix:// (e.g. redis://localhost:6379/0)")
    return raw


@dataclass(frozen=True)
class Settings:
    """Everything the app reads from its environment. Build with ``Settings.from_env``."""

    database_url: str = ""
    instance_path: Path = DEFAULT_INSTANCE
    secret_key: str | None = None
    admin_password: str | None = None
    api_token: str | None = None
    cookie_secure: bool = False
    trusted_proxies: int = 0  # proxies in front of the app whose X-Forwarded-For / -Proto are believed
    poll_seconds: int = 5
    fetch_timeout_seconds: int = 10
    poll_max_workers: int = 192  # venue calls in flight at once during a poll (64 accounts, three reads each)
    db_pool_size: int = 5  # PostgreSQL: connections kept open per process
    db_max_overflow: int = 5  # PostgreSQL: extra connections a busy process may open on top of the pool
    db_lock_timeout_ms: int = 5000  # PostgreSQL: the longest wait for a row or table lock before an error
    db_statement_timeout_ms: int = 30000  # PostgreSQL: the longest any one statement may run
    retain_equity_days: int = 90  # raw equity points older than this are deleted by the daily retention job
    retain_candle_days: int = 365  # cached candle bars (open time) older than this are deleted likewise
    retain_intent_days: int = 90  # finished order intents older than this are deleted likewise
    scheduler_enabled: bool = True
    shutdown_grace_seconds: int = 20  # on SIGTERM the running jobs get this long before the process ends anyway
    redis_url: str | None = None  # set: Celery workers over Redis run the jobs; the web process runs none
    market_seed: int = 20240101
    paper_accounts: tuple[str, ...] = ("paper",)
    paper_start_balance: Decimal = Decimal(10000)
    paper_taker_fee: Decimal = Decimal("0.0005")
    paper_maker_fee: Decimal = Decimal("0.0002")
    paper_slippage_bps: Decimal = Decimal(2)
    paper_funding_pct_8h: Decimal = Decimal("0.01")  # percent of notional per 8 h funding instant
    display_timezone: str = "UTC"
    max_request_bytes: int = 1_048_576  # largest request body (JSON); a larger one is a 413
    max_upload_bytes: int = 67_108_864  # largest file upload (backtest CSV datasets)
    log_level: str = "info"
    testing: bool = False
    risk_limits: RiskLimits = field(default_factory=RiskLimits)
    live_accounts: tuple[Any, ...] = ()  # riskmgr.accounts.registry.AccountConfig, read from ACCOUNT_* variables
    feature_settings: dict[str, Any] = field(default_factory=dict)  # feature name -> its own settings
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate every setting; raise ConfigError on the first bad one."""
        from riskmgr.accounts.registry import parse_accounts
        from riskmgr.app import features

        features.check()  # the features' settings readers are called below: refuse an ill-typed one first
        env = os.environ if env is None else env
        instance = Path(read_raw(env, "INSTANCE_PATH") or DEFAULT_INSTANCE)
        db_default = f"sqlite:///{instance / 'riskmgr.db'}"
        return cls(
            database_url=normalize_database_url(read_raw(env, "DATABASE_URL") or db_default),
            instance_path=instance,
            secret_key=read_raw(env, "SECRET_KEY"),
            admin_password=_read_password(env),
            api_token=_read_token(env),
            cookie_secure=read_bool(env, "SESSION_COOKIE_SECURE", False),
            trusted_proxies=read_int(env, "TRUSTED_PROXIES", 0, 0, 5),
            poll_seconds=read_int(env, "POLL_SECONDS", 5, 1, 300),
            fetch_timeout_seconds=read_int(env, "FETCH_TIMEOUT_SECONDS", 10, 1, 120),
            poll_max_workers=read_int(env, "POLL_MAX_WORKERS", 192, 1, 1024),
            db_pool_size=read_int(env, "DB_POOL_SIZE", 5, 1, 100),
            db_max_overflow=read_int(env, "DB_MAX_OVERFLOW", 5, 0, 100),
            db_lock_timeout_ms=read_int(env, "DB_LOCK_TIMEOUT_MS", 5000, 100, 600_000),
            db_statement_timeout_ms=read_int(env, "DB_STATEMENT_TIMEOUT_MS", 30000, 1000, 3_600_000),
            retain_equity_days=read_int(env, "RETAIN_EQUITY_DAYS", 90, 8, 3650),
            retain_candle_days=read_int(env, "RETAIN_CANDLE_DAYS", 365, 30, 3650),
            retain_intent_days=read_int(env, "RETAIN_INTENT_DAYS", 90, 30, 3650),
            scheduler_enabled=read_bool(env, "SCHEDULER_ENABLED", True),
            shutdown_grace_seconds=read_int(env, "SHUTDOWN_GRACE_SECONDS", 20, 1, 120),
            redis_url=_read_redis_url(env),
            market_seed=read_int(env, "MARKET_SEED", 20240101, 0, 2**31 - 1),
            paper_accounts=read_names(env, "PAPER_ACCOUNTS", "paper"),
            paper_start_balance=read_decimal(env, "PAPER_START_BALANCE", "10000", "100", "10000000"),
            paper_taker_fee=read_decimal(env, "PAPER_TAKER_FEE", "0.0005", "0", "0.01"),
            paper_maker_fee=read_decimal(env, "PAPER_MAKER_FEE", "0.0002", "0", "0.01"),
            paper_slippage_bps=read_decimal(env, "PAPER_SLIPPAGE_BPS", "2", "0", "100"),
            paper_funding_pct_8h=read_decimal(env, "PAPER_FUNDING_PCT_8H", "0.01", "-1", "1"),
            display_timezone=_read_timezone(env),
            max_request_bytes=read_int(env, "MAX_REQUEST_BYTES", 1_048_576, 16_384, 16_777_216),
            max_upload_bytes=read_int(env, "MAX_UPLOAD_BYTES", 67_108_864, 1_048_576, 268_435_456),
            log_level=read_choice(env, "LOG_LEVEL", "info", ("debug", "info", "warning", "error")),
            risk_limits=RiskLimits.from_env(env),
            live_accounts=parse_accounts(env),
            feature_settings={f.name: f.settings_from_env(env) for f in features.FEATURES
                              if f.settings_from_env is not None},
        )

    def feature(self, name: str) -> Any:
        """Return the settings of the feature called ``name`` (read from the environment at start; its defaults
        when none were given, as in tests); a feature without settings is a LookupError naming it."""
        if name in self.feature_settings:
            return self.feature_settings[name]
        from riskmgr.app import features

        read = features.by_name(name).settings_from_env
        if read is None:
            raise LookupError(f"feature {name!r} has no settings of its own")
        return read({})

    def with_changes(self, **changes: Any) -> Settings:
        """Return a copy with some fields replaced (tests use this)."""
        return replace(self, **changes)


def _read_token(env: Mapping[str, str]) -> str | None:
    token = read_raw(env, "RISKMGR_API_TOKEN")
    if token is not None and len(token) < 24:
        raise ConfigError(
            f"RISKMGR_API_TOKEN is too short; allowed: at least 24 characters; {GENERATE_HINT} (the value is not shown)"
        )
    if token is not None:
        check_secret("RISKMGR_API_TOKEN", token, TOKEN_MIN_BITS)
    return token


def _read_password(env: Mapping[str, str]) -> str | None:
    password = read_raw(env, "RISKMGR_ADMIN_PASSWORD")
    if password is not None:
        check_secret("RISKMGR_ADMIN_PASSWORD", password, PASSWORD_MIN_BITS,
                     f"choose four or more random words, or {GENERATE_HINT}")
    return password

