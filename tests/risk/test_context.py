from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from riskmgr.core.domain import PositionSide, Verdict
from riskmgr.core.errors import ValidationError
from riskmgr.risk.config import RiskLimits
from riskmgr.risk.context import OrderIntent
from tests.risk.builders import BTC, NOW, context, intent, position

D = Decimal


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"symbol": ""}, "symbol"),
        ({"side": "up"}, "side"),
        ({"entry_price": D(0)}, "entry_price"),
        ({"entry_price": 60000.0}, "entry_price"),
        ({"stop_loss": D(-1)}, "stop_loss"),
        ({"take_profit": D("NaN")}, "take_profit"),
        ({"qty": D(0)}, "qty"),
        ({"leverage": 0}, "leverage"),
        ({"leverage": True}, "leverage"),
    ],
)
def test_an_order_intent_with_a_malformed_field_is_refused_by_name(changes, field):
    with pytest.raises(ValidationError) as caught:
        intent(**changes)

    assert caught.value.field == field


def test_an_intent_without_qty_is_sized_from_the_risk_budget():
    ctx = context()

    assert ctx.sizing is not None
    assert ctx.sizing.sized is True
    assert ctx.sizing.qty == D("0.016")
    assert ctx.sizing_error is None


def test_an_intent_with_qty_is_assessed_as_given():
    ctx = context(intent=intent(qty=D("0.01")))

    assert ctx.sizing is not None
    assert ctx.sizing.sized is False
    assert ctx.sizing.qty == D("0.01")


def test_sizing_counts_the_position_being_added_to():
    ctx = context(positions=(position(size="0.01", mark="40000"),))  # 400 USDT already in the BTC long

    assert ctx.sizing is not None
    assert ctx.sizing.qty == D("0.01")


def test_an_entry_without_a_stop_is_not_sized_and_says_why():
    ctx = context(intent=intent(stop_loss=None))

    assert ctx.sizing is None
    assert ctx.sizing_error == "no stop-loss given: an entry cannot be sized without one"


def test_a_sizing_failure_becomes_the_sizing_error():
    ctx = context(intent=intent(stop_loss=D(60100)))

    assert ctx.sizing is None
    assert ctx.sizing_error is not None
    assert ctx.sizing_error.startswith("cannot size the order: stop_loss stop 60100 must be below the entry 60000")


def test_an_unknown_maintenance_rate_leaves_the_entry_unsized_and_says_why():
    ctx = context(spec=replace(BTC, maintenance_margin_rate=None))

    assert ctx.sizing is None
    assert ctx.sizing_error == (
        "cannot size the order: maintenance_margin_rate is unknown for BTC/USDT:USDT: "
        "the liquidation price cannot be estimated"
    )


def test_a_reduce_only_intent_is_never_sized_and_skips_new_risk_rules():
    ctx = context(intent=intent(reduce_only=True, stop_loss=None))

    assert (ctx.sizing, ctx.sizing_error) == (None, None)
    assert ctx.skip_reduce_only("x") == Verdict.allow("x", "reduce-only order: new-risk rule skipped")
    assert context().skip_reduce_only("x") is None


def test_data_age_is_now_minus_the_last_good_read_or_none():
    assert context().data_age == timedelta(seconds=2)
    assert context(fetched_at=None).data_age is None


def test_same_position_matches_symbol_and_side_only():
    long_btc = position()
    short_btc = position(side=PositionSide.SHORT)
    eth = position(symbol="ETH/USDT:USDT", entry="2000")

    assert context(positions=(short_btc, eth, long_btc)).same_position is long_btc
    assert context(positions=(short_btc, eth)).same_position is None


def test_open_notional_sums_every_position_at_mark():
    ctx = context(
        positions=(position(size="0.01", mark="50000"), position(symbol="ETH/USDT:USDT", size="2", entry="2000"))
    )

    assert ctx.open_notional == D(4500)


def test_min_notional_is_the_exchange_minimum_but_never_below_the_floor():
    assert context().min_notional == D(5)
    assert context(limits=RiskLimits().with_changes(min_notional_floor="20")).min_notional == D(20)


def test_a_context_needs_an_aware_now_and_a_matching_market():
    with pytest.raises(ValidationError) as caught:
        context(now=datetime(2024, 3, 10, 12, 0))
    assert caught.value.field == "now"

    with pytest.raises(ValidationError) as caught:
        context(intent=OrderIntent("ETH/USDT:USDT", PositionSide.LONG, D(2000), D(1970)), spec=BTC)
    assert caught.value.field == "symbol"


def test_the_context_keeps_now_and_limits_it_was_built_with():
    ctx = context()

    assert ctx.now == NOW
    assert ctx.limits == RiskLimits()
