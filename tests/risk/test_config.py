import dataclasses
import json
from decimal import Decimal

import pytest

from riskmgr.core.errors import ConfigError, ValidationError
from riskmgr.risk.config import FIELDS, RiskLimits, field_table

D = Decimal


def test_defaults_follow_the_architecture_table():
    limits = RiskLimits()

    assert limits.risk_per_trade_pct == D("1.5")
    assert limits.max_leverage == 5
    assert limits.daily_loss_limit_pct == D(3)
    assert (limits.drawdown_warn_pct, limits.drawdown_reducing_pct, limits.max_drawdown_pct) == (D(3), D(4), D(5))
    assert limits.max_open_positions == 5
    assert limits.max_position_notional == D(1000)
    assert limits.min_notional_floor == D(5)
    # 3.75 % over 1.5 % is 2.5:1, headroom above the 2:1 minimum so a small move of the mark does not deny it
    assert (limits.default_stop_pct, limits.default_target_pct) == (D("1.5"), D("3.75"))
    assert limits.emergency_close_pct == D(5)
    assert (limits.level_high_pct, limits.level_critical_pct, limits.level_profitable_pct) == (D("2.5"), D(5), D(3))
    assert limits.partial_tp_enabled is False
    assert (limits.partial_tp_fraction_pct, limits.partial_tp_trigger_pct) == (D(50), D(3))
    assert (limits.max_consecutive_losses, limits.loss_cooldown_minutes) == (3, 60)
    assert limits.min_reward_risk == D(2)
    assert limits.min_stop_cost_multiple == D(3)
    assert (limits.taker_fee_estimate_pct, limits.slippage_estimate_pct) == (D("0.06"), D("0.05"))
    assert (limits.min_signal_confidence, limits.signal_cooldown_minutes) == (75, 5)
    assert limits.stale_after_seconds == 30
    assert limits.risk_day_timezone == "UTC"
    assert limits.auto_trade_daily_cap == 10
    assert limits.unprotected_policy == "alert"


def test_field_table_lists_every_field_in_order_with_unit_range_help_and_default():
    names = [f.name for f in dataclasses.fields(RiskLimits)]

    table = field_table()

    assert [spec.name for spec in FIELDS] == names
    assert [row["name"] for row in table] == names
    leverage = next(row for row in table if row["name"] == "max_leverage")
    assert leverage == {
        "name": "max_leverage",
        "label": "Maximum leverage",
        "type": "int",
        "unit": "x",
        "min": "1",
        "max": "125",
        "help": leverage["help"],
        "choices": [],
        "default": 5,
    }
    assert all(row["help"] for row in table)


def test_from_mapping_coerces_json_numbers_text_and_booleans():
    limits = RiskLimits.from_mapping(
        {"risk_per_trade_pct": 1.1, "max_leverage": "3", "partial_tp_enabled": "yes", "unprotected_policy": "CLOSE"}
    )

    assert limits.risk_per_trade_pct == D("1.1")
    assert limits.max_leverage == 3
    assert limits.partial_tp_enabled is True
    assert limits.unprotected_policy == "close"


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("max_leverage", 126, "126 is out of range; allowed 1–125 x"),
        ("max_leverage", 0, "0 is out of range; allowed 1–125 x"),
        ("max_leverage", "2.5", "'2.5' is not a whole number; allowed 1–125 x"),
        ("risk_per_trade_pct", "abc", "'abc' is not a number; allowed 0.01–10 %"),
        ("risk_per_trade_pct", "NaN", "'NaN' is not a finite number; allowed 0.01–10 %"),
        ("risk_per_trade_pct", True, "True is not a number; allowed 0.01–10 %"),
        ("risk_per_trade_pct", "0.009", "Decimal('0.009') is out of range; allowed 0.01–10 %"),
        ("min_notional_floor", "4.99", "Decimal('4.99') is out of range; allowed 5–100000 USDT"),
        ("partial_tp_enabled", "maybe", "'maybe' is not a boolean; allowed true or false"),
        ("unprotected_policy", "panic", "'panic' is not allowed; allowed one of alert, reducing, close"),
        ("risk_day_timezone", "Mars/Olympus", "is not a known time zone"),
    ],
)
def test_a_bad_value_is_refused_naming_field_value_and_allowed_range(field, value, expected):
    with pytest.raises(ValidationError) as caught:
        RiskLimits().with_changes(**{field: value})

    assert caught.value.field == field
    assert expected in caught.value.message


def test_values_exactly_at_the_range_ends_are_accepted():
    limits = RiskLimits().with_changes(max_leverage=125, min_notional_floor="5", stale_after_seconds=5)

    assert (limits.max_leverage, limits.min_notional_floor, limits.stale_after_seconds) == (125, D(5), 5)


def test_an_unknown_field_is_refused_by_name():
    with pytest.raises(ValidationError) as caught:
        RiskLimits.from_mapping({"max_levrage": 3})

    assert caught.value.field == "max_levrage"


def test_direct_construction_with_a_float_is_refused():
    with pytest.raises(ValidationError) as caught:
        RiskLimits(risk_per_trade_pct=1.5)  # type: ignore[arg-type]

    assert caught.value.field == "risk_per_trade_pct"
    assert "wrong type float" in caught.value.message


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"daily_loss_limit_pct": "5"}, "daily_loss_limit_pct", "must be below the max drawdown 5 %"),
        ({"drawdown_warn_pct": "4"}, "drawdown_warn_pct", "warn tier 4 % must be below the REDUCING tier 4 %"),
        ({"drawdown_reducing_pct": "5"}, "drawdown_reducing_pct", "must be below the max drawdown 5 %"),
        ({"default_stop_pct": "5", "default_target_pct": "10"}, "default_stop_pct", "below the emergency close 5 %"),
        ({"level_critical_pct": "2.5"}, "level_critical_pct", "must be beyond the HIGH level 2.5 %"),
        ({"risk_per_trade_pct": "3.01"}, "risk_per_trade_pct", "must not exceed the daily loss limit 3 %"),
        ({"default_target_pct": "2.99"}, "default_target_pct", "at least 2 x the default stop 1.5 %"),
        ({"min_notional_floor": "10", "max_position_notional": "9"}, "max_position_notional", "min notional floor"),
    ],
)
def test_cross_field_rules_are_enforced(changes, field, words):
    with pytest.raises(ValidationError) as caught:
        RiskLimits().with_changes(**changes)

    assert caught.value.field == field
    assert words in caught.value.message


def test_cross_field_rules_accept_their_boundaries():
    limits = RiskLimits().with_changes(
        daily_loss_limit_pct="4.99", risk_per_trade_pct="4.99", default_target_pct="3", max_position_notional="5"
    )

    assert limits.daily_loss_limit_pct == D("4.99")


def test_with_changes_returns_a_new_object_and_leaves_the_original_alone():
    original = RiskLimits()

    changed = original.with_changes(max_leverage=3)

    assert changed.max_leverage == 3
    assert original.max_leverage == 5
    with pytest.raises(dataclasses.FrozenInstanceError):
        original.max_leverage = 2  # type: ignore[misc]


def test_from_env_reads_risk_prefixed_overrides_and_ignores_empty_ones():
    env = {"RISK_MAX_LEVERAGE": " 3 ", "RISK_PARTIAL_TP_ENABLED": "on", "RISK_MAX_OPEN_POSITIONS": "", "HOME": "/x"}

    limits = RiskLimits.from_env(env)

    assert limits.max_leverage == 3
    assert limits.partial_tp_enabled is True
    assert limits.max_open_positions == 5


def test_from_env_names_the_variable_value_and_range_of_a_bad_override():
    with pytest.raises(ConfigError) as caught:
        RiskLimits.from_env({"RISK_MAX_LEVERAGE": "0"})

    assert str(caught.value) == "RISK_MAX_LEVERAGE='0': 0 is out of range; allowed 1–125 x"


def test_from_env_reports_a_cross_field_conflict_as_a_config_error():
    with pytest.raises(ConfigError) as caught:
        RiskLimits.from_env({"RISK_DAILY_LOSS_LIMIT_PCT": "6"})

    assert "RISK_DAILY_LOSS_LIMIT_PCT='6'" in str(caught.value)
    assert "max drawdown 5 %" in str(caught.value)


def test_from_env_refuses_a_misspelt_risk_variable():
    with pytest.raises(ConfigError, match="RISK_MAX_LEVRAGE is not a risk limit"):
        RiskLimits.from_env({"RISK_MAX_LEVRAGE": "3"})


def test_to_dict_is_json_safe_and_round_trips():
    limits = RiskLimits().with_changes(risk_per_trade_pct="1.25", unprotected_policy="close")

    data = json.loads(json.dumps(limits.to_dict()))

    assert data["risk_per_trade_pct"] == "1.25"
    assert data["max_leverage"] == 5
    assert RiskLimits.from_mapping(data) == limits


def test_diff_lists_only_changed_fields_as_old_new_pairs():
    before = RiskLimits()
    after = before.with_changes(max_leverage=3, risk_per_trade_pct="1")

    assert before.diff(after) == {"risk_per_trade_pct": ("1.5", "1"), "max_leverage": (5, 3)}
    assert before.diff(before) == {}
