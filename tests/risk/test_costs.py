"""True risk: fees and slippage in the loss at the stop, a minimum stop distance, and adds judged as one position."""

from __future__ import annotations

from decimal import Decimal

import pytest

from riskmgr.core.domain import PositionSide
from riskmgr.core.errors import MalformedResponseError, ValidationError
from riskmgr.risk.config import RiskLimits
from riskmgr.risk.costs import ESTIMATE_FEE_SOURCE, ESTIMATE_SLIPPAGE_SOURCE, TradingCosts, trading_costs
from riskmgr.risk.rules import min_stop_distance, risk_per_trade
from riskmgr.risk.sizing import SizingInput, assess_position, size_position
from tests.fakes import ReadOnlyFake
from tests.risk.builders import BTC, NO_COSTS, PAPER_COSTS, context, intent, position

D = Decimal
LONG, SHORT = PositionSide.LONG, PositionSide.SHORT
ROOMY = RiskLimits().with_changes(max_position_notional="100000")


def order(**changes) -> SizingInput:
    fields = {"side": LONG, "entry_price": D(60000), "stop_loss": D(59100), "take_profit": D(62250), "leverage": 5,
              "equity": D(10000), "costs": PAPER_COSTS}
    fields.update(changes)
    return SizingInput(**fields)


# -- the cost arithmetic --------------------------------------------------------------------------------------
def test_round_trip_costs_per_unit_follow_the_hand_computation():
    # entry 50000, stop 49250: slippage 99250 * 0.0002 + 2 ticks of 0.1 = 20.05; fees (99250 + 20.05) * 0.0005
    # = 49.635025; the loss per BTC at the stop is 750 + 69.685025 = 819.685025
    assert PAPER_COSTS.slippage_per_unit(D(50000), D(49250)) == D("20.05")
    assert PAPER_COSTS.fees_per_unit(D(50000), D(49250)) == D("49.635025")
    assert PAPER_COSTS.round_trip_per_unit(D(50000), D(49250)) == D("69.685025")
    assert PAPER_COSTS.loss_per_unit(D(50000), D(49250)) == D("819.685025")


def test_without_slippage_no_tick_rounding_is_counted():
    costs = TradingCosts(D("0.001"), D(0), "test", "test", D("0.1"))

    assert (costs.slippage_per_unit(D(100), D(99)), costs.fees_per_unit(D(100), D(99))) == (D(0), D("0.199"))


def test_costs_refuse_a_negative_rate_naming_it():
    with pytest.raises(ValidationError) as caught:
        TradingCosts(D("-0.0005"), D(0), "test", "test")

    assert caught.value.field == "taker_fee_rate"


def test_a_venue_that_does_not_know_its_costs_gets_the_limits_estimates_labelled_as_such():
    limits = RiskLimits().with_changes(taker_fee_estimate_pct="0.07", slippage_estimate_pct="0.1")

    costs = trading_costs(ReadOnlyFake("live"), BTC, limits)

    assert (costs.taker_fee_rate, costs.slippage_rate) == (D("0.0007"), D("0.001"))
    assert (costs.fee_source, costs.slippage_source) == (ESTIMATE_FEE_SOURCE, ESTIMATE_SLIPPAGE_SOURCE)
    assert "estimate RISK_TAKER_FEE_ESTIMATE_PCT" in costs.source


def test_a_venue_taker_fee_that_is_not_a_rate_is_an_error_never_the_estimate():
    class Broken(ReadOnlyFake):
        def taker_fee_rate(self, symbol: str) -> Decimal | None:
            return D("1.5")

    with pytest.raises(MalformedResponseError, match="taker fee"):
        trading_costs(Broken("live"), BTC, RiskLimits())


# -- sizing: the budget pays for the costs --------------------------------------------------------------------
def test_sized_at_the_budget_the_loss_at_the_stop_including_costs_stays_within_it():
    result = size_position(order(), BTC, ROOMY)

    # per BTC: 900 + slippage 119100 * 0.0002 + 0.2 = 24.02 + fees 119124.02 * 0.0005 = 59.56201 -> 983.58201;
    # 150 / 983.58201 = 0.1525 -> 0.152 BTC, losing 149.50446552 if stopped
    assert result.qty == D("0.152")
    assert (result.price_risk_usdt, result.fees_usdt, result.slippage_usdt) == (
        D("136.8"), D("9.05342552"), D("3.65104"))
    assert result.risk_usdt == D("149.50446552") <= result.risk_budget == D(150)
    assert (result.stop_distance, result.round_trip_per_unit) == (D(900), D("83.58201"))
    assert "paper venue setting" in result.costs_source


def test_without_costs_the_same_order_would_have_lost_more_than_the_budget():
    naive = size_position(order(costs=NO_COSTS), BTC, ROOMY)  # 150 / 900 = 0.166 BTC

    stopped = PAPER_COSTS.loss_per_unit(D(60000), D(59100)) * naive.qty

    assert naive.qty == D("0.166") and stopped == D("163.27461366") > D(150)


def test_a_stop_a_twentieth_of_a_percent_away_shows_its_true_risk_and_is_denied_as_too_close():
    ctx = context(intent=intent(stop_loss=D(59970), take_profit=D(60558)), costs=PAPER_COSTS)

    verdict = min_stop_distance.check(ctx)

    # capped at 1000 USDT: 0.016 BTC, which loses 0.016 * (30 + 84.191097) = 1.827057552 USDT, not 0.48
    assert (ctx.sizing.qty, ctx.sizing.risk_usdt) == (D("0.016"), D("1.827057552"))
    assert not verdict.allowed
    assert verdict.reason == (
        "stop distance 30 (0.05 % of entry) against round-trip costs of 84.19 per BTC (fees 59.997 + "
        "slippage 24.19; taker fee 0.05 % (paper venue setting), slippage 0.02 % per fill (paper venue setting)) "
        "is below the minimum 3 x costs = 252.57 (0.421 % of entry)"
    )


def test_a_stop_just_beyond_the_minimum_distance_is_allowed_and_just_inside_it_is_not():
    costs = TradingCosts(D("0.001"), D(0), "test", "test")
    # at 100: a stop at 99.4 is 0.6 away, costs (199.4 * 0.001) * 3 = 0.5982; at 99.41 it is 0.59 < 0.59823
    outside = context(intent=intent(entry_price=D(100), stop_loss=D("99.4"), take_profit=D(102)), costs=costs)
    inside = context(intent=intent(entry_price=D(100), stop_loss=D("99.41"), take_profit=D(102)), costs=costs)

    assert min_stop_distance.check(outside).allowed
    assert not min_stop_distance.check(inside).allowed


def test_the_minimum_is_a_limit_the_operator_can_change():
    ctx = context(intent=intent(stop_loss=D(59970), take_profit=D(60558)), costs=PAPER_COSTS,
                  limits=RiskLimits().with_changes(min_stop_cost_multiple="1"))

    # 30 is still below 1 x 84.191097
    assert "below the minimum 1 x costs = 84.19" in min_stop_distance.check(ctx).reason
    assert RiskLimits.from_env({"RISK_MIN_STOP_COST_MULTIPLE": "5"}).min_stop_cost_multiple == D(5)
    with pytest.raises(ValidationError):
        RiskLimits().with_changes(min_stop_cost_multiple="0.5")


def test_min_stop_distance_skips_reduce_only_orders():
    verdict = min_stop_distance.check(context(intent=intent(reduce_only=True, stop_loss=None), costs=PAPER_COSTS))

    assert verdict.allowed and "skipped" in verdict.reason


# -- adds: one stop covers the whole position -----------------------------------------------------------------
def test_sizing_an_add_leaves_only_what_the_budget_has_after_the_open_position_at_the_new_stop():
    ctx = context(positions=(position(size="0.1"),), limits=ROOMY)

    s = ctx.sizing
    # the open 0.1 BTC from 60000 loses 90 at 59100; 60 is left: 60 / 900 = 0.0666 -> 0.066 BTC new
    assert (s.qty, s.existing_qty, s.existing_risk_usdt) == (D("0.066"), D("0.1"), D(90))
    assert s.risk_usdt == D("149.4")  # 0.166 BTC in all, under one stop
    assert "the whole position after the add: 0.1 BTC open + 0.066 BTC new" in risk_per_trade.check(ctx).reason


def test_an_add_whose_open_position_alone_uses_the_budget_sizes_nothing_and_says_why():
    ctx = context(positions=(position(size="0.2"),), limits=ROOMY)

    verdict = risk_per_trade.check(ctx)

    assert ctx.sizing.qty == 0 and not verdict.allowed
    assert "risk budget 150.00 USDT less 180.00 USDT the open 0.2 BTC lose at the new stop" in verdict.reason


def test_assessing_a_given_add_judges_the_whole_positions_risk():
    ctx = context(positions=(position(size="0.1"),), intent=intent(qty=D("0.1")), limits=ROOMY)

    verdict = risk_per_trade.check(ctx)

    # 0.1 open + 0.1 new, both 900 from the stop: 180 USDT = 1.8 % of 10000
    assert ctx.sizing.risk_usdt == D(180) and not verdict.allowed
    assert "1.80 % of equity 10000.00 USDT, above the limit 1.5 %" in verdict.reason


def test_an_add_counts_the_open_position_from_the_mark_when_that_loses_more_than_from_its_entry():
    # the open long from 58000 is at 61000; a stop at 60000 gives back 1000 per BTC of equity, not a 2000 gain
    held = position(size="0.1", entry="58000", mark="61000")

    s = assess_position(order(entry_price=D(61000), stop_loss=D(60000), existing=(held,), costs=NO_COSTS),
                        D("0.01"), BTC, ROOMY)

    assert (s.existing_risk_usdt, s.risk_usdt) == (D(100), D(110))


def test_an_add_to_a_short_counts_its_costs_too():
    held = position(side=SHORT, size="0.1", entry="60000")

    s = assess_position(order(side=SHORT, stop_loss=D(60900), take_profit=D(57750), existing=(held,)),
                        D("0.01"), BTC, ROOMY)

    # per BTC from 60000 to 60900: 900 + slippage 120900 * 0.0002 + 0.2 = 24.38 + fees 120924.38 * 0.0005
    # = 60.46219 -> 984.84219; 0.11 BTC in all
    assert s.existing_qty == D("0.1") and s.risk_usdt == D("108.3326409")
