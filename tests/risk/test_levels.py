from decimal import Decimal

import pytest

from riskmgr.core.domain import PositionSide, RiskLevel
from riskmgr.core.errors import ValidationError
from riskmgr.risk.config import RiskLimits
from riskmgr.risk.levels import PositionAction, PositionActionKind, move_pct, position_actions, risk_level
from tests.risk.builders import position

D = Decimal
LONG, SHORT = PositionSide.LONG, PositionSide.SHORT
SYMBOL = "BTC/USDT:USDT"


def at(mark: str, side: PositionSide = LONG, size: str = "2"):
    return position(side=side, size=size, entry="100", mark=mark)


@pytest.mark.parametrize(
    ("mark", "level"),
    [
        ("97.5", RiskLevel.LOW),
        ("97.49", RiskLevel.HIGH),
        ("95", RiskLevel.HIGH),
        ("94.99", RiskLevel.CRITICAL),
        ("103", RiskLevel.LOW),
        ("103.01", RiskLevel.PROFITABLE),
    ],
)
def test_long_risk_levels_at_their_boundaries(mark, level):
    assert risk_level(at(mark), RiskLimits()) is level


@pytest.mark.parametrize(
    ("mark", "level"),
    [
        ("102.5", RiskLevel.LOW),
        ("102.51", RiskLevel.HIGH),
        ("105", RiskLevel.HIGH),
        ("105.01", RiskLevel.CRITICAL),
        ("97", RiskLevel.LOW),
        ("96.99", RiskLevel.PROFITABLE),
    ],
)
def test_short_risk_levels_at_their_boundaries(mark, level):
    assert risk_level(at(mark, SHORT), RiskLimits()) is level


def test_move_is_signed_in_the_positions_favour():
    assert move_pct(at("98")) == D(-2)
    assert move_pct(at("98", SHORT)) == D(2)


def test_a_position_with_a_zero_price_is_refused_not_graded():
    with pytest.raises(ValidationError) as caught:
        risk_level(position(entry="0", mark="100"), RiskLimits())

    assert caught.value.field == "entry_price"


def test_a_quiet_position_needs_nothing():
    assert position_actions(at("95.01"), RiskLimits()) == ()


def test_the_emergency_move_closes_the_position_even_before_critical():
    actions = position_actions(at("95"), RiskLimits())

    assert actions == (
        PositionAction(
            PositionActionKind.CLOSE,
            SYMBOL,
            LONG,
            None,
            f"{SYMBOL} long has moved 5.00 % against entry, at or beyond the emergency close 5 % (HIGH): close it",
        ),
    )


def test_critical_closes_the_position():
    limits = RiskLimits().with_changes(emergency_close_pct="10", level_critical_pct="4")

    (action,) = position_actions(at("95.99"), limits)

    assert action.kind is PositionActionKind.CLOSE
    assert "beyond the CRITICAL level 4 % (CRITICAL)" in action.reason


def test_with_auto_close_off_the_monitor_alerts_instead_of_closing():
    limits = RiskLimits().with_changes(auto_close_on_emergency=False)

    (action,) = position_actions(at("94"), limits)

    assert action.kind is PositionActionKind.ALERT
    assert action.reason.endswith("automatic close is off, act by hand")


def test_partial_take_profit_takes_half_at_the_trigger_when_enabled():
    limits = RiskLimits().with_changes(partial_tp_enabled=True)

    (action,) = position_actions(at("103", size="0.015"), limits)

    assert action.kind is PositionActionKind.PARTIAL_TAKE_PROFIT
    assert action.qty == D("0.0075")
    assert position_actions(at("102.99"), limits) == ()


def test_partial_take_profit_is_off_by_default():
    assert position_actions(at("110"), RiskLimits()) == ()
