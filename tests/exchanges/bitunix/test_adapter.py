from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pytest

from riskmgr.core.domain import MarginMode, OrderRequest, OrderSide, OrderStatus, OrderType, PositionSide
from riskmgr.core.errors import (
    DuplicateClientIdError,
    MalformedResponseError,
    NotFoundError,
    NotSupportedError,
    ValidationError,
)
from riskmgr.exchanges.bitunix.adapter import PartialCancelError
from riskmgr.exchanges.bitunix.auth import sign
from tests.exchanges.bitunix.conftest import API_KEY, BASE, NONCE, NOW, NOW_MS, SECRET, ok, reply, sent_json

V1 = f"{BASE}/api/v1/futures"
ACCOUNT = f"{V1}/account"
POSITIONS = f"{V1}/position/get_pending_positions"
TICKERS = f"{V1}/market/tickers"
PLACE = f"{V1}/trade/place_order"
PENDING = f"{V1}/trade/get_pending_orders"
TPSL_PENDING = f"{V1}/tpsl/get_pending_orders"
TPSL_CANCEL = f"{V1}/tpsl/cancel_order"
CANCEL = f"{V1}/trade/cancel_orders"
CANCEL_ALL = f"{V1}/trade/cancel_all_orders"
KLINE = f"{V1}/market/kline"
BTC = "BTC/USDT:USDT"


def _query(call) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlparse(call.request.url).query).items()}


def _calls_to(api, url: str) -> list:
    return [call for call in api.calls if call.request.url.split("?")[0] == url]


# -- reads ------------------------------------------------------------------------------------------------
def test_adapter_identifies_itself_as_live_bitunix_without_keys(adapter):
    assert (adapter.exchange, adapter.mode, adapter.simulated) == ("bitunix", "live", False)
    assert "bx_secret" not in repr(adapter)


@pytest.mark.parametrize(("fixture", "equity"), [("account_list", Decimal(1012)),
                                                 ("account_object", Decimal("1850.9012"))])
def test_balance_accepts_account_as_list_or_object(api, adapter, fixture, equity):
    api.get(ACCOUNT, json=reply(fixture))

    assert adapter.fetch_balance().equity == equity


def test_failed_read_raises_with_the_account_name_instead_of_a_figure(api, adapter):
    api.get(ACCOUNT, json=ok({"marginCoin": "USDT", "available": "1000"}))

    with pytest.raises(MalformedResponseError) as caught:
        adapter.fetch_balance()

    assert caught.value.account == "main"
    assert "/api/v1/futures/account" in str(caught.value)


def test_positions_take_their_mark_price_from_the_tickers(api, adapter):
    api.get(POSITIONS, json=reply("positions_documented"))
    api.get(TICKERS, json=reply("tickers"))

    [position] = adapter.fetch_positions()

    assert position.mark_price == Decimal("57892.1")
    assert position.symbol == BTC
    assert _query(_calls_to(api, TICKERS)[0]) == {"symbols": "BTCUSDT"}


def test_no_positions_means_no_ticker_call(api, adapter):
    api.get(POSITIONS, json=ok([]))

    assert adapter.fetch_positions() == []
    assert _calls_to(api, TICKERS) == []


def test_position_without_a_ticker_is_malformed_not_priced_at_zero(api, adapter):
    api.get(POSITIONS, json=reply("positions_observed"))
    api.get(TICKERS, json=ok([reply("tickers")["data"][0]]))  # BTC only, position is ETH

    with pytest.raises(MalformedResponseError, match="no markPrice for ETHUSDT"):
        adapter.fetch_positions()


def test_open_orders_include_both_legs_of_a_tpsl_row(api, adapter):
    api.get(PENDING, json=reply("pending_orders"))
    api.get(TPSL_PENDING, json=reply("tpsl_pending"))
    api.get(POSITIONS, json=reply("positions_documented"))

    orders = adapter.fetch_open_orders()

    assert [o.id for o in orders] == ["11111", "123:sl", "123:tp"]
    assert [o.is_protective for o in orders] == [False, True, True]
    assert {o.side for o in orders[1:]} == {OrderSide.SELL}


def test_open_orders_without_tpsl_rows_do_not_read_positions(api, adapter):
    api.get(PENDING, json=reply("pending_orders"))
    api.get(TPSL_PENDING, json=ok([]))

    assert len(adapter.fetch_open_orders()) == 1
    assert _calls_to(api, POSITIONS) == []


def test_markets_keep_only_usdt_pairs(api, adapter):
    pairs = reply("trading_pairs")
    pairs["data"].append(dict(pairs["data"][0], symbol="BTCUSDC", quote="USDC"))
    api.get(f"{V1}/market/trading_pairs", json=pairs)

    markets = adapter.fetch_markets()

    assert sorted(markets) == ["1000PEPE/USDT:USDT", BTC]


def test_tickers_are_keyed_by_unified_symbol_and_stamped_with_the_read_time(api, adapter):
    api.get(TICKERS, json=reply("tickers"))

    tickers = adapter.fetch_tickers()

    assert sorted(tickers) == [BTC, "ETH/USDT:USDT"]
    assert tickers[BTC].timestamp == NOW


def test_candles_are_sorted_by_time_and_trimmed(api, adapter):
    api.get(KLINE, json=reply("kline"))

    candles = adapter.fetch_candles(BTC, "1m", limit=1)

    assert [c.close for c in candles] == [60050.5]  # the newer bar; the reply listed it first


def test_candles_are_fetched_in_windows_of_at_most_200_bars(api, adapter):
    api.get(KLINE, json=reply("kline"))

    candles = adapter.fetch_candles(BTC, "1m", since=NOW - timedelta(minutes=500), limit=450)

    windows = [_query(call) for call in _calls_to(api, KLINE)]
    assert len(windows) == 3
    assert [int(w["startTime"]) for w in windows] == [NOW_MS - 500 * 60_000 + i * 200 * 60_000 for i in range(3)]
    assert all(int(w["endTime"]) - int(w["startTime"]) < 200 * 60_000 for w in windows)
    assert {w["limit"] for w in windows} == {"200"}
    assert [c.ts for c in candles] == sorted(c.ts for c in candles)  # duplicates across windows merged


def test_unsupported_timeframe_is_refused(adapter):
    with pytest.raises(NotSupportedError, match="3m"):
        adapter.fetch_candles(BTC, "3m")


# -- placing orders ---------------------------------------------------------------------------------------
def test_market_order_body_is_exact_compact_json_and_its_signature_matches(api, adapter):
    api.get(ACCOUNT, json=reply("account_object"))  # ONE_WAY
    api.post(PLACE, json=reply("place_order"))
    request = OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, Decimal("0.010"), client_id="rm-7f3a")

    order = adapter.place_order(request)

    sent = _calls_to(api, PLACE)[0].request
    assert sent.body == b'{"symbol":"BTCUSDT","side":"BUY","orderType":"MARKET","qty":"0.01","clientId":"rm-7f3a"}'
    assert sent.headers["sign"] == sign(API_KEY, SECRET, NONCE, NOW_MS, None, sent.body.decode())
    assert (order.id, order.client_id, order.status, order.symbol) == ("11111", "rm-7f3a", OrderStatus.NEW, BTC)


def test_limit_order_in_hedge_mode_opens_with_price_and_attached_stop(api, adapter):
    api.get(ACCOUNT, json=reply("account_list"))  # HEDGE
    api.post(PLACE, json=reply("place_order"))
    request = OrderRequest(BTC, OrderSide.SELL, OrderType.LIMIT, Decimal("0.5"), price=Decimal("61000.0"),
                           stop_loss=Decimal("62000"))

    adapter.place_order(request)

    assert sent_json(_calls_to(api, PLACE)[0]) == {
        "symbol": "BTCUSDT", "side": "SELL", "orderType": "LIMIT", "qty": "0.5", "price": "61000",
        "effect": "GTC", "tradeSide": "OPEN", "slPrice": "62000", "slStopType": "MARK_PRICE", "slOrderType": "MARKET",
    }


def test_reduce_only_order_in_one_way_mode_sends_reduce_only(api, adapter):
    api.get(POSITIONS, json=reply("positions_observed"))  # ETH short, ONE_WAY
    api.post(PLACE, json=reply("place_order"))

    adapter.place_order(OrderRequest("ETH/USDT:USDT", OrderSide.BUY, OrderType.MARKET, Decimal("2.5"),
                                     reduce_only=True))

    assert sent_json(_calls_to(api, PLACE)[0]) == {
        "symbol": "ETHUSDT", "side": "BUY", "orderType": "MARKET", "qty": "2.5", "reduceOnly": True,
    }


def test_reduce_only_sell_in_hedge_mode_closes_the_long_by_position_id(api, adapter):
    api.get(POSITIONS, json=reply("positions_documented"))  # BTC long, HEDGE
    api.post(PLACE, json=reply("place_order"))

    adapter.place_order(OrderRequest(BTC, OrderSide.SELL, OrderType.MARKET, Decimal("0.5"), reduce_only=True))

    # Bitunix hedge mode names the position's direction: closing a long is side=BUY + tradeSide=CLOSE.
    assert sent_json(_calls_to(api, PLACE)[0]) == {
        "symbol": "BTCUSDT", "side": "BUY", "orderType": "MARKET", "qty": "0.5", "tradeSide": "CLOSE",
        "positionId": "12345678",
    }


def test_reduce_only_order_without_a_position_is_not_found_and_not_sent(api, adapter):
    api.get(POSITIONS, json=ok([]))

    with pytest.raises(NotFoundError, match="no open long position"):
        adapter.place_order(OrderRequest(BTC, OrderSide.SELL, OrderType.MARKET, Decimal(1), reduce_only=True))

    assert _calls_to(api, PLACE) == []


def test_duplicate_client_id_is_its_own_error(api, adapter):
    api.get(ACCOUNT, json=reply("account_object"))
    api.post(PLACE, json={"code": 30042, "msg": "Client ID duplicate", "data": None})

    with pytest.raises(DuplicateClientIdError) as caught:
        adapter.place_order(OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, Decimal(1), client_id="rm-1"))

    assert caught.value.account == "main"


def test_leverage_and_margin_mode_are_set_before_the_order(api, adapter):
    api.post(f"{V1}/account/change_leverage", json=ok({"symbol": "BTCUSDT", "leverage": 3}))
    api.post(f"{V1}/account/change_margin_mode", json=ok([{"marginMode": "ISOLATION"}]))
    api.get(ACCOUNT, json=reply("account_object"))
    api.post(PLACE, json=reply("place_order"))

    adapter.place_order(OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, Decimal(1), leverage=3,
                                     margin_mode=MarginMode.ISOLATED))

    assert [c.request.url.rsplit("/", 1)[1].split("?")[0] for c in api.calls] == [
        "change_leverage", "change_margin_mode", "account", "place_order"]
    assert sent_json(api.calls[0]) == {"symbol": "BTCUSDT", "marginCoin": "USDT", "leverage": 3}
    assert sent_json(api.calls[1]) == {"marginMode": "ISOLATION", "symbol": "BTCUSDT", "marginCoin": "USDT"}


@pytest.mark.parametrize(("request_", "field"), [
    (OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, Decimal(0)), "qty"),
    (OrderRequest(BTC, OrderSide.BUY, OrderType.LIMIT, Decimal(1)), "price"),
    (OrderRequest(BTC, OrderSide.BUY, OrderType.STOP_MARKET, Decimal(1)), "type"),
    (OrderRequest("BTCUSDT", OrderSide.BUY, OrderType.MARKET, Decimal(1)), "symbol"),
])
def test_malformed_order_requests_are_refused_naming_the_field(adapter, request_, field):
    with pytest.raises(ValidationError) as caught:
        adapter.place_order(request_)

    assert caught.value.field == field


# -- protection -------------------------------------------------------------------------------------------
def test_position_stop_loss_looks_up_the_position_id(api, adapter):
    api.get(POSITIONS, json=reply("positions_documented"))
    api.get(TPSL_PENDING, json=ok([]))
    api.post(f"{V1}/tpsl/position/place_order", json=ok({"orderId": "555"}))

    [stop] = adapter.place_position_protection(BTC, PositionSide.LONG, stop_loss=Decimal("57000.0"))

    assert sent_json(_calls_to(api, f"{V1}/tpsl/position/place_order")[0]) == {
        "symbol": "BTCUSDT", "positionId": "12345678", "slPrice": "57000", "slStopType": "MARK_PRICE"}
    assert (stop.id, stop.type, stop.side, stop.qty) == ("555:sl", OrderType.STOP_MARKET, OrderSide.SELL, None)
    assert stop.close_position and stop.is_stop_loss
    assert stop.trigger_price == Decimal(57000)


def test_existing_position_tpsl_is_modified_keeping_the_other_leg(api, adapter):
    existing = {"id": "900", "positionId": "12345678", "symbol": "BTCUSDT", "tpPrice": "66000",
                "tpStopType": "LAST_PRICE", "slPrice": None, "tpQty": None, "slQty": None}
    api.get(POSITIONS, json=reply("positions_documented"))
    api.get(TPSL_PENDING, json=ok([existing]))
    api.post(f"{V1}/tpsl/position/modify_order", json=ok({"orderId": "900"}))

    [stop] = adapter.place_position_protection(BTC, PositionSide.LONG, stop_loss=Decimal(57000))

    assert sent_json(_calls_to(api, f"{V1}/tpsl/position/modify_order")[0]) == {
        "symbol": "BTCUSDT", "positionId": "12345678", "slPrice": "57000", "slStopType": "MARK_PRICE",
        "tpPrice": "66000", "tpStopType": "LAST_PRICE"}
    assert stop.id == "900:sl"


def test_protection_for_a_missing_position_is_not_found(api, adapter):
    api.get(POSITIONS, json=reply("positions_documented"))  # long only

    with pytest.raises(NotFoundError, match="short"):
        adapter.place_position_protection(BTC, PositionSide.SHORT, stop_loss=Decimal(70000))


def test_protection_needs_a_price(adapter):
    with pytest.raises(ValidationError):
        adapter.place_position_protection(BTC, PositionSide.LONG)


# -- cancelling and closing -------------------------------------------------------------------------------
def test_cancelling_a_plain_order_that_the_exchange_refuses_raises(api, adapter):
    failure = {"successList": [], "failureList": [
        {"orderId": "22222", "clientId": "", "errorMsg": "Order status error", "errorCode": 10013}]}
    api.post(CANCEL, json=ok(failure))

    with pytest.raises(NotFoundError, match="22222"):
        adapter.cancel_order(BTC, "22222")

    assert sent_json(api.calls[0]) == {"symbol": "BTCUSDT", "orderList": [{"orderId": "22222"}]}


def test_cancelling_a_tpsl_leg_cancels_its_bitunix_row(api, adapter):
    api.post(TPSL_CANCEL, json=ok({"orderId": "123"}))

    adapter.cancel_order(BTC, "123:sl")

    assert sent_json(api.calls[0]) == {"symbol": "BTCUSDT", "orderId": "123"}


def test_cancel_all_with_protective_cancels_plain_and_tpsl_orders(api, adapter):
    api.post(CANCEL_ALL, json=ok({"successList": [{"orderId": "11111", "clientId": "c1"}], "failureList": []}))
    api.get(TPSL_PENDING, json=reply("tpsl_pending"))
    api.post(TPSL_CANCEL, json=ok({"orderId": "123"}))

    cancelled = adapter.cancel_all_orders()

    assert cancelled == ["11111", "123:sl", "123:tp"]
    assert sent_json(_calls_to(api, CANCEL_ALL)[0]) == {}


def test_cancel_all_keeping_protective_orders_never_touches_tpsl(api, adapter):
    api.get(PENDING, json=reply("pending_orders"))
    api.post(CANCEL, json=ok({"successList": [{"orderId": "11111"}], "failureList": []}))

    cancelled = adapter.cancel_all_orders(BTC, include_protective=False)

    assert cancelled == ["11111"]
    assert _calls_to(api, CANCEL_ALL) == [] and _calls_to(api, TPSL_CANCEL) == []
    assert _query(_calls_to(api, PENDING)[0])["symbol"] == "BTCUSDT"


def test_cancel_all_reports_which_ids_survived_and_why(api, adapter):
    api.post(CANCEL_ALL, json=reply("cancel_with_failure"))
    api.get(TPSL_PENDING, json=reply("tpsl_pending"))
    api.post(TPSL_CANCEL, json={"code": 10006, "msg": "Requests too frequent", "data": None})

    with pytest.raises(PartialCancelError) as caught:
        adapter.cancel_all_orders()

    assert caught.value.cancelled == ["11111"]
    assert [oid for oid, _exc in caught.value.failures] == ["22222", "123"]
    assert "Order status error" in str(caught.value)
    assert caught.value.account == "main"


def test_close_position_flash_closes_by_position_id(api, adapter):
    api.get(POSITIONS, json=reply("positions_documented"))
    api.post(f"{V1}/trade/flash_close_position", json=ok({"positionId": "12345678"}))

    order = adapter.close_position(BTC, PositionSide.LONG)

    assert sent_json(_calls_to(api, f"{V1}/trade/flash_close_position")[0]) == {"positionId": "12345678"}
    assert (order.side, order.qty, order.type) == (OrderSide.SELL, Decimal("0.5"), OrderType.MARKET)
    assert order.id == "flash_close:12345678"
    assert order.reduce_only and order.close_position


def test_close_all_positions_closes_every_symbol_and_returns_one_order_per_position(api, adapter):
    api.get(POSITIONS, json=reply("positions_observed"))
    api.post(f"{V1}/trade/close_all_position", json=ok(""))

    [order] = adapter.close_all_positions()

    assert _calls_to(api, f"{V1}/trade/close_all_position")[0].request.body == b"{}"
    assert (order.id, order.symbol, order.side, order.qty) == ("close_all:87654321", "ETH/USDT:USDT", OrderSide.BUY,
                                                               Decimal("2.5"))


def test_close_all_positions_when_flat_sends_nothing(api, adapter):
    api.get(POSITIONS, json=ok([]))

    assert adapter.close_all_positions(BTC) == []
    assert _calls_to(api, f"{V1}/trade/close_all_position") == []


def test_set_leverage_refuses_nonsense(adapter):
    with pytest.raises(ValidationError, match="leverage"):
        adapter.set_leverage(BTC, 0)
