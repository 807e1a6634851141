from decimal import Decimal

import pytest

from riskmgr.core.domain import PositionSide
from riskmgr.risk.rules import reward_risk
from tests.risk.builders import context, intent

D = Decimal
LONG, SHORT = PositionSide.LONG, PositionSide.SHORT


def check(side: PositionSide, stop: str, target: str | None):
    order = intent(side=side, stop_loss=D(stop), take_profit=None if target is None else D(target))
    return reward_risk.check(context(intent=order))


@pytest.mark.parametrize(
    ("side", "stop", "target", "allowed"),
    [
        (LONG, "59100", "61800", True),
        (LONG, "59100", "61800.1", True),
        (LONG, "59100", "61799.9", False),
        (SHORT, "60900", "58200", True),
        (SHORT, "60900", "58200.1", False),
    ],
)
def test_reward_risk_must_reach_the_minimum(side, stop, target, allowed):
    assert check(side, stop, target).allowed is allowed


def test_the_reasons_carry_the_ratio():
    assert check(LONG, "59100", "61800").reason == "reward:risk 2:1 meets the minimum 2:1"
    assert check(LONG, "59100", "61350").reason == "reward:risk 1.5:1 is below the minimum 2:1"


def test_an_entry_without_a_take_profit_is_denied():
    verdict = check(LONG, "59100", None)

    assert not verdict.allowed
    assert verdict.reason == "no take-profit given: reward:risk cannot be checked (minimum 2:1)"


def test_a_take_profit_on_the_wrong_side_is_denied():
    verdict = check(LONG, "59100", "59000")

    assert verdict.reason == "take-profit 59000 is not on the profit side of the entry 60000"


def test_a_stop_on_the_wrong_side_is_denied_without_a_fault():
    assert not check(LONG, "60500", "61800").allowed


def test_reduce_only_orders_skip_the_rule():
    assert reward_risk.check(context(intent=intent(take_profit=None, reduce_only=True))).allowed


def test_a_ratio_just_below_the_minimum_never_reads_as_the_minimum():
    from decimal import Decimal

    from riskmgr.risk.rules import reward_risk
    from tests.risk.builders import context, intent

    ctx = context(intent=intent(entry_price=Decimal(100), stop_loss=Decimal(99), take_profit=Decimal("101.99995")))
    verdict = reward_risk.check(ctx)
    assert not verdict.allowed
    assert "1.9999:1 is below the minimum 2:1" in verdict.reason
