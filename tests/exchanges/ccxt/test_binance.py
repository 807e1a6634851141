from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import responses

from riskmgr.core.domain import MarginMode, OrderRequest, OrderSide, OrderStatus, OrderType, PositionSide
from riskmgr.core.errors import (
    AuthError,
    DuplicateClientIdError,
    InsufficientFundsError,
    InvalidOrderError,
    MalformedResponseError,
    NotFoundError,
    NotSupportedError,
    RateLimitError,
    TemporaryError,
)
from riskmgr.exchanges.ccxt.binance import BinanceUsdmAdapter
from tests.exchanges.ccxt.helpers import (
    BINANCE,
    KEY,
    SECRET,
    binance,
    binance_listing_routes,
    calls_to,
    form,
    query,
    route,
)

BTC, DOGE = "BTC/USDT:USDT", "DOGE/USDT:USDT"
V1 = f"{BINANCE}/fapi/v1"


def _by_id(orders):
    return {o.id: o for o in orders}


# -- markets ---------------------------------------------------------------------------------------------
def test_load_markets_is_the_one_exchange_info_call(http):
    route(http, "GET", f"{V1}/exchangeInfo", binance("exchange_info"))
    adapter = BinanceUsdmAdapter("fresh", KEY, SECRET)

    adapter.load_markets()

    assert [c.request.url for c in http.calls] == [f"{V1}/exchangeInfo"]
    assert adapter.client.market(BTC)["id"] == "BTCUSDT"


def test_fetch_markets_takes_limits_from_filters_and_leverage_from_brackets(http, binance_adapter):
    route(http, "GET", f"{V1}/leverageBracket", binance("leverage_bracket"))

    specs = binance_adapter.fetch_markets()

    btc, doge = specs[BTC], specs[DOGE]
    assert (btc.min_qty, btc.qty_step, btc.price_tick, btc.min_notional) == (
        Decimal("0.001"), Decimal("0.001"), Decimal("0.1"), Decimal(100)
    )
    assert (btc.max_leverage, btc.maintenance_margin_rate) == (125, Decimal("0.004"))
    assert (doge.qty_step, doge.price_tick, doge.min_notional, doge.max_leverage) == (
        Decimal(1), Decimal("0.00001"), Decimal(5), 75
    )
    assert len(calls_to(http, "/fapi/v1/leverageBracket")) == 1


def test_a_market_without_leverage_brackets_is_left_out_not_guessed(http, binance_markets):
    adapter = BinanceUsdmAdapter("gap", KEY, SECRET, markets=binance_markets)
    route(http, "GET", f"{V1}/leverageBracket", [b for b in binance("leverage_bracket") if b["symbol"] != "DOGEUSDT"])

    specs = adapter.fetch_markets()

    assert DOGE not in specs and specs[BTC].max_leverage == 125


# -- reads ---------------------------------------------------------------------------------------------
def test_fetch_balance_reads_the_usdt_asset(http, binance_adapter):
    route(http, "GET", f"{BINANCE}/fapi/v3/account", binance("account"))

    balance = binance_adapter.fetch_balance()

    assert len(calls_to(http, "/fapi/v3/account")) == 1
    assert (balance.wallet, balance.equity, balance.unrealized_pnl) == (
        Decimal(5000), Decimal("4957.5"), Decimal("-42.5")
    )
    assert (balance.available, balance.margin_used) == (Decimal("4307.25"), Decimal("650.25"))


def test_fetch_balance_without_usdt_is_malformed(http, binance_adapter):
    reply = binance("account")
    reply["assets"] = reply["assets"][:1]
    route(http, "GET", f"{BINANCE}/fapi/v3/account", reply)

    with pytest.raises(MalformedResponseError, match="no USDT entry"):
        binance_adapter.fetch_balance()


def test_fetch_positions_uses_v2_for_leverage_and_skips_flat_rows(http, binance_adapter):
    route(http, "GET", f"{BINANCE}/fapi/v2/positionRisk", binance("position_risk"))

    btc, doge = binance_adapter.fetch_positions()

    assert len(calls_to(http, "/fapi/v2/positionRisk")) == 1 and not calls_to(http, "/fapi/v1/leverageBracket")
    assert (btc.symbol, btc.side, btc.size, btc.entry_price, btc.mark_price) == (
        BTC, PositionSide.LONG, Decimal("0.020"), Decimal(60000), Decimal(58000)
    )
    assert (btc.leverage, btc.margin_mode, btc.liquidation_price, btc.margin) == (
        Decimal(5), MarginMode.CROSS, Decimal("30123.45"), None
    )
    assert (doge.side, doge.size, doge.margin_mode, doge.margin, doge.unrealized_pnl) == (
        PositionSide.SHORT, Decimal(1000), MarginMode.ISOLATED, Decimal("47.5"), Decimal("-2.5")
    )


def test_fetch_tickers_joins_last_prices_with_mark_prices(http, binance_adapter):
    route(http, "GET", f"{V1}/ticker/24hr", binance("ticker_24hr"))
    route(http, "GET", f"{V1}/premiumIndex", binance("premium_index"))

    tickers = binance_adapter.fetch_tickers()

    assert set(tickers) == {BTC, DOGE}  # ETH has no mark price in the reply, XYZ is not ours
    btc = tickers[BTC]
    assert (btc.last, btc.mark, btc.volume_quote_24h) == (Decimal("58010.10"), Decimal(58000), Decimal("9876543210.50"))
    assert btc.timestamp == datetime(2024, 5, 29, 16, 26, 40, tzinfo=UTC)  # the older of the two readings


def test_fetch_candles_from_klines(http, binance_adapter):
    route(http, "GET", f"{V1}/klines", binance("klines"))

    candles = binance_adapter.fetch_candles(BTC, "1h", since=datetime(2024, 5, 29, 16, 0, tzinfo=UTC), limit=2)

    (request,) = calls_to(http, "/fapi/v1/klines")
    assert query(request) == {"symbol": "BTCUSDT", "interval": "1h", "limit": "2", "startTime": "1716998400000"}
    assert [(c.open, c.close, c.volume) for c in candles] == [(58000.1, 58050.0, 123.456), (58050.0, 58150.0, 98.765)]


# -- open orders -----------------------------------------------------------------------------------------
def test_open_orders_combine_regular_and_algo_orders(http, binance_adapter):
    binance_listing_routes(http)

    orders = _by_id(binance_adapter.fetch_open_orders())

    assert set(orders) == {"4001", "5001", "5002"}
    entry = orders["4001"]
    assert (entry.type, entry.side, entry.qty, entry.price, entry.reduce_only, entry.client_id) == (
        OrderType.LIMIT, OrderSide.BUY, Decimal("0.010"), Decimal(55000), False, "rm-entry-2"
    )


def test_algo_orders_map_to_stop_and_take_profit_with_their_flags(http, binance_adapter):
    binance_listing_routes(http)

    orders = _by_id(binance_adapter.fetch_open_orders())

    stop, partial = orders["5001"], orders["5002"]
    assert (stop.type, stop.side, stop.qty, stop.trigger_price, stop.close_position) == (
        OrderType.STOP_MARKET, OrderSide.SELL, None, Decimal(57000), True
    )
    assert stop.is_stop_loss and stop.position_side is PositionSide.LONG and stop.client_id == "rm-prot-2-sl"
    assert (partial.type, partial.qty, partial.reduce_only, partial.close_position) == (
        OrderType.TAKE_PROFIT_MARKET, Decimal(500), True, False
    )
    assert partial.is_take_profit and partial.position_side is PositionSide.SHORT


def test_unknown_algo_order_type_is_malformed(http, binance_adapter):
    route(http, "GET", f"{V1}/openOrders", [])
    route(http, "GET", f"{V1}/openAlgoOrders", [dict(binance("open_algo_orders")[0], orderType="ICEBERG")])

    with pytest.raises(MalformedResponseError, match="ICEBERG"):
        binance_adapter.fetch_open_orders()


# -- writes --------------------------------------------------------------------------------------------
def test_market_order_sends_quantity_and_client_id_and_reads_the_fill(http, binance_adapter):
    route(http, "POST", f"{V1}/order", binance("order_market_filled"))
    request = OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, Decimal("0.012"), client_id="rm-entry-9")

    order = binance_adapter.place_order(request)

    sent = form(calls_to(http, "/fapi/v1/order")[0])
    assert {k: sent[k] for k in ("symbol", "side", "type", "quantity", "newClientOrderId")} == {
        "symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.012", "newClientOrderId": "rm-entry-9"
    }
    assert "reduceOnly" not in sent
    assert (order.id, order.status, order.filled_qty, order.avg_fill_price) == (
        "6001", OrderStatus.FILLED, Decimal("0.012"), Decimal("58012.30")
    )


def test_reduce_only_limit_order(http, binance_adapter):
    route(http, "POST", f"{V1}/order", dict(binance("order_close_filled"), type="LIMIT", status="NEW",
                                            price="65000.1", executedQty="0", avgPrice="0"))
    request = OrderRequest(BTC, OrderSide.SELL, OrderType.LIMIT, Decimal("0.02"), price=Decimal("65000.1"),
                           reduce_only=True)

    order = binance_adapter.place_order(request)

    sent = form(calls_to(http, "/fapi/v1/order")[0])
    assert (sent["price"], sent["timeInForce"], sent["reduceOnly"]) == ("65000.1", "GTC", "true")
    assert (order.type, order.status, order.reduce_only, order.avg_fill_price) == (
        OrderType.LIMIT, OrderStatus.NEW, True, None
    )


def test_order_with_leverage_sets_it_before_placing(http, binance_adapter):
    route(http, "POST", f"{V1}/leverage", binance("leverage"))
    route(http, "POST", f"{V1}/order", binance("order_market_filled"))

    binance_adapter.place_order(OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, Decimal("0.012"), leverage=3))

    assert [c.request.url.split("?")[0] for c in http.calls] == [f"{V1}/leverage", f"{V1}/order"]
    assert form(http.calls[0].request)["leverage"] == "3"


def test_attached_stop_loss_is_not_supported_and_nothing_is_sent(http, binance_adapter):
    request = OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, Decimal("0.01"), stop_loss=Decimal(55000))

    with pytest.raises(NotSupportedError, match="place_position_protection"):
        binance_adapter.place_order(request)
    assert len(http.calls) == 0


def test_margin_mode_already_set_is_not_an_error(http, binance_adapter):
    route(http, "POST", f"{V1}/marginType", {"code": -4046, "msg": "No need to change margin type."}, status=400)
    route(http, "POST", f"{V1}/order", binance("order_market_filled"))
    request = OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, Decimal("0.012"), margin_mode=MarginMode.CROSS)

    binance_adapter.place_order(request)

    assert form(calls_to(http, "/fapi/v1/marginType")[0])["marginType"] == "CROSSED"
    assert len(calls_to(http, "/fapi/v1/order")) == 1


def test_position_protection_places_close_position_algo_orders(http, binance_adapter):
    route(http, "GET", f"{BINANCE}/fapi/v2/positionRisk", binance("position_risk_btc"))
    http.add(responses.POST, f"{V1}/algoOrder", json=binance("algo_sl_new"))
    http.add(responses.POST, f"{V1}/algoOrder", json=binance("algo_tp_new"))

    stop, target = binance_adapter.place_position_protection(
        BTC, PositionSide.LONG, stop_loss=Decimal("56500"), take_profit=Decimal("61000"), client_id="rm-prot-9"
    )

    assert query(calls_to(http, "/fapi/v2/positionRisk")[0])["symbol"] == "BTCUSDT"
    sl, tp = (form(r) for r in calls_to(http, "/fapi/v1/algoOrder"))
    assert {k: sl[k] for k in ("symbol", "side", "type", "triggerPrice", "closePosition", "workingType",
                               "algoType", "clientAlgoId")} == {
        "symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET", "triggerPrice": "56500",
        "closePosition": "true", "workingType": "MARK_PRICE", "algoType": "CONDITIONAL", "clientAlgoId": "rm-prot-9-sl",
    }
    assert "quantity" not in sl and "reduceOnly" not in sl
    assert (tp["type"], tp["triggerPrice"], tp["clientAlgoId"]) == ("TAKE_PROFIT_MARKET", "61000", "rm-prot-9-tp")
    assert (stop.id, stop.is_stop_loss, stop.trigger_price) == ("5101", True, Decimal("56500.0"))
    assert (target.id, target.is_take_profit, target.close_position) == ("5102", True, True)


def test_position_protection_for_a_missing_side_is_not_found(http, binance_adapter):
    route(http, "GET", f"{BINANCE}/fapi/v2/positionRisk", binance("position_risk_btc"))

    with pytest.raises(NotFoundError, match="no short position"):
        binance_adapter.place_position_protection(BTC, PositionSide.SHORT, stop_loss=Decimal(70000))
    assert calls_to(http, "/fapi/v1/algoOrder") == []


def test_close_position_is_a_reduce_only_market_order_for_the_size(http, binance_adapter):
    route(http, "GET", f"{BINANCE}/fapi/v2/positionRisk", binance("position_risk_btc"))
    route(http, "POST", f"{V1}/order", binance("order_close_filled"))

    order = binance_adapter.close_position(BTC, PositionSide.LONG, client_id="rm-close-1")

    sent = form(calls_to(http, "/fapi/v1/order")[0])
    assert {k: sent[k] for k in ("symbol", "side", "type", "quantity", "reduceOnly", "newClientOrderId")} == {
        "symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.02", "reduceOnly": "true",
        "newClientOrderId": "rm-close-1",
    }
    assert (order.id, order.side, order.reduce_only, order.status, order.filled_qty) == (
        "6002", OrderSide.SELL, True, OrderStatus.FILLED, Decimal("0.020")
    )


def test_close_position_in_hedge_mode_names_the_position_side_instead(http, binance_adapter):
    route(http, "GET", f"{BINANCE}/fapi/v2/positionRisk", binance("position_risk_btc_hedge"))
    route(http, "POST", f"{V1}/order", dict(binance("order_close_filled"), positionSide="LONG", reduceOnly=False))

    order = binance_adapter.close_position(BTC, PositionSide.LONG)

    sent = form(calls_to(http, "/fapi/v1/order")[0])
    assert (sent["positionSide"], sent["side"]) == ("LONG", "SELL") and "reduceOnly" not in sent
    assert (order.reduce_only, order.position_side) == (True, PositionSide.LONG)


def test_close_position_when_flat_is_not_found(http, binance_adapter):
    route(http, "GET", f"{BINANCE}/fapi/v2/positionRisk", [])

    with pytest.raises(NotFoundError):
        binance_adapter.close_position(BTC, PositionSide.LONG)


def _positions_by_symbol(request):
    wanted = query(request).get("symbol")
    found = [r for r in binance("position_risk") if wanted in (None, r["symbol"])]
    return 200, {}, json.dumps(found)


def test_close_all_positions_closes_each_one_with_its_own_order(http, binance_adapter):
    http.add_callback(responses.GET, f"{BINANCE}/fapi/v2/positionRisk", callback=_positions_by_symbol)
    route(http, "POST", f"{V1}/order", binance("order_close_filled"))

    orders = binance_adapter.close_all_positions()

    sent = [form(r) for r in calls_to(http, "/fapi/v1/order")]
    assert [(o["symbol"], o["side"], o["quantity"]) for o in sent] == [
        ("BTCUSDT", "SELL", "0.02"), ("DOGEUSDT", "BUY", "1000")
    ]
    assert all(o["reduceOnly"] == "true" for o in sent) and len(orders) == 2


def test_close_all_positions_keeps_going_past_a_failure_then_reports_it(http, binance_adapter):
    http.add_callback(responses.GET, f"{BINANCE}/fapi/v2/positionRisk", callback=_positions_by_symbol)

    def answer(request):
        if form(request)["symbol"] == "BTCUSDT":
            return 503, {}, ""
        return 200, {}, json.dumps(dict(binance("order_close_filled"), symbol="DOGEUSDT", side="BUY"))

    http.add_callback(responses.POST, f"{V1}/order", callback=answer)

    with pytest.raises(TemporaryError, match="1 of 2 failed: BTC/USDT:USDT long") as caught:
        binance_adapter.close_all_positions()
    assert caught.value.operation == "close_all_positions"
    assert [form(r)["symbol"] for r in calls_to(http, "/fapi/v1/order")] == ["BTCUSDT", "DOGEUSDT"]


def test_cancel_all_orders_clears_regular_and_algo_orders_per_symbol(http, binance_adapter):
    binance_listing_routes(http)
    route(http, "DELETE", f"{V1}/allOpenOrders", binance("cancel_all_done"))
    route(http, "DELETE", f"{V1}/algoOpenOrders", binance("cancel_algo_all_done"))

    cancelled = binance_adapter.cancel_all_orders()

    assert sorted(cancelled) == ["4001", "5001", "5002"]
    assert [query(r)["symbol"] for r in calls_to(http, "/fapi/v1/allOpenOrders")] == ["BTCUSDT"]
    assert sorted(query(r)["symbol"] for r in calls_to(http, "/fapi/v1/algoOpenOrders")) == ["BTCUSDT", "DOGEUSDT"]


def test_cancel_all_keeping_protection_leaves_stops_and_targets(http, binance_adapter):
    binance_listing_routes(http)
    route(http, "DELETE", f"{V1}/order", dict(binance("open_orders")[0], status="CANCELED"))

    cancelled = binance_adapter.cancel_all_orders(BTC, include_protective=False)

    assert cancelled == ["4001"]
    assert query(calls_to(http, "/fapi/v1/openOrders")[0])["symbol"] == "BTCUSDT"
    assert query(calls_to(http, "/fapi/v1/order", "DELETE")[0])["orderId"] == "4001"
    assert calls_to(http, "/fapi/v1/algoOpenOrders") == [] and calls_to(http, "/fapi/v1/algoOrder") == []


def test_an_order_gone_before_its_cancel_is_skipped_not_an_error(http, binance_adapter):
    binance_listing_routes(http)
    route(http, "DELETE", f"{V1}/order", {"code": -2011, "msg": "Unknown order sent."}, status=400)

    assert binance_adapter.cancel_all_orders(BTC, include_protective=False) == []


def test_cancel_order_of_an_algo_order_uses_the_algo_endpoint(http, binance_adapter):
    binance_listing_routes(http)
    route(http, "DELETE", f"{V1}/algoOrder", {"algoId": 5001, "clientAlgoId": "rm-prot-2-sl", "code": "200",
                                              "msg": "success"})

    binance_adapter.cancel_order(BTC, "5001")

    (sent,) = calls_to(http, "/fapi/v1/algoOrder", "DELETE")
    assert (query(sent)["algoId"], query(sent)["symbol"]) == ("5001", "BTCUSDT")


def test_set_leverage_posts_it_for_the_symbol(http, binance_adapter):
    route(http, "POST", f"{V1}/leverage", binance("leverage"))

    binance_adapter.set_leverage(BTC, 3)

    sent = form(calls_to(http, "/fapi/v1/leverage")[0])
    assert (sent["symbol"], sent["leverage"]) == ("BTCUSDT", "3")


@pytest.mark.parametrize("leverage", [0, -2, True, 2.5])
def test_set_leverage_refuses_anything_but_a_positive_whole_number(http, binance_adapter, leverage):
    with pytest.raises(InvalidOrderError, match="leverage"):
        binance_adapter.set_leverage(BTC, leverage)
    assert len(http.calls) == 0


# -- hosts and errors ------------------------------------------------------------------------------------
def test_demo_mode_talks_to_the_demo_futures_host(http, binance_markets):
    adapter = BinanceUsdmAdapter("demo", KEY, SECRET, markets=binance_markets, demo=True)
    route(http, "GET", "https://demo-fapi.binance.com/fapi/v3/account", binance("account"))

    assert adapter.fetch_balance().equity == Decimal("4957.5")


def test_base_url_keeps_the_futures_error_table(http, binance_markets):
    adapter = BinanceUsdmAdapter("mock", KEY, SECRET, markets=binance_markets, base_url="https://bn.test")
    route(http, "POST", "https://bn.test/fapi/v1/order", {"code": -2019, "msg": "Margin is insufficient."}, 400)

    with pytest.raises(InsufficientFundsError):
        adapter.place_order(OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, Decimal("0.01")))
    assert http.calls[0].request.url.startswith("https://bn.test/fapi/v1/order")


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (400, {"code": -2019, "msg": "Margin is insufficient."}, InsufficientFundsError),
        (400, {"code": -4116, "msg": "ClientOrderId is duplicated."}, DuplicateClientIdError),
        (400, {"code": -4164, "msg": "Order's notional must be no smaller than 100"}, InvalidOrderError),
        (400, {"code": -2022, "msg": "ReduceOnly Order is rejected."}, InvalidOrderError),
        (400, {"code": -1121, "msg": "Invalid symbol."}, InvalidOrderError),
        (400, {"code": -2013, "msg": "Order does not exist."}, NotFoundError),
        (401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}, AuthError),
        (400, {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}, TemporaryError),
        (400, {"code": -1003, "msg": "Too many requests."}, RateLimitError),
        (429, {"code": -1003, "msg": "Too many requests."}, RateLimitError),
        (418, None, RateLimitError),
        (503, None, TemporaryError),
    ],
)
def test_exchange_error_codes_become_our_errors(http, binance_adapter, status, body, expected):
    http.add(responses.POST, f"{V1}/order", status=status, body=json.dumps(body) if body else "")

    with pytest.raises(expected) as caught:
        binance_adapter.place_order(OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, Decimal("0.01")))
    assert (caught.value.account, caught.value.operation) == ("bn-main", "place_order")
    if body is not None:
        assert caught.value.code == str(body["code"])


def test_planted_secrets_never_reach_messages_or_logs(http, binance_adapter, caplog):
    caplog.set_level(logging.DEBUG)
    echo = {"code": -2015, "msg": f"Invalid API-key {KEY}, secret {SECRET}, IP, or permissions for action."}
    route(http, "GET", f"{BINANCE}/fapi/v3/account", echo, status=401)

    with pytest.raises(AuthError) as caught:
        binance_adapter.fetch_balance()

    seen = [repr(binance_adapter), str(caught.value), str(caught.value.__cause__), caplog.text]
    assert "/fapi/v3/account" in caplog.text and "'X-MBX-APIKEY': '***'" in caplog.text
    assert "signature=***" in caplog.text
    assert not any(secret in text for text in seen for secret in (KEY, SECRET))
