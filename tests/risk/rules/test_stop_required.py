from decimal import Decimal

import pytest

from riskmgr.core.domain import PositionSide
from riskmgr.risk.rules import stop_required
from tests.risk.builders import context, intent

D = Decimal
LONG, SHORT = PositionSide.LONG, PositionSide.SHORT


def check(side: PositionSide, stop: str | None):
    target = D(61800) if side is LONG else D(58200)
    return stop_required.check(
        context(intent=intent(side=side, stop_loss=None if stop is None else D(stop), take_profit=target))
    )


def test_an_entry_without_a_stop_is_denied():
    verdict = check(LONG, None)

    assert not verdict.allowed
    assert verdict.reason == "an entry needs a stop-loss; none was given"


@pytest.mark.parametrize(
    ("side", "stop", "allowed"),
    [
        (LONG, "59999.9", True),
        (LONG, "60000", False),
        (LONG, "60000.1", False),
        (SHORT, "60000.1", True),
        (SHORT, "60000", False),
        (SHORT, "59999.9", False),
    ],
)
def test_the_stop_must_be_on_the_loss_side_of_the_entry(side, stop, allowed):
    assert check(side, stop).allowed is allowed


def test_the_reasons_carry_the_prices():
    assert check(LONG, "60000").reason == "stop 60000 must be below the entry 60000 for a long"
    assert check(LONG, "59100").reason == "stop 59100 is 900 (1.50 %) below the entry 60000"


def test_reduce_only_closes_need_no_stop():
    assert stop_required.check(context(intent=intent(reduce_only=True, stop_loss=None))).allowed
