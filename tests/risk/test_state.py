from datetime import UTC, datetime
from decimal import Decimal

import pytest

from riskmgr.core.domain import TradingState
from riskmgr.core.errors import ValidationError
from riskmgr.risk.config import RiskLimits
from riskmgr.risk.state import (
    DrawdownTier,
    TradingStatus,
    admits,
    escalate,
    evaluate_account_tiers,
    next_day_start,
    rearm,
    risk_day,
)

D = Decimal
NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
ACTIVE, REDUCING, HALTED = TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED


def status(state: TradingState) -> TradingStatus:
    return TradingStatus(state, "start", datetime(2024, 3, 1, tzinfo=UTC), "system")


@pytest.mark.parametrize(("current", "proposed"), [(ACTIVE, REDUCING), (ACTIVE, HALTED), (REDUCING, HALTED)])
def test_escalate_moves_down_to_a_stricter_state(current, proposed):
    new = escalate(status(current), proposed, "drawdown 4 %", NOW, "risk-engine")

    assert new == TradingStatus(proposed, "drawdown 4 %", NOW, "risk-engine")


@pytest.mark.parametrize(
    ("current", "proposed"),
    [
        (REDUCING, ACTIVE),
        (HALTED, ACTIVE),
        (HALTED, REDUCING),
        (ACTIVE, ACTIVE),
        (REDUCING, REDUCING),
        (HALTED, HALTED),
    ],
)
def test_escalate_never_moves_up_or_sideways(current, proposed):
    assert escalate(status(current), proposed, "recovered", NOW, "risk-engine") is None


def test_escalate_needs_a_reason():
    with pytest.raises(ValidationError) as caught:
        escalate(status(ACTIVE), HALTED, "  ", NOW, "risk-engine")

    assert caught.value.field == "reason"


@pytest.mark.parametrize("current", [REDUCING, HALTED])
def test_rearm_returns_to_active_with_the_operators_reason(current):
    new = rearm(status(current), "  checked the positions  ", NOW, "alice")

    assert new == TradingStatus(ACTIVE, "checked the positions", NOW, "alice")


@pytest.mark.parametrize("reason", ["", "   "])
def test_rearm_without_a_reason_is_refused(reason):
    with pytest.raises(ValidationError) as caught:
        rearm(status(HALTED), reason, NOW, "alice")

    assert caught.value.field == "reason"


def test_rearm_when_already_active_is_refused():
    with pytest.raises(ValidationError) as caught:
        rearm(status(ACTIVE), "just because", NOW, "alice")

    assert caught.value.field == "state"


@pytest.mark.parametrize(
    ("state", "reduces_exposure", "is_cancel", "allowed"),
    [
        (ACTIVE, False, False, True),
        (ACTIVE, True, False, True),
        (ACTIVE, False, True, True),
        (REDUCING, False, False, False),
        (REDUCING, True, False, True),
        (REDUCING, False, True, True),
        (HALTED, False, False, False),
        (HALTED, True, False, True),
        (HALTED, False, True, True),
    ],
)
def test_admits_table(state, reduces_exposure, is_cancel, allowed):
    verdict = admits(state, reduces_exposure=reduces_exposure, is_cancel=is_cancel)

    assert verdict.allowed is allowed
    assert verdict.rule == "trading_state"


def test_a_halted_denial_says_what_is_still_admitted():
    verdict = admits(HALTED, reduces_exposure=False, is_cancel=False)

    assert verdict.reason == (
        "trading is HALTED: only cancels and reduce-only closes are admitted until an operator re-arms"
    )


@pytest.mark.parametrize(
    ("equity", "tier", "proposed"),
    [
        ("9700.01", DrawdownTier.NONE, None),
        ("9700", DrawdownTier.WARN, None),
        ("9600.01", DrawdownTier.WARN, None),
        ("9600", DrawdownTier.REDUCING, REDUCING),
        ("9500.01", DrawdownTier.REDUCING, REDUCING),
        ("9500", DrawdownTier.HALT, HALTED),
    ],
)
def test_drawdown_tiers_at_their_boundaries(equity, tier, proposed):
    # the day started high so the daily loss limit stays out of the picture
    tiers = evaluate_account_tiers(RiskLimits(), D(equity), D(equity), D(10000), NOW)

    assert tiers.drawdown_tier is tier
    assert tiers.proposed_state is proposed


def test_max_drawdown_asks_for_the_emergency_stop_when_its_flag_is_on():
    on = evaluate_account_tiers(RiskLimits(), D(9500), D(9500), D(10000), NOW)
    off = evaluate_account_tiers(
        RiskLimits().with_changes(auto_emergency_on_drawdown=False), D(9500), D(9500), D(10000), NOW
    )

    assert (on.proposed_state, on.emergency_stop) == (HALTED, True)
    assert (off.proposed_state, off.emergency_stop) == (HALTED, False)
    assert on.drawdown_reason == (
        "drawdown 5.00 % from peak 10000.00 USDT (equity 9500.00 USDT) reached the max drawdown (flatten and HALT) 5 %"
    )


@pytest.mark.parametrize(("equity", "hit"), [("9700", True), ("9700.01", False)])
def test_daily_loss_limit_is_hit_at_exactly_the_limit(equity, hit):
    tiers = evaluate_account_tiers(RiskLimits(), D(equity), D(10000), D(9000), NOW)

    assert tiers.daily_loss_hit is hit
    assert tiers.proposed_state is None
    assert tiers.emergency_stop is False


def test_daily_loss_limit_halts_and_flattens_only_when_its_flag_is_on():
    limits = RiskLimits().with_changes(auto_emergency_on_daily_loss=True)

    tiers = evaluate_account_tiers(limits, D(9700), D(10000), D(9000), NOW)

    assert (tiers.proposed_state, tiers.emergency_stop) == (HALTED, True)
    assert tiers.daily_loss_reason == (
        "day loss 3.00 % of the day's opening equity 10000.00 USDT reached the daily loss limit 3 %; "
        "new risk resumes at 2024-03-11 00:00 UTC"
    )


def test_equity_above_the_peak_is_zero_drawdown_and_a_winning_day_is_no_loss():
    tiers = evaluate_account_tiers(RiskLimits(), D(10500), D(10000), D(10000), NOW)

    assert tiers.drawdown_pct == 0
    assert tiers.daily_loss_pct == D(-5)
    assert tiers.daily_loss_reason == "up 5.00 % on the day's opening equity 10000.00 USDT"


def test_a_non_positive_baseline_is_refused_not_guessed():
    with pytest.raises(ValidationError) as caught:
        evaluate_account_tiers(RiskLimits(), D(100), D(100), D(0), NOW)

    assert caught.value.field == "peak_equity"


def test_the_risk_day_follows_the_configured_time_zone():
    late_evening_in_new_york = datetime(2024, 3, 11, 2, 0, tzinfo=UTC)  # 22:00 EDT on the 10th

    assert risk_day(late_evening_in_new_york, "UTC").isoformat() == "2024-03-11"
    assert risk_day(late_evening_in_new_york, "America/New_York").isoformat() == "2024-03-10"
    assert next_day_start(late_evening_in_new_york, "America/New_York") == datetime(2024, 3, 11, 4, 0, tzinfo=UTC)


def test_next_day_start_handles_the_day_daylight_saving_begins():
    before_the_switch = datetime(2024, 3, 10, 4, 0, tzinfo=UTC)  # 23:00 EST on the 9th; clocks jump on the 10th

    assert next_day_start(before_the_switch, "America/New_York") == datetime(2024, 3, 10, 5, 0, tzinfo=UTC)
    assert next_day_start(NOW, "America/New_York") == datetime(2024, 3, 11, 4, 0, tzinfo=UTC)


def test_tiers_use_the_limits_time_zone_by_default():
    limits = RiskLimits().with_changes(risk_day_timezone="Europe/Berlin")

    tiers = evaluate_account_tiers(limits, D(10000), D(10000), D(10000), datetime(2024, 3, 10, 23, 30, tzinfo=UTC))

    assert tiers.day.isoformat() == "2024-03-11"
    assert tiers.next_day_start == datetime(2024, 3, 11, 23, 0, tzinfo=UTC)
