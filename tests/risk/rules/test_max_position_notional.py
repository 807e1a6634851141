from decimal import Decimal

from riskmgr.core.domain import PositionSide
from riskmgr.risk.rules import max_position_notional
from tests.risk.builders import context, intent, position

D = Decimal
BTC_40 = position(size="0.001", mark="40000")  # 40 USDT already in the BTC long


def test_existing_plus_new_exactly_at_the_limit_is_allowed():
    verdict = max_position_notional.check(context(positions=(BTC_40,), intent=intent(qty=D("0.016"))))

    assert verdict.allowed
    assert verdict.reason == (
        "position notional 1000.00 USDT (existing 40.00 + new 960.00) is within the limit 1000 USDT"
    )


def test_one_step_more_is_denied():
    verdict = max_position_notional.check(context(positions=(BTC_40,), intent=intent(qty=D("0.017"))))

    assert not verdict.allowed
    assert verdict.reason == (
        "position notional 1060.00 USDT (existing 40.00 + new 1020.00) is above the limit 1000 USDT"
    )


def test_other_positions_do_not_count():
    others = (position(side=PositionSide.SHORT, size="1"), position(symbol="ETH/USDT:USDT", size="10", entry="2000"))

    assert max_position_notional.check(context(positions=others, intent=intent(qty=D("0.0166")))).allowed


def test_without_a_size_the_notional_cannot_be_confirmed():
    assert not max_position_notional.check(context(intent=intent(stop_loss=None))).allowed


def test_reduce_only_orders_skip_the_rule():
    assert max_position_notional.check(context(intent=intent(qty=D(5), reduce_only=True))).allowed
