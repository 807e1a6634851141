from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import responses

from riskmgr.core.domain import MarginMode, OrderRequest, OrderSide, OrderStatus, OrderType, PositionSide
from riskmgr.core.errors import (
    AuthError,
    DuplicateClientIdError,
    ExchangeError,
    InsufficientFundsError,
    InvalidOrderError,
    MalformedResponseError,
    NotFoundError,
    RateLimitError,
    TemporaryError,
)
from riskmgr.exchanges.ccxt.bitget import BitgetAdapter
from tests.exchanges.ccxt.helpers import (
    BITGET,
    BITGET_PRODUCT_TYPES,
    KEY,
    PASSPHRASE,
    SECRET,
    bitget,
    bitget_listing_routes,
    bitget_markets_routes,
    calls_to,
    json_body,
    query,
    route,
)

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
MIX = f"{BITGET}/api/v2/mix"


def _by_id(orders):
    return {o.id: o for o in orders}


# -- markets ---------------------------------------------------------------------------------------------
def test_load_markets_stays_on_classic_v2_contract_endpoints(http):
    bitget_markets_routes(http)
    adapter = BitgetAdapter("fresh", KEY, SECRET, PASSPHRASE)
    adapter.client.enableRateLimit = False

    adapter.load_markets()

    paths = [c.request.url for c in http.calls]
    assert all("/api/v2/mix/market/contracts?" in url for url in paths)
    assert sorted(query(c.request)["productType"] for c in http.calls) == sorted(BITGET_PRODUCT_TYPES)
    assert not any("/api/v3/" in url or "/spot/" in url for url in paths)
    assert adapter.client.options["uta"] is False
    assert adapter.client.market(BTC)["id"] == "BTCUSDT"


def test_fetch_markets_reads_each_spec_from_the_contract_limits(bitget_adapter):
    specs = bitget_adapter.fetch_markets()

    btc, eth = specs[BTC], specs[ETH]
    assert (btc.min_qty, btc.qty_step, btc.price_tick) == (Decimal("0.0001"), Decimal("0.0001"), Decimal("0.1"))
    assert (btc.min_notional, btc.max_leverage, btc.contract_size) == (Decimal(5), 125, Decimal(1))
    assert (eth.min_qty, eth.qty_step, eth.price_tick, eth.max_leverage) == (
        Decimal("0.01"), Decimal("0.01"), Decimal("0.01"), 100
    )


def test_min_notional_never_drops_below_five_usdt(bitget_markets):
    markets = copy.deepcopy(bitget_markets)
    for market in markets:
        market["limits"]["cost"]["min"] = 2.0
    adapter = BitgetAdapter("cheap", KEY, SECRET, PASSPHRASE, markets=markets)

    assert adapter.fetch_markets()[BTC].min_notional == Decimal(5)


def test_market_without_a_minimum_quantity_is_malformed(bitget_markets):
    markets = copy.deepcopy(bitget_markets)
    markets[0]["limits"]["amount"]["min"] = None
    adapter = BitgetAdapter("broken", KEY, SECRET, PASSPHRASE, markets=markets)

    with pytest.raises(MalformedResponseError, match=r"limits\.amount\.min"):
        adapter.fetch_markets()


# -- reads ---------------------------------------------------------------------------------------------
def test_fetch_balance_reads_the_usdt_margin_account(http, bitget_adapter):
    route(http, "GET", f"{MIX}/account/accounts", bitget("accounts"))

    balance = bitget_adapter.fetch_balance()

    (request,) = calls_to(http, "/api/v2/mix/account/accounts")
    assert query(request) == {"productType": "USDT-FUTURES"}
    assert balance.equity == Decimal("10123.45")
    assert balance.unrealized_pnl == Decimal("123.45")
    assert balance.wallet == Decimal("10000.00")
    assert balance.available == Decimal("8612.25")
    assert balance.margin_used == Decimal("1511.2")  # crossed 1200.5 + isolated 310.7


def test_fetch_balance_reads_blank_pnl_and_margin_off_the_positions(http, bitget_adapter):
    route(http, "GET", f"{MIX}/account/accounts", bitget("accounts_blank"))
    route(http, "GET", f"{MIX}/position/all-position", bitget("all_position"))

    balance = bitget_adapter.fetch_balance()

    assert balance.unrealized_pnl == Decimal("123.1")  # 100 + 23.1
    assert balance.margin_used == Decimal("2100")  # 600 + 1500
    assert balance.wallet == Decimal("10000.35")  # 10123.45 - 123.1


def test_fetch_balance_without_a_usdt_account_is_malformed(http, bitget_adapter):
    reply = bitget("accounts")
    reply["data"] = reply["data"][:1]  # only the BTC margin account
    route(http, "GET", f"{MIX}/account/accounts", reply)

    with pytest.raises(MalformedResponseError, match="no USDT margin account") as caught:
        bitget_adapter.fetch_balance()
    assert (caught.value.account, caught.value.operation) == ("bg-main", "fetch_balance")


def test_fetch_positions_maps_side_mark_leverage_mode_and_liquidation(http, bitget_adapter):
    route(http, "GET", f"{MIX}/position/all-position", bitget("all_position"))

    btc, eth = bitget_adapter.fetch_positions()

    (request,) = calls_to(http, "/api/v2/mix/position/all-position")
    assert query(request) == {"productType": "USDT-FUTURES", "marginCoin": "USDT"}
    assert (btc.symbol, btc.side, btc.size, btc.entry_price, btc.mark_price) == (
        BTC, PositionSide.LONG, Decimal("0.05"), Decimal(60000), Decimal(62000)
    )
    assert (btc.leverage, btc.margin_mode, btc.liquidation_price) == (Decimal(5), MarginMode.CROSS, None)
    assert btc.opened_at == datetime(2024, 5, 28, 12, 40, tzinfo=UTC)
    assert (eth.side, eth.margin_mode, eth.liquidation_price) == (
        PositionSide.SHORT, MarginMode.ISOLATED, Decimal("3950.25")
    )
    assert (eth.unrealized_pnl, eth.margin) == (Decimal("23.1"), Decimal(1500))


def test_fetch_tickers_keeps_our_contracts_with_last_and_mark(http, bitget_adapter):
    route(http, "GET", f"{MIX}/market/tickers", bitget("tickers"))

    tickers = bitget_adapter.fetch_tickers()

    assert set(tickers) == {BTC, ETH}  # XYZUSDT is not one of our markets
    btc = tickers[BTC]
    assert (btc.last, btc.mark, btc.bid, btc.ask) == (
        Decimal("62010.5"), Decimal(62000), Decimal("62010.4"), Decimal("62010.6")
    )
    assert btc.timestamp == datetime(2024, 5, 29, 16, 26, 40, tzinfo=UTC)


def test_fetch_candles_come_oldest_first(http, bitget_adapter):
    route(http, "GET", f"{MIX}/market/candles", bitget("candles"))

    candles = bitget_adapter.fetch_candles(BTC, "1h", limit=2)

    (request,) = calls_to(http, "/api/v2/mix/market/candles")
    assert query(request) == {"symbol": "BTCUSDT", "granularity": "1H", "limit": "2", "productType": "USDT-FUTURES"}
    assert [c.close for c in candles] == [60200.0, 60800.0]
    assert candles[0].ts == datetime(2024, 5, 29, 16, 26, 40, tzinfo=UTC)


# -- open orders -----------------------------------------------------------------------------------------
def test_open_orders_query_normal_orders_and_every_plan_type(http, bitget_adapter):
    bitget_listing_routes(http)

    orders = _by_id(bitget_adapter.fetch_open_orders())

    plan_types = {query(r)["planType"] for r in calls_to(http, "/api/v2/mix/order/orders-plan-pending")}
    assert plan_types == {"normal_plan", "profit_loss", "track_plan"}
    assert len(calls_to(http, "/api/v2/mix/order/orders-pending")) == 1
    assert set(orders) == {"1001", "1002", "2001", "2002", "2003", "3001", "3002"}
    entry, exit_ = orders["1001"], orders["1002"]
    assert (entry.type, entry.side, entry.qty, entry.price, entry.reduce_only) == (
        OrderType.LIMIT, OrderSide.BUY, Decimal("0.01"), Decimal(58000), False
    )
    assert (exit_.status, exit_.filled_qty, exit_.avg_fill_price, exit_.position_side) == (
        OrderStatus.PARTIALLY_FILLED, Decimal("0.2"), Decimal(2800), PositionSide.SHORT
    )


def test_tp_sl_listing_maps_each_plan_type_to_a_protective_order(http, bitget_adapter):
    bitget_listing_routes(http)

    orders = _by_id(bitget_adapter.fetch_open_orders())

    stop, target, partial = orders["2001"], orders["2002"], orders["2003"]
    assert (stop.type, stop.side, stop.qty, stop.trigger_price, stop.close_position) == (
        OrderType.STOP_MARKET, OrderSide.SELL, None, Decimal(58500), True
    )
    assert stop.is_stop_loss and stop.position_side is PositionSide.LONG and stop.client_id == "rm-prot-1-sl"
    assert (target.type, target.close_position, target.is_take_profit) == (OrderType.TAKE_PROFIT_MARKET, True, True)
    assert (partial.type, partial.qty, partial.close_position, partial.side) == (
        OrderType.STOP_MARKET, Decimal("0.75"), False, OrderSide.BUY
    )
    assert partial.is_stop_loss and partial.client_id is None


def test_closing_trigger_is_classified_against_the_mark_price(http, bitget_adapter):
    bitget_listing_routes(http)

    orders = _by_id(bitget_adapter.fetch_open_orders())

    # buy-to-close a short at 2900 with the mark at 2984.6 fires on a fall: a take-profit, not a stop
    assert orders["3002"].type is OrderType.TAKE_PROFIT_MARKET and orders["3002"].reduce_only
    assert query(calls_to(http, "/api/v2/mix/market/ticker")[0]) == {"symbol": "ETHUSDT", "productType": "USDT-FUTURES"}
    entry_trigger = orders["3001"]
    assert (entry_trigger.type, entry_trigger.trigger_price, entry_trigger.is_protective) == (
        OrderType.STOP_MARKET, Decimal(63000), False
    )


def test_a_full_page_of_orders_is_followed_by_the_next(http, bitget_adapter):
    row = bitget("orders_pending")["data"]["entrustedList"][0]
    first = [dict(row, orderId=str(9000 + i)) for i in range(100)]
    http.add(responses.GET, f"{MIX}/order/orders-pending", json={
        "code": "00000", "data": {"entrustedList": first, "endId": "9099"}})
    http.add(responses.GET, f"{MIX}/order/orders-pending", json={
        "code": "00000", "data": {"entrustedList": [dict(row, orderId="8999")], "endId": "8999"}})
    route(http, "GET", f"{MIX}/order/orders-plan-pending", bitget("plan_empty"))

    orders = bitget_adapter.fetch_open_orders()

    first_call, second_call = calls_to(http, "/api/v2/mix/order/orders-pending")
    assert "idLessThan" not in query(first_call) and query(second_call)["idLessThan"] == "9099"
    assert len(orders) == 101


def test_hedge_mode_close_order_is_read_as_the_opposite_trade(http, bitget_adapter):
    reply = bitget("orders_pending")
    row = dict(reply["data"]["entrustedList"][0], posMode="hedge_mode", posSide="long", tradeSide="close",
               side="buy", reduceOnly="YES")
    reply["data"]["entrustedList"] = [row]
    route(http, "GET", f"{MIX}/order/orders-pending", reply)
    route(http, "GET", f"{MIX}/order/orders-plan-pending", bitget("plan_empty"))

    (order,) = bitget_adapter.fetch_open_orders()

    assert (order.side, order.reduce_only, order.position_side) == (OrderSide.SELL, True, PositionSide.LONG)


# -- writes --------------------------------------------------------------------------------------------
def test_market_order_sends_size_client_id_and_the_symbols_margin_mode(http, bitget_adapter):
    route(http, "GET", f"{MIX}/account/account", bitget("account_single"))
    route(http, "POST", f"{MIX}/order/place-order", bitget("place_order"))
    request = OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, Decimal("0.0123"), client_id="rm-entry-9")

    order = bitget_adapter.place_order(request)

    (sent,) = calls_to(http, "/api/v2/mix/order/place-order")
    body = json_body(sent)
    assert {k: body[k] for k in ("symbol", "productType", "marginCoin", "marginMode", "side", "orderType")} == {
        "symbol": "BTCUSDT", "productType": "USDT-FUTURES", "marginCoin": "USDT", "marginMode": "crossed",
        "side": "buy", "orderType": "market",
    }
    assert (body["size"], body["clientOid"]) == ("0.0123", "rm-entry-9")
    assert "reduceOnly" not in body and "tradeSide" not in body
    assert (order.id, order.client_id, order.qty, order.status) == (
        "1201", "rm-entry-9", Decimal("0.0123"), OrderStatus.NEW
    )


def test_reduce_only_limit_order_with_attached_stop_and_target(http, bitget_adapter):
    route(http, "GET", f"{MIX}/account/account", bitget("account_single"))
    route(http, "POST", f"{MIX}/order/place-order", bitget("place_order"))
    request = OrderRequest(BTC, OrderSide.SELL, OrderType.LIMIT, Decimal("0.05"), price=Decimal("65000.1"),
                           reduce_only=True, stop_loss=Decimal("58000"), take_profit=Decimal("70000"))

    order = bitget_adapter.place_order(request)

    body = json_body(calls_to(http, "/api/v2/mix/order/place-order")[0])
    assert (body["price"], body["reduceOnly"], body["side"]) == ("65000.1", "YES", "sell")
    assert (body["presetStopLossPrice"], body["presetStopSurplusPrice"]) == ("58000", "70000")
    assert (order.price, order.reduce_only, order.position_side) == (Decimal("65000.1"), True, PositionSide.LONG)


def test_order_asking_for_isolated_margin_switches_the_symbol_first(http, bitget_adapter):
    route(http, "GET", f"{MIX}/account/account", bitget("account_single"))
    route(http, "POST", f"{MIX}/account/set-margin-mode", {"code": "00000", "data": {"symbol": "BTCUSDT"}})
    route(http, "POST", f"{MIX}/order/place-order", bitget("place_order"))
    request = OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, Decimal("0.01"), margin_mode=MarginMode.ISOLATED)

    bitget_adapter.place_order(request)

    (switch,) = calls_to(http, "/api/v2/mix/account/set-margin-mode")
    assert json_body(switch)["marginMode"] == "isolated"
    assert json_body(calls_to(http, "/api/v2/mix/order/place-order")[0])["marginMode"] == "isolated"


def test_reduce_only_order_in_hedge_mode_closes_with_trade_side_close(http, bitget_adapter):
    account = bitget("account_single")
    account["data"]["posMode"] = "hedge_mode"
    route(http, "GET", f"{MIX}/account/account", account)
    route(http, "POST", f"{MIX}/order/place-order", bitget("place_order"))

    bitget_adapter.place_order(OrderRequest(BTC, OrderSide.SELL, OrderType.MARKET, Decimal("0.05"), reduce_only=True))

    body = json_body(calls_to(http, "/api/v2/mix/order/place-order")[0])
    # Bitget's hedge convention: closing a long is side "buy" with tradeSide "close"
    assert (body["side"], body["tradeSide"].lower()) == ("buy", "close") and "reduceOnly" not in body


def test_position_protection_places_pos_loss_and_pos_profit_on_the_whole_position(http, bitget_adapter):
    route(http, "GET", f"{MIX}/position/single-position", bitget("single_position_btc"))
    http.add(responses.POST, f"{MIX}/order/place-tpsl-order", json=bitget("place_tpsl_sl"))
    http.add(responses.POST, f"{MIX}/order/place-tpsl-order", json=bitget("place_tpsl_tp"))

    stop, target = bitget_adapter.place_position_protection(
        BTC, PositionSide.LONG, stop_loss=Decimal("56500.5"), take_profit=Decimal("66000"), client_id="rm-prot-9"
    )

    sl_body, tp_body = (json_body(r) for r in calls_to(http, "/api/v2/mix/order/place-tpsl-order"))
    assert sl_body == {"symbol": "BTCUSDT", "productType": "USDT-FUTURES", "marginCoin": "USDT",
                       "planType": "pos_loss", "triggerPrice": "56500.5", "triggerType": "mark_price",
                       "holdSide": "buy", "clientOid": "rm-prot-9-sl"}
    assert (tp_body["planType"], tp_body["triggerPrice"], tp_body["clientOid"]) == (
        "pos_profit", "66000", "rm-prot-9-tp"
    )
    assert "size" not in sl_body
    assert (stop.id, stop.type, stop.side, stop.trigger_price, stop.is_stop_loss) == (
        "2101", OrderType.STOP_MARKET, OrderSide.SELL, Decimal("56500.5"), True
    )
    assert (target.id, target.is_take_profit, target.qty) == ("2102", True, None)


def test_position_protection_without_a_position_is_not_found(http, bitget_adapter):
    route(http, "GET", f"{MIX}/position/single-position", bitget("single_position_flat"))

    with pytest.raises(NotFoundError):
        bitget_adapter.place_position_protection(BTC, PositionSide.LONG, stop_loss=Decimal(56000))
    assert calls_to(http, "/api/v2/mix/order/place-tpsl-order") == []


def test_close_position_flash_closes_the_held_side(http, bitget_adapter):
    route(http, "GET", f"{MIX}/position/single-position", bitget("single_position_btc"))
    route(http, "POST", f"{MIX}/order/close-positions", bitget("close_positions"))

    order = bitget_adapter.close_position(BTC, PositionSide.LONG)

    (sent,) = calls_to(http, "/api/v2/mix/order/close-positions")
    assert json_body(sent) == {"symbol": "BTCUSDT", "productType": "USDT-FUTURES", "holdSide": "long"}
    assert (order.id, order.side, order.type, order.qty, order.reduce_only) == (
        "1301", OrderSide.SELL, OrderType.MARKET, Decimal("0.05"), True
    )


def test_close_position_refused_as_nothing_to_close_is_not_found(http, bitget_adapter):
    route(http, "GET", f"{MIX}/position/single-position", bitget("single_position_btc"))
    route(http, "POST", f"{MIX}/order/close-positions", bitget("close_positions_none"))

    with pytest.raises(NotFoundError, match="No position to close") as caught:
        bitget_adapter.close_position(BTC, PositionSide.LONG)
    assert caught.value.code == "22002"


def test_close_all_positions_is_one_call_for_the_product_type(http, bitget_adapter):
    route(http, "GET", f"{MIX}/position/all-position", bitget("all_position"))
    route(http, "POST", f"{MIX}/order/close-positions", bitget("close_all"))

    btc, eth = bitget_adapter.close_all_positions()

    assert json_body(calls_to(http, "/api/v2/mix/order/close-positions")[0]) == {"productType": "USDT-FUTURES"}
    assert (btc.id, btc.symbol, btc.side, btc.qty, btc.close_position) == (
        "1301", BTC, OrderSide.SELL, Decimal("0.05"), True
    )
    assert (eth.id, eth.side, eth.qty, eth.position_side) == ("1302", OrderSide.BUY, Decimal("1.5"), PositionSide.SHORT)


def test_close_all_positions_of_one_symbol_names_it(http, bitget_adapter):
    route(http, "GET", f"{MIX}/position/single-position", bitget("single_position_btc"))
    route(http, "POST", f"{MIX}/order/close-positions", bitget("close_positions"))

    (order,) = bitget_adapter.close_all_positions(BTC)

    sent = json_body(calls_to(http, "/api/v2/mix/order/close-positions")[0])
    assert sent == {"productType": "USDT-FUTURES", "symbol": "BTCUSDT"} and order.id == "1301"


def test_close_all_positions_when_flat_sends_nothing(http, bitget_adapter):
    route(http, "GET", f"{MIX}/position/all-position", {"code": "00000", "msg": "success", "data": []})

    assert bitget_adapter.close_all_positions() == []
    assert calls_to(http, "/api/v2/mix/order/close-positions") == []


def _cancel_callback(sent: list[dict]):
    succeeded = {("BTCUSDT", None): ["1001"], ("BTCUSDT", "profit_loss"): ["2001", "2002"],
                 ("BTCUSDT", "normal_plan"): ["3001"], ("ETHUSDT", None): ["1002"],
                 ("ETHUSDT", "profit_loss"): ["2003"], ("ETHUSDT", "normal_plan"): ["3002"]}

    def answer(request):
        body = json.loads(request.body)
        sent.append(body)
        ids = succeeded[(body["symbol"], body.get("planType"))]
        data = {"successList": [{"orderId": i, "clientOid": ""} for i in ids], "failureList": []}
        return 200, {}, json.dumps({"code": "00000", "msg": "success", "data": data})

    return answer


def test_cancel_all_orders_clears_normal_and_each_plan_type_per_symbol(http, bitget_adapter):
    bitget_listing_routes(http)
    sent: list[dict] = []
    for path in ("batch-cancel-orders", "cancel-plan-order"):
        http.add_callback(responses.POST, f"{MIX}/order/{path}", callback=_cancel_callback(sent))

    cancelled = bitget_adapter.cancel_all_orders()

    assert sorted(cancelled) == ["1001", "1002", "2001", "2002", "2003", "3001", "3002"]
    assert sorted((b["symbol"], b.get("planType", "-")) for b in sent) == [
        ("BTCUSDT", "-"), ("BTCUSDT", "normal_plan"), ("BTCUSDT", "profit_loss"),
        ("ETHUSDT", "-"), ("ETHUSDT", "normal_plan"), ("ETHUSDT", "profit_loss"),
    ]
    assert all(b["productType"] == "USDT-FUTURES" and "orderIdList" not in b for b in sent)


def test_cancel_all_carries_on_when_one_kind_has_nothing_left(http, bitget_adapter):
    bitget_listing_routes(http)
    http.add(responses.POST, f"{MIX}/order/batch-cancel-orders", status=400,
             body=json.dumps({"code": "22001", "msg": "No order to cancel"}))
    sent: list[dict] = []
    http.add_callback(responses.POST, f"{MIX}/order/cancel-plan-order", callback=_cancel_callback(sent))

    cancelled = bitget_adapter.cancel_all_orders(BTC)

    assert sorted(cancelled) == ["2001", "2002", "3001"]
    assert sorted(b["planType"] for b in sent) == ["normal_plan", "profit_loss"]


def test_cancel_all_keeping_protection_cancels_only_the_rest_one_by_one(http, bitget_adapter):
    bitget_listing_routes(http)
    route(http, "POST", f"{MIX}/order/cancel-order", bitget("cancel_order"))
    route(http, "POST", f"{MIX}/order/cancel-plan-order", bitget("cancel_plan_one"))

    cancelled = bitget_adapter.cancel_all_orders(include_protective=False)

    assert sorted(cancelled) == ["1001", "1002", "3001"]  # 2001-2003 and the target trigger 3002 stay
    assert sorted(json_body(r)["orderId"] for r in calls_to(http, "/api/v2/mix/order/cancel-order")) == [
        "1001", "1002"
    ]
    (plan_cancel,) = calls_to(http, "/api/v2/mix/order/cancel-plan-order")
    assert json_body(plan_cancel)["planType"] == "normal_plan"
    assert json_body(plan_cancel)["orderIdList"] == [{"orderId": "3001"}]


def test_cancel_order_finds_a_trigger_and_uses_the_plan_endpoint(http, bitget_adapter):
    bitget_listing_routes(http)
    route(http, "POST", f"{MIX}/order/cancel-plan-order", bitget("cancel_plan_one"))

    bitget_adapter.cancel_order(ETH, "3002")

    assert all(query(r)["symbol"] == "ETHUSDT" for r in calls_to(http, "/api/v2/mix/order/orders-plan-pending"))
    (sent,) = calls_to(http, "/api/v2/mix/order/cancel-plan-order")
    assert json_body(sent) == {"symbol": "ETHUSDT", "productType": "USDT-FUTURES", "planType": "normal_plan",
                               "orderIdList": [{"orderId": "3002"}]}


def test_cancel_of_an_order_that_is_not_open_is_not_found(http, bitget_adapter):
    bitget_listing_routes(http)

    with pytest.raises(NotFoundError, match="no open order 42"):
        bitget_adapter.cancel_order(ETH, "42")


def test_set_leverage_sends_it_as_a_string_for_the_symbol(http, bitget_adapter):
    route(http, "POST", f"{MIX}/account/set-leverage", bitget("set_leverage"))

    bitget_adapter.set_leverage(BTC, 3)

    (sent,) = calls_to(http, "/api/v2/mix/account/set-leverage")
    assert json_body(sent) == {"symbol": "BTCUSDT", "leverage": "3", "marginCoin": "USDT",
                               "productType": "USDT-FUTURES"}


def test_unknown_symbol_is_refused_before_any_request(http, bitget_adapter):
    with pytest.raises(InvalidOrderError, match="not a USDT perpetual"):
        bitget_adapter.set_leverage("DOT/USDT:USDT", 3)
    assert len(http.calls) == 0


# -- hosts and errors ------------------------------------------------------------------------------------
def test_demo_mode_sends_the_paptrading_header(http, bitget_markets):
    adapter = BitgetAdapter("demo", KEY, SECRET, PASSPHRASE, markets=bitget_markets, demo=True)
    route(http, "GET", f"{MIX}/account/accounts", bitget("accounts"))

    adapter.fetch_balance()

    assert http.calls[0].request.headers["PAPTRADING"] == "1"
    assert query(http.calls[0].request) == {"productType": "USDT-FUTURES"}
    assert adapter.mode == "demo"


def test_base_url_moves_every_call_to_that_host(http, bitget_markets):
    adapter = BitgetAdapter("mock", KEY, SECRET, PASSPHRASE, markets=bitget_markets, base_url="https://bg.test/")
    route(http, "GET", "https://bg.test/api/v2/mix/account/accounts", bitget("accounts"))

    assert adapter.fetch_balance().equity == Decimal("10123.45")


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (400, {"code": "40009", "msg": "sign signature error"}, AuthError),
        (400, {"code": "40085", "msg": "account is UTA"}, AuthError),
        (400, {"code": "43012", "msg": "Insufficient balance"}, InsufficientFundsError),
        (400, {"code": "45110", "msg": "less than the minimum order quantity"}, InvalidOrderError),
        (400, {"code": "43001", "msg": "The order does not exist"}, NotFoundError),
        (400, {"code": "40786", "msg": "Duplicate clientOid"}, DuplicateClientIdError),
        (400, {"code": "40008", "msg": "Request timestamp expired"}, TemporaryError),
        (429, {"code": "429", "msg": "Too Many Requests"}, RateLimitError),
        (429, None, RateLimitError),
        (503, None, TemporaryError),
        (400, {"code": "40034", "msg": "Parameter BTCUSDT_UMCBL does not exist"}, ExchangeError),
    ],
)
def test_exchange_error_codes_become_our_errors(http, bitget_adapter, status, body, expected):
    http.add(responses.GET, f"{MIX}/account/accounts", status=status, body=json.dumps(body) if body else "")

    with pytest.raises(expected) as caught:
        bitget_adapter.fetch_balance()
    assert caught.value.operation == "fetch_balance"
    if body is not None and expected is not ExchangeError:
        assert caught.value.code == body["code"]
    if expected is ExchangeError:
        assert type(caught.value) is ExchangeError
