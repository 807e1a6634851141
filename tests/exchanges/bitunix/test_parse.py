from datetime import UTC, datetime
from decimal import Decimal

import pytest

from riskmgr.core.domain import MarginMode, OrderSide, OrderStatus, OrderType, PositionSide
from riskmgr.core.errors import MalformedResponseError, TemporaryError, ValidationError
from riskmgr.exchanges.bitunix import parse as P
from tests.exchanges.bitunix.conftest import reply

POSITIONS = "/api/v1/futures/position/get_pending_positions"
TPSL = "/api/v1/futures/tpsl/get_pending_orders"


def _row(name: str, endpoint: str, index: int = 0, **changes) -> P.Row:
    data = reply(name)["data"]
    raw = (data["orderList"] if isinstance(data, dict) else data)[index]
    return P.Row({**raw, **changes}, endpoint)


# -- symbols ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("unified", "native"), [("BTC/USDT:USDT", "BTCUSDT"), ("1000PEPE/USDT:USDT", "1000PEPEUSDT")])
def test_unified_and_native_symbols_convert_both_ways(unified, native):
    assert P.to_native(unified) == native
    assert P.to_unified(native, TPSL) == unified


@pytest.mark.parametrize("bad", ["BTCUSDT", "BTCUSDT:USDT", "BTC/USDT", "BTC/USD:BTC", "BTC/USDT:BTC", ""])
def test_symbols_that_are_not_unified_usdt_perpetuals_are_refused(bad):
    with pytest.raises(ValidationError) as caught:
        P.to_native(bad)

    assert caught.value.field == "symbol"


def test_a_native_id_without_a_known_quote_is_malformed():
    with pytest.raises(MalformedResponseError, match="BTCUSDC"):
        P.to_unified("BTCUSDC", TPSL)


# -- field validation -------------------------------------------------------------------------------------
def test_missing_field_names_the_endpoint_and_the_field():
    row = P.Row({"symbol": "BTCUSDT"}, POSITIONS, "position")

    with pytest.raises(MalformedResponseError) as caught:
        row.decimal("qty")

    assert POSITIONS in str(caught.value)
    assert "'qty'" in str(caught.value)


def test_non_numeric_field_is_malformed_not_zero():
    with pytest.raises(MalformedResponseError, match="'available'"):
        P.Row({"available": "N/A"}, "/api/v1/futures/account").decimal("available")


def test_boolean_is_not_accepted_as_a_number():
    with pytest.raises(MalformedResponseError):
        P.Row({"qty": True}, POSITIONS).decimal("qty")


def test_numbers_arrive_as_strings_or_json_numbers():
    row = P.Row({"a": "0.1", "b": 3, "c": Decimal("59989.2")}, POSITIONS)

    assert (row.decimal("a"), row.decimal("b"), row.decimal("c")) == (Decimal("0.1"), Decimal(3), Decimal("59989.2"))


# -- balance ----------------------------------------------------------------------------------------------
def test_balance_from_the_documented_list_shape():
    balance = P.parse_balance(reply("account_list")["data"])

    assert balance.available == Decimal(1000)
    assert balance.wallet == Decimal(1010)  # 1000 available + 0 frozen + 10 margin
    assert balance.unrealized_pnl == Decimal(2)
    assert balance.equity == Decimal(1012)
    assert balance.margin_used == Decimal(10)


def test_balance_from_the_observed_object_shape():
    balance = P.parse_balance(reply("account_object")["data"])

    # 1523.4512 + 25.5 + 310.2 = 1859.1512 wallet; unrealized -12.35 + 4.1 = -8.25; bonus 5 left out
    assert balance.wallet == Decimal("1859.1512")
    assert balance.unrealized_pnl == Decimal("-8.25")
    assert balance.equity == Decimal("1850.9012")
    assert balance.margin_used == Decimal("335.7")
    assert balance.currency == "USDT"


def test_balance_with_a_missing_field_is_malformed_not_zero():
    data = dict(reply("account_object")["data"])
    del data["frozen"]

    with pytest.raises(MalformedResponseError, match="'frozen'"):
        P.parse_balance(data)


def test_balance_without_a_usdt_account_is_malformed():
    with pytest.raises(MalformedResponseError, match="exactly one USDT"):
        P.parse_balance([{"marginCoin": "USDC", "available": "1"}])


# -- positions --------------------------------------------------------------------------------------------
def test_documented_position_parses_with_joined_mark_price():
    position = P.parse_position(_row("positions_documented", POSITIONS), Decimal("57892.1"))

    assert position.symbol == "BTC/USDT:USDT"
    assert position.side is PositionSide.LONG
    assert position.size == Decimal("0.5")
    assert position.entry_price == Decimal(60000)
    assert position.mark_price == Decimal("57892.1")
    assert position.leverage == Decimal(100)
    assert position.margin_mode is MarginMode.ISOLATED
    assert position.liquidation_price == Decimal(22209)
    assert position.unrealized_pnl == Decimal("1.5")
    assert position.position_id == "12345678"
    assert position.opened_at == datetime(2023, 8, 7, 4, 22, 17, 448000, tzinfo=UTC)


def test_observed_position_with_sell_side_string_times_and_zero_liquidation_price():
    position = P.parse_position(_row("positions_observed", POSITIONS), Decimal(2000))

    assert position.side is PositionSide.SHORT
    assert position.liquidation_price is None
    assert position.leverage == Decimal(5)
    assert position.margin_mode is MarginMode.CROSS
    assert position.opened_at == datetime(2023, 8, 7, 4, 22, 17, 448000, tzinfo=UTC)


@pytest.mark.parametrize(("side", "expected"), [("LONG", PositionSide.LONG), ("BUY", PositionSide.LONG),
                                                ("SHORT", PositionSide.SHORT), ("SELL", PositionSide.SHORT)])
def test_position_side_accepts_both_spellings(side, expected):
    position = P.parse_position(_row("positions_documented", POSITIONS, side=side), Decimal(1))

    assert position.side is expected


def test_negative_liquidation_price_means_none():
    position = P.parse_position(_row("positions_documented", POSITIONS, liqPrice="-3.5"), Decimal(1))

    assert position.liquidation_price is None


def test_unknown_position_side_is_malformed():
    with pytest.raises(MalformedResponseError, match="'side'"):
        P.parse_position(_row("positions_documented", POSITIONS, side="BOTH"), Decimal(1))


# -- orders -----------------------------------------------------------------------------------------------
def test_pending_limit_order_parses():
    order = P.parse_order(_row("pending_orders", "/api/v1/futures/trade/get_pending_orders"))

    assert (order.id, order.symbol, order.side, order.type) == ("11111", "BTC/USDT:USDT", OrderSide.BUY,
                                                                OrderType.LIMIT)
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert (order.qty, order.filled_qty, order.price) == (Decimal("0.5"), Decimal("0.1"), Decimal("58000.5"))
    assert order.client_id == "rm-abc-1"
    assert order.reduce_only is False


def test_market_order_price_of_market_is_ignored():
    order = P.parse_order(_row("pending_orders", "/x", orderType="MARKET", price="MARKET"))

    assert order.price is None


def test_tpsl_row_with_both_legs_becomes_two_orders():
    orders = P.parse_tpsl_row(_row("tpsl_pending", TPSL), {"12345678": PositionSide.LONG})

    stop, target = orders
    assert (stop.id, stop.type, stop.side) == ("123:sl", OrderType.STOP_MARKET, OrderSide.SELL)
    assert (stop.trigger_price, stop.qty, stop.price) == (Decimal(57000), Decimal("0.5"), None)
    assert stop.is_stop_loss and stop.reduce_only and not stop.close_position
    assert (target.id, target.type, target.trigger_price) == ("123:tp", OrderType.TAKE_PROFIT_MARKET, Decimal(66000))
    assert (target.qty, target.price) == (Decimal("0.2"), Decimal(65990))
    assert target.is_take_profit
    assert stop.position_side is PositionSide.LONG


def test_position_level_tpsl_leg_closes_the_whole_position():
    row = _row("tpsl_pending", TPSL, tpPrice="", tpQty="", slQty="", slOrderType="MARKET")

    [stop] = P.parse_tpsl_row(row, {"12345678": PositionSide.SHORT})

    assert stop.qty is None
    assert stop.close_position and not stop.reduce_only
    assert stop.side is OrderSide.BUY
    assert stop.is_stop_loss
    assert P.is_position_tpsl(row)


def test_tpsl_row_for_a_position_not_open_is_a_temporary_inconsistency():
    with pytest.raises(TemporaryError, match="12345678"):
        P.parse_tpsl_row(_row("tpsl_pending", TPSL), {})


def test_tpsl_row_without_any_leg_is_malformed():
    with pytest.raises(MalformedResponseError, match="neither"):
        P.parse_tpsl_row(_row("tpsl_pending", TPSL, tpPrice=None, slPrice=None), {"12345678": PositionSide.LONG})


def test_tpsl_leg_ids_round_trip():
    assert P.split_tpsl_id(P.tpsl_leg_id("987", "sl")) == ("987", "sl")
    assert P.split_tpsl_id("11111") is None


# -- market data ------------------------------------------------------------------------------------------
def test_market_spec_steps_come_from_the_precisions():
    spec = P.parse_market(_row("trading_pairs", "/api/v1/futures/market/trading_pairs"))

    assert spec.symbol == "BTC/USDT:USDT"
    assert (spec.qty_step, spec.price_tick, spec.min_qty) == (Decimal("0.0001"), Decimal("0.1"), Decimal("0.0001"))
    assert spec.min_notional == Decimal(5)
    assert spec.max_leverage == 125


def test_market_with_zero_base_precision_has_whole_quantities():
    spec = P.parse_market(_row("trading_pairs", "/api/v1/futures/market/trading_pairs", index=1))

    assert (spec.symbol, spec.qty_step, spec.price_tick) == ("1000PEPE/USDT:USDT", Decimal(1), Decimal("1E-7"))


def test_candle_reads_numbers_and_time():
    candle = P.parse_candle(_row("kline", "/api/v1/futures/market/kline", index=1))

    assert candle.ts == datetime(2023, 11, 14, 22, 12, tzinfo=UTC)
    assert (candle.open, candle.high, candle.low, candle.close, candle.volume) == (60000, 60001, 59989.2, 60000, 1)


def test_ticker_uses_mark_and_last_price():
    now = datetime(2024, 1, 1, tzinfo=UTC)

    ticker = P.parse_ticker(_row("tickers", "/api/v1/futures/market/tickers"), now)

    assert (ticker.symbol, ticker.mark, ticker.last) == ("BTC/USDT:USDT", Decimal("57892.1"), Decimal("57891.2"))
    assert ticker.timestamp == now
