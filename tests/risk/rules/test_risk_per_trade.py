from dataclasses import replace
from decimal import Decimal

from riskmgr.risk.config import RiskLimits
from riskmgr.risk.rules import risk_per_trade
from tests.risk.builders import BTC, context, intent, position

D = Decimal
DOGE = replace(
    BTC, symbol="DOGE/USDT:USDT", base="DOGE", min_qty=D(1), qty_step=D(1), price_tick=D("0.00001"), min_notional=D(5)
)


def doge(qty: str, **changes):
    order = intent(
        symbol="DOGE/USDT:USDT", entry_price=D("0.1"), stop_loss=D("0.098"), take_profit=D("0.104"), qty=D(qty)
    )
    return context(intent=order, spec=changes.pop("spec", DOGE), **changes)


def test_a_sized_entry_within_the_budget_is_allowed_with_its_numbers():
    verdict = risk_per_trade.check(context())

    assert verdict.allowed
    assert verdict.reason == (
        "risk if stopped 14.40 USDT incl. fees and slippage (price 14.40 + fees 0.00 + slippage 0.00) is 0.144 % of "
        "equity 10000.00 USDT, within the limit 1.5 %"
    )


def test_quantity_below_the_minimum_is_denied_naming_both_numbers():
    spec = replace(BTC, min_qty=D("0.005"), qty_step=D("0.0001"))

    verdict = risk_per_trade.check(context(intent=intent(qty=D("0.0031")), spec=spec))

    assert not verdict.allowed
    assert verdict.reason == "quantity 0.0031 BTC is below the minimum 0.005 BTC"


def test_quantity_at_the_minimum_is_allowed_and_one_step_below_is_not():
    spec = replace(BTC, min_qty=D("0.005"), qty_step=D("0.0001"))

    assert risk_per_trade.check(context(intent=intent(qty=D("0.005")), spec=spec)).allowed
    assert not risk_per_trade.check(context(intent=intent(qty=D("0.0049")), spec=spec)).allowed


def test_notional_below_the_exchange_minimum_is_denied_naming_both_numbers():
    verdict = risk_per_trade.check(doge("49"))

    assert not verdict.allowed
    assert verdict.reason == "notional 4.90 USDT is below the exchange minimum 5 USDT"


def test_notional_exactly_at_the_minimum_is_allowed():
    assert risk_per_trade.check(doge("50")).allowed


def test_our_floor_applies_where_the_exchange_allows_less():
    verdict = risk_per_trade.check(doge("49", spec=replace(DOGE, min_notional=D(1))))

    assert verdict.reason == "notional 4.90 USDT is below the minimum order notional 5 USDT"


def test_a_given_quantity_may_risk_exactly_the_limit_but_not_one_step_more():
    # stop 1000 away: 0.15 BTC risks 150 USDT = 1.5 % of 10000; 0.151 BTC risks 151 USDT = 1.51 %
    at_limit = context(intent=intent(stop_loss=D(59000), qty=D("0.15")))
    above = context(intent=intent(stop_loss=D(59000), qty=D("0.151")))

    assert risk_per_trade.check(at_limit).allowed
    verdict = risk_per_trade.check(above)
    assert not verdict.allowed
    assert verdict.reason == (
        "risk if stopped 151.00 USDT incl. fees and slippage (price 151.00 + fees 0.00 + slippage 0.00) is 1.51 % of "
        "equity 10000.00 USDT, above the limit 1.5 %"
    )


def test_an_entry_that_cannot_be_sized_is_denied_with_the_sizing_error():
    verdict = risk_per_trade.check(context(intent=intent(stop_loss=None)))

    assert not verdict.allowed
    assert verdict.reason == "no stop-loss given: an entry cannot be sized without one"


def test_a_cap_that_leaves_no_room_is_explained():
    ctx = context(positions=(position(size="0.02", mark="50000"),))  # the BTC long already holds 1000 USDT

    verdict = risk_per_trade.check(ctx)

    assert not verdict.allowed
    assert verdict.reason.startswith("quantity 0 BTC is below the minimum 0.001 BTC (max position notional 1000.00")


def test_a_tiny_budget_is_explained_by_budget_and_stop_distance():
    ctx = context(equity=D(30), limits=RiskLimits())

    verdict = risk_per_trade.check(ctx)

    # 30 * 1.5 % = 0.45 USDT over 900 = 0.0005 BTC -> 0 after rounding to 0.001
    assert verdict.reason == (
        "quantity 0 BTC is below the minimum 0.001 BTC (risk budget 0.45 USDT over a stop distance of 900 plus "
        "round-trip costs of 0.00 per BTC)"
    )


def test_reduce_only_orders_skip_the_rule():
    verdict = risk_per_trade.check(context(intent=intent(reduce_only=True, stop_loss=None)))

    assert verdict.allowed
    assert "skipped" in verdict.reason


def test_a_given_quantity_rounded_down_to_nothing_says_so():
    verdict = risk_per_trade.check(context(intent=intent(qty=D("0.0009"))))

    assert verdict.reason == (
        "quantity 0 BTC is below the minimum 0.001 BTC (0.0009 BTC rounded down to the quantity step)"
    )
