from dataclasses import replace
from decimal import Decimal

from riskmgr.risk.rules import max_leverage
from tests.risk.builders import BTC, context, intent, position

D = Decimal
ETH_4040 = position(symbol="ETH/USDT:USDT", size="2.02", entry="2000")  # 4040 USDT open


def test_a_leverage_setting_at_the_limit_is_allowed_and_one_above_is_not():
    assert max_leverage.check(context(intent=intent(leverage=5))).allowed

    verdict = max_leverage.check(context(intent=intent(leverage=6)))

    assert not verdict.allowed
    assert verdict.reason == "leverage 6x is above the limit 5x"


def test_a_leverage_above_the_exchange_maximum_is_denied():
    verdict = max_leverage.check(context(intent=intent(leverage=4), spec=replace(BTC, max_leverage=3)))

    assert verdict.reason == "leverage 4x is above the exchange maximum 3x for BTC/USDT:USDT"


def test_account_notional_may_reach_equity_times_the_limit_but_not_pass_it():
    # equity 1000 x 5 = 5000 USDT; 4040 open + 0.016 BTC * 60000 = 960 -> exactly 5000
    at_limit = context(equity=D(1000), positions=(ETH_4040,), intent=intent(qty=D("0.016")))
    above = context(equity=D(1000), positions=(ETH_4040,), intent=intent(qty=D("0.017")))

    assert max_leverage.check(at_limit).allowed
    verdict = max_leverage.check(above)
    assert not verdict.allowed
    assert verdict.reason == (
        "notional after the order 5060.00 USDT is 5.06x equity 1000.00 USDT, above the limit 5x (5000.00 USDT)"
    )


def test_without_a_size_the_account_leverage_cannot_be_confirmed():
    verdict = max_leverage.check(context(intent=intent(stop_loss=None)))

    assert not verdict.allowed
    assert "cannot be checked without a size" in verdict.reason


def test_reduce_only_orders_skip_the_rule():
    assert max_leverage.check(context(intent=intent(leverage=50, reduce_only=True))).allowed
