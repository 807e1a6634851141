import re
from decimal import Decimal

import pytest

from riskmgr.core.domain import MarginMode, OrderRequest, OrderSide, OrderStatus, OrderType, PositionSide
from riskmgr.core.errors import DuplicateClientIdError, InsufficientFundsError, InvalidOrderError, NotFoundError
from tests.exchanges.conftest import BTC, ETH

D = Decimal


def market_order(side: OrderSide, qty: str, **extra) -> OrderRequest:
    return OrderRequest(BTC, side, OrderType.MARKET, D(qty), **extra)


def limit_order(side: OrderSide, qty: str, price: str, **extra) -> OrderRequest:
    return OrderRequest(BTC, side, OrderType.LIMIT, D(qty), price=D(price), **extra)


def rejected(paper, request: OrderRequest, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=re.escape(message)) as caught:
        paper.place_order(request)
    assert (caught.value.account, caught.value.operation) == ("paper", "place_order")
    assert paper.fills() == []


# -- contract specs --------------------------------------------------------------------------------------


def test_qty_below_the_minimum_is_refused(paper):
    rejected(paper, market_order(OrderSide.BUY, "0.001"), InvalidOrderError,
             "qty 0.001 is below the minimum qty 0.002 for BTC/USDT:USDT")


def test_qty_off_the_step_is_refused(paper):
    rejected(paper, market_order(OrderSide.BUY, "0.0025"), InvalidOrderError,
             "qty 0.0025 is not a multiple of the qty step 0.001 for BTC/USDT:USDT")


def test_notional_below_the_minimum_is_refused(paper):
    rejected(paper, market_order(OrderSide.BUY, "0.002"), InvalidOrderError,
             "notional 100 USDT (qty 0.002 x price 50000) is below the minimum notional 150 USDT for BTC/USDT:USDT")


def test_price_off_the_tick_is_refused(paper):
    rejected(paper, limit_order(OrderSide.BUY, "0.1", "49999.95"), InvalidOrderError,
             "price 49999.95 is not a multiple of the price tick 0.1 for BTC/USDT:USDT")


def test_limit_without_a_price_is_refused(paper):
    rejected(paper, OrderRequest(BTC, OrderSide.BUY, OrderType.LIMIT, D("0.1")), InvalidOrderError,
             "a limit order on BTC/USDT:USDT needs a price")


def test_zero_qty_is_refused(paper):
    rejected(paper, market_order(OrderSide.BUY, "0"), InvalidOrderError, "qty 0 must be a number > 0")


def test_unknown_symbol_is_refused(paper):
    rejected(paper, OrderRequest("DOGE/USDT:USDT", OrderSide.BUY, OrderType.MARKET, D(1)), InvalidOrderError,
             "unknown symbol 'DOGE/USDT:USDT'")


def test_trigger_types_are_refused_by_place_order(paper):
    rejected(paper, OrderRequest(BTC, OrderSide.SELL, OrderType.STOP_MARKET, D("0.1")), InvalidOrderError,
             "use place_position_protection")


# -- funds, client ids -------------------------------------------------------------------------------------


def test_initial_margin_plus_fee_beyond_available_is_refused(paper):
    # 0.2 * 50000 at 1x = 10000 margin, fee 5: 10005 > 10000
    rejected(paper, market_order(OrderSide.BUY, "0.2"), InsufficientFundsError,
             "order on BTC/USDT:USDT needs 10005 USDT (initial margin 10000 + fee 5) but only 10000 USDT is available")


def test_higher_leverage_needs_less_margin(paper):
    paper.set_leverage(BTC, 10)

    paper.place_order(market_order(OrderSide.BUY, "0.2"))

    assert paper.fetch_balance().margin_used == D(1000)


def test_a_reused_client_id_is_refused(paper):
    first = paper.place_order(market_order(OrderSide.BUY, "0.01", client_id="abc"))

    with pytest.raises(DuplicateClientIdError, match=f"client id 'abc' is already used by order {first.id}"):
        paper.place_order(market_order(OrderSide.BUY, "0.01", client_id="abc"))
    assert len(paper.fills()) == 1


# -- reduce-only -------------------------------------------------------------------------------------------


def test_reduce_only_without_a_position_is_refused(paper):
    rejected(paper, market_order(OrderSide.SELL, "0.1", reduce_only=True), InvalidOrderError,
             "reduce-only sell on BTC/USDT:USDT: there is no position to reduce")


def test_reduce_only_that_would_increase_the_position_is_refused(paper):
    paper.place_order(market_order(OrderSide.BUY, "0.1"))

    with pytest.raises(InvalidOrderError, match="reduce-only buy on BTC/USDT:USDT would increase the long position"):
        paper.place_order(market_order(OrderSide.BUY, "0.1", reduce_only=True))


def test_reduce_only_larger_than_the_position_is_clipped_and_never_flips(paper):
    paper.place_order(market_order(OrderSide.BUY, "0.1"))

    order = paper.place_order(market_order(OrderSide.SELL, "0.3", reduce_only=True))

    assert (order.qty, order.filled_qty, order.status) == (D("0.1"), D("0.1"), OrderStatus.FILLED)
    assert paper.fetch_positions() == []


def test_reduce_only_may_leave_less_than_the_minimum(paper):
    paper.place_order(market_order(OrderSide.BUY, "0.1"))

    paper.place_order(market_order(OrderSide.SELL, "0.099", reduce_only=True))

    assert paper.fetch_positions()[0].size == D("0.001")


# -- leverage and margin mode ---------------------------------------------------------------------------------


@pytest.mark.parametrize("leverage", [0, 101])
def test_leverage_outside_one_to_the_maximum_is_refused(paper, leverage):
    message = f"leverage {leverage} is out of range for BTC/USDT:USDT; allowed 1–100"
    with pytest.raises(InvalidOrderError, match=message):
        paper.set_leverage(BTC, leverage)


def test_leverage_cannot_change_under_an_open_position(paper):
    paper.set_leverage(BTC, 10)
    paper.place_order(market_order(OrderSide.BUY, "0.1"))

    with pytest.raises(InvalidOrderError, match="from 10x to 20x while a position is open"):
        paper.set_leverage(BTC, 20)
    paper.set_leverage(BTC, 10)  # unchanged is fine


def test_margin_mode_cannot_change_under_an_open_position(paper):
    paper.place_order(market_order(OrderSide.BUY, "0.1"))

    with pytest.raises(InvalidOrderError, match="from isolated to cross while a position or an order is open"):
        paper.set_margin_mode(BTC, MarginMode.CROSS)


def test_order_request_can_set_leverage_and_margin_mode(paper):
    paper.place_order(market_order(OrderSide.BUY, "0.1", leverage=20, margin_mode=MarginMode.CROSS))

    [position] = paper.fetch_positions()
    assert (position.leverage, position.margin_mode, position.margin) == (D(20), MarginMode.CROSS, D(250))


# -- limit orders ---------------------------------------------------------------------------------------------


def test_limit_below_the_price_rests_and_holds_margin_and_fee(paper):
    paper.set_leverage(BTC, 10)

    order = paper.place_order(limit_order(OrderSide.BUY, "0.1", "49000", client_id="lim"))

    # held: 4900 / 10 = 490 margin + 0.1 * 49000 * 0.0005 = 2.45 fee
    assert (order.status, order.price, order.client_id) == (OrderStatus.NEW, D(49000), "lim")
    assert paper.fetch_open_orders() == [order]
    balance = paper.fetch_balance()
    assert (balance.margin_used, balance.available) == (D("492.45"), D("9507.55"))


def test_marketable_limit_fills_at_once_as_taker(paper):
    order = paper.place_order(limit_order(OrderSide.BUY, "0.1", "51000"))

    assert (order.status, order.avg_fill_price, order.fee) == (OrderStatus.FILLED, D(50000), D("2.5"))
    assert paper.fills()[0].maker is False


def test_cancelled_limit_releases_its_margin(paper):
    order = paper.place_order(limit_order(OrderSide.BUY, "0.1", "49000"))

    paper.cancel_order(BTC, order.id)

    assert paper.fetch_open_orders() == []
    assert paper.fetch_balance().available == D(10000)


def test_cancelling_an_unknown_order_is_not_found(paper):
    with pytest.raises(NotFoundError, match="there is no open order '999' on BTC/USDT:USDT"):
        paper.cancel_order(BTC, "999")


# -- position protection ----------------------------------------------------------------------------------------


def test_protection_rests_as_close_position_triggers(paper):
    paper.place_order(market_order(OrderSide.BUY, "0.1"))

    stop, target = paper.place_position_protection(
        BTC, PositionSide.LONG, stop_loss=D(49000), take_profit=D(52000), client_id="p1"
    )

    assert (stop.type, stop.trigger_price, stop.side) == (OrderType.STOP_MARKET, D(49000), OrderSide.SELL)
    assert stop.qty is None
    assert (stop.close_position, stop.is_stop_loss, stop.client_id) == (True, True, "p1-sl")
    assert (target.type, target.is_take_profit, target.client_id) == (OrderType.TAKE_PROFIT_MARKET, True, "p1-tp")
    assert paper.fetch_open_orders() == [stop, target]


def test_protection_without_a_position_is_not_found(paper):
    with pytest.raises(NotFoundError, match="there is no long position on BTC/USDT:USDT to protect"):
        paper.place_position_protection(BTC, PositionSide.LONG, stop_loss=D(49000))


def test_stop_on_the_wrong_side_of_the_mark_is_refused(paper):
    paper.place_order(market_order(OrderSide.BUY, "0.1"))

    with pytest.raises(InvalidOrderError, match="stop-loss 50500 for a long on BTC/USDT:USDT must be below the mark"):
        paper.place_position_protection(BTC, PositionSide.LONG, stop_loss=D(50500))


def test_a_second_stop_for_one_position_is_refused(paper):
    paper.place_order(market_order(OrderSide.BUY, "0.1"))
    paper.place_position_protection(BTC, PositionSide.LONG, stop_loss=D(49000))

    with pytest.raises(InvalidOrderError, match="already has a stop_market trigger"):
        paper.place_position_protection(BTC, PositionSide.LONG, stop_loss=D(48000))


def test_stop_and_target_attached_to_an_entry_are_placed_with_the_fill(paper):
    paper.place_order(market_order(OrderSide.SELL, "0.1", stop_loss=D(51000), take_profit=D(48000), client_id="e"))

    orders = paper.fetch_open_orders()

    assert [(o.type, o.trigger_price, o.client_id) for o in orders] == [
        (OrderType.STOP_MARKET, D(51000), "e-sl"), (OrderType.TAKE_PROFIT_MARKET, D(48000), "e-tp")
    ]


def test_attached_stop_on_the_wrong_side_of_the_entry_is_refused(paper):
    rejected(paper, market_order(OrderSide.BUY, "0.1", stop_loss=D(50000)), InvalidOrderError,
             "stop-loss 50000 for a long on BTC/USDT:USDT must be below the entry price 50000")


def test_closing_a_position_cancels_its_triggers(paper):
    paper.place_order(market_order(OrderSide.BUY, "0.1"))
    paper.place_position_protection(BTC, PositionSide.LONG, stop_loss=D(49000), take_profit=D(52000))

    paper.close_position(BTC, PositionSide.LONG)

    assert paper.fetch_open_orders() == []


def test_closing_a_missing_position_is_not_found(paper):
    with pytest.raises(NotFoundError, match="there is no short position on BTC/USDT:USDT to close"):
        paper.close_position(BTC, PositionSide.SHORT)


def test_cancel_all_can_keep_the_protective_orders(paper):
    paper.place_order(market_order(OrderSide.BUY, "0.1"))
    [stop] = paper.place_position_protection(BTC, PositionSide.LONG, stop_loss=D(49000))
    entry = paper.place_order(limit_order(OrderSide.BUY, "0.01", "48000"))
    other = paper.place_order(OrderRequest(ETH, OrderSide.BUY, OrderType.LIMIT, D("0.1"), price=D(2900)))

    assert paper.cancel_all_orders(BTC, include_protective=False) == [entry.id]
    assert paper.fetch_open_orders() == [stop, other]
    assert sorted(paper.cancel_all_orders()) == sorted([stop.id, other.id])
