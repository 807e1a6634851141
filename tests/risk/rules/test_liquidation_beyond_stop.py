from dataclasses import replace
from decimal import Decimal

import pytest

from riskmgr.core.domain import PositionSide
from riskmgr.risk.rules import liquidation_beyond_stop
from tests.risk.builders import BTC, context, intent

D = Decimal
LONG, SHORT = PositionSide.LONG, PositionSide.SHORT


def check(side: PositionSide, stop: str):
    # 10x, maintenance margin 0.5 %: the most cautious venue formula (Bitget's, fee included) liquidates a long at
    # 60000*0.9/0.9944 = 54304.103 (54304.2 on the tick) and a short at 60000*1.1/1.0056 = 65632.458 (65632.4)
    target = D(70000) if side is LONG else D(50000)
    return liquidation_beyond_stop.check(
        context(intent=intent(side=side, stop_loss=D(stop), take_profit=target, leverage=10))
    )


@pytest.mark.parametrize(
    ("side", "stop", "allowed"),
    [
        (LONG, "54304.3", True),
        (LONG, "54304.2", False),
        (LONG, "54300.1", False),
        (SHORT, "65632.3", True),
        (SHORT, "65632.4", False),
        (SHORT, "65699.9", False),
    ],
)
def test_the_liquidation_must_lie_strictly_beyond_the_stop(side, stop, allowed):
    assert check(side, stop).allowed is allowed


def test_the_reasons_carry_the_prices():
    assert check(LONG, "59100").reason == (
        "estimated liquidation 54304.2 at 10x (maintenance margin 0.5 %) lies 4795.8 beyond the stop 59100"
    )
    assert check(LONG, "54000").reason == (
        "estimated liquidation 54304.2 at 10x (maintenance margin 0.5 %) is not beyond the stop 54000: "
        "the stop might never fire"
    )


def test_an_unknown_maintenance_rate_is_denied_rather_than_assumed():
    unknown = replace(BTC, maintenance_margin_rate=None)

    verdict = liquidation_beyond_stop.check(context(spec=unknown, intent=intent(stop_loss=D(59100), leverage=10)))

    assert not verdict.allowed
    assert verdict.reason == (
        "the maintenance margin rate of BTC/USDT:USDT is unknown: the liquidation price cannot be estimated, "
        "so the stop cannot be shown to fire first"
    )


def test_a_reduce_only_order_skips_the_rule_even_with_an_unknown_rate():
    ctx = context(spec=replace(BTC, maintenance_margin_rate=None), intent=intent(reduce_only=True))

    assert liquidation_beyond_stop.check(ctx).allowed


def test_an_entry_without_a_stop_is_denied():
    assert not liquidation_beyond_stop.check(context(intent=intent(stop_loss=None))).allowed


def test_reduce_only_orders_skip_the_rule():
    ctx = context(intent=intent(stop_loss=D(54000), leverage=10, reduce_only=True))

    assert liquidation_beyond_stop.check(ctx).allowed


def test_a_20x_short_stop_that_binance_would_liquidate_first_is_denied():
    # Binance liquidates a 20x short at 50000 (mmr 0.5 %) at 50000*1.05/1.005 = 52238.81: a stop at 52245 never fires
    ctx = context(intent=intent(
        side=SHORT, entry_price=D(50000), stop_loss=D(52245), take_profit=D(40000), leverage=20,
    ))

    verdict = liquidation_beyond_stop.check(ctx)

    assert not verdict.allowed
    assert verdict.reason.startswith("estimated liquidation 52207.6 at 20x")
