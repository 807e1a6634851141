"""Bitget v2 and Binance USDⓈ-M under the contract: the real ccxt adapters, HTTP mocked with the documented replies.

The replies are those of tests/exchanges/ccxt/fixtures (shaped like the venues' documented answers); the order
listings are served by the same routes the adapters' own tests use.
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import responses

from riskmgr.core.domain import PositionSide
from riskmgr.exchanges.ccxt.binance import BinanceUsdmAdapter
from riskmgr.exchanges.ccxt.bitget import BitgetAdapter
from tests.exchanges.ccxt.helpers import (
    BINANCE,
    BITGET,
    KEY,
    PASSPHRASE,
    SECRET,
    binance,
    bitget,
    calls_to,
    form,
    json_body,
    query,
    quick,
    route,
)
from tests.exchanges.ccxt.helpers import (
    binance_listing_routes as binance_listing,
)
from tests.exchanges.ccxt.helpers import (
    bitget_listing_routes as bitget_listing,
)
from tests.exchanges.contract.harness import (
    BTC,
    Declared,
    ExpectedBalance,
    ExpectedOrders,
    ExpectedPosition,
    Harness,
)

D = Decimal
MIX = f"{BITGET}/api/v2/mix"
FAPI = f"{BINANCE}/fapi"
HTML = "<html><body>Maintenance</body></html>"


class BitgetHarness(Harness):
    name = "bitget"
    balance_endpoint = "/api/v2/mix/account/accounts"
    secrets = (KEY, SECRET, PASSPHRASE)
    declared = Declared()

    def __init__(self, http: responses.RequestsMock, markets: list[dict]):
        self._http = http
        self.adapter = quick(BitgetAdapter("bg-main", KEY, SECRET, PASSPHRASE, markets=markets))

    # -- reads ------------------------------------------------------------------------------------------
    def given_balance(self) -> ExpectedBalance:
        route(self._http, "GET", f"{MIX}/account/accounts", bitget("accounts"))
        # USDT: accountEquity 10123.45, unrealizedPL 123.45, available 8612.25; wallet = equity - unrealized
        return ExpectedBalance(equity=D("10123.45"), wallet=D("10000.00"), available=D("8612.25"),
                               unrealized_pnl=D("123.45"))

    def given_long_position(self) -> ExpectedPosition:
        held = bitget("all_position")
        held["data"] = [row for row in held["data"] if row["symbol"] == "BTCUSDT"]  # long 0.05 at 60000, mark 62000
        route(self._http, "GET", f"{MIX}/position/all-position", held)
        return ExpectedPosition(BTC, PositionSide.LONG, D("0.05"), D(60000), D(62000))

    def given_flat(self) -> None:
        for path in ("all-position", "single-position"):
            route(self._http, "GET", f"{MIX}/position/{path}", bitget("single_position_flat"))

    def given_protected_position_and_a_resting_order(self) -> ExpectedOrders:
        bitget_listing(self._http)  # limit 1001; pos_loss 2001 at 58500 and pos_profit 2002 at 66000 on the long
        return ExpectedOrders("2001", D(58500), "2002", D(66000), "1001")

    # -- writes -----------------------------------------------------------------------------------------
    def given_long_to_protect(self) -> None:
        route(self._http, "GET", f"{MIX}/position/single-position", bitget("single_position_btc"))
        route(self._http, "POST", f"{MIX}/order/place-tpsl-order", bitget("place_tpsl_sl"))

    def stop_sent(self) -> Decimal:
        (sent,) = calls_to(self._http, "/api/v2/mix/order/place-tpsl-order")
        body = json_body(sent)
        assert body["planType"] == "pos_loss"
        return D(body["triggerPrice"])

    def given_long_to_close(self) -> Decimal:
        route(self._http, "GET", f"{MIX}/position/single-position", bitget("single_position_btc"))
        route(self._http, "POST", f"{MIX}/order/close-positions", bitget("close_positions"))
        return D("0.05")

    def given_resting_order(self) -> tuple[str, str]:
        bitget_listing(self._http)
        answer = copy.deepcopy(bitget("cancel_order"))
        answer["data"] = {"orderId": "1001", "clientOid": "rm-entry-1"}
        route(self._http, "POST", f"{MIX}/order/cancel-order", answer)
        return BTC, "1001"

    def cancelled(self) -> list[str]:
        plain = [json_body(r)["orderId"] for r in calls_to(self._http, "/api/v2/mix/order/cancel-order")]
        plans = [item["orderId"] for r in calls_to(self._http, "/api/v2/mix/order/cancel-plan-order")
                 for item in json_body(r).get("orderIdList", [])]
        return plain + plans

    def given_cancels_accepted(self) -> None:
        route(self._http, "POST", f"{MIX}/order/cancel-order", bitget("cancel_order"))
        route(self._http, "POST", f"{MIX}/order/cancel-plan-order", bitget("cancel_plan_one"))

    def given_no_such_order(self) -> tuple[str, str]:
        bitget_listing(self._http)
        return BTC, "424242"

    # -- failures ---------------------------------------------------------------------------------------
    def _accounts(self, status: int, body: str, headers: dict[str, str] | None = None,
                  content_type: str = "application/json") -> None:
        self._http.add(responses.GET, f"{MIX}/account/accounts", status=status, body=body, headers=headers,
                       content_type=content_type)

    def given_rejected_credentials(self) -> None:
        # the documented envelope; the message repeats the key and passphrase, as a venue or a proxy may
        self._accounts(400, json.dumps({"code": "40009", "msg": f"sign signature error: {KEY} {PASSPHRASE}",
                                        "requestTime": 1717000000000, "data": None}))

    def given_throttled(self, seconds: int) -> None:
        self._accounts(429, json.dumps({"code": "429", "msg": "Too Many Requests", "requestTime": 1717000000000,
                                        "data": None}), headers={"Retry-After": str(seconds)})

    def given_null_positions(self) -> None:
        route(self._http, "GET", f"{MIX}/position/all-position", {"code": "00000", "msg": "success",
                                                                  "requestTime": 1717000000000, "data": None})

    def given_null_balance(self) -> None:
        route(self._http, "GET", f"{MIX}/account/accounts", {"code": "00000", "msg": "success",
                                                             "requestTime": 1717000000000, "data": None})

    def given_null_open_orders(self) -> None:
        null = {"code": "00000", "msg": "success", "requestTime": 1717000000000, "data": None}
        route(self._http, "GET", f"{MIX}/order/orders-pending", null)
        route(self._http, "GET", f"{MIX}/order/orders-plan-pending", null)

    def given_html_instead_of_json(self) -> None:
        self._accounts(200, HTML, content_type="text/html")

    def given_venue_unavailable(self) -> None:
        self._accounts(503, "Service Unavailable", content_type="text/plain")


class BinanceHarness(Harness):
    name = "binance"
    balance_endpoint = "/fapi/v3/account"
    secrets = (KEY, SECRET)
    declared = Declared(open_times=False)

    def __init__(self, http: responses.RequestsMock, markets: list[dict]):
        self._http = http
        self.adapter = quick(BinanceUsdmAdapter("bn-main", KEY, SECRET, markets=markets))

    # -- reads ------------------------------------------------------------------------------------------
    def given_balance(self) -> ExpectedBalance:
        route(self._http, "GET", f"{FAPI}/v3/account", binance("account"))
        # USDT asset: marginBalance 4957.5 = walletBalance 5000 + unrealizedProfit -42.5; availableBalance 4307.25
        return ExpectedBalance(equity=D("4957.5"), wallet=D(5000), available=D("4307.25"), unrealized_pnl=D("-42.5"))

    def given_long_position(self) -> ExpectedPosition:
        route(self._http, "GET", f"{FAPI}/v2/positionRisk", binance("position_risk_btc"))  # 0.020 at 60000, 58000
        return ExpectedPosition(BTC, PositionSide.LONG, D("0.020"), D(60000), D(58000))

    def given_flat(self) -> None:
        route(self._http, "GET", f"{FAPI}/v2/positionRisk", [])

    def given_protected_position_and_a_resting_order(self) -> ExpectedOrders:
        # limit 4001; closePosition STOP_MARKET 5001 at 57000; reduce-only TAKE_PROFIT_MARKET 5002 at 0.14 (DOGE)
        binance_listing(self._http)
        return ExpectedOrders("5001", D(57000), "5002", D("0.14"), "4001")

    # -- writes -----------------------------------------------------------------------------------------
    def given_long_to_protect(self) -> None:
        route(self._http, "GET", f"{FAPI}/v2/positionRisk", binance("position_risk_btc"))

        def accept(request):  # Binance echoes the trigger price it was sent
            sent = {**query(request), **form(request)}
            return 200, {}, json.dumps(dict(binance("algo_sl_new"), triggerPrice=sent["triggerPrice"]))

        self._http.add_callback(responses.POST, f"{FAPI}/v1/algoOrder", callback=accept)

    def stop_sent(self) -> Decimal:
        (sent,) = calls_to(self._http, "/fapi/v1/algoOrder", "POST")
        sent_form = {**query(sent), **form(sent)}
        assert sent_form["type"] == "STOP_MARKET" and sent_form["closePosition"] == "true"
        return D(sent_form["triggerPrice"])

    def given_long_to_close(self) -> Decimal:
        route(self._http, "GET", f"{FAPI}/v2/positionRisk", binance("position_risk_btc"))
        route(self._http, "POST", f"{FAPI}/v1/order", binance("order_close_filled"))
        return D("0.020")

    def given_resting_order(self) -> tuple[str, str]:
        binance_listing(self._http)
        route(self._http, "DELETE", f"{FAPI}/v1/order", dict(binance("open_orders")[0], status="CANCELED"))
        return BTC, "4001"

    def cancelled(self) -> list[str]:
        plain = [query(r)["orderId"] for r in calls_to(self._http, "/fapi/v1/order", "DELETE")]
        return plain + [query(r)["algoId"] for r in calls_to(self._http, "/fapi/v1/algoOrder", "DELETE")]

    def given_cancels_accepted(self) -> None:
        route(self._http, "DELETE", f"{FAPI}/v1/order", dict(binance("open_orders")[0], status="CANCELED"))
        route(self._http, "DELETE", f"{FAPI}/v1/algoOrder", {"algoId": 5001, "clientAlgoId": "rm-prot-2-sl",
                                                            "code": "200", "msg": "success"})

    def given_no_such_order(self) -> tuple[str, str]:
        binance_listing(self._http)
        return BTC, "424242"

    # -- failures ---------------------------------------------------------------------------------------
    def _account(self, status: int, body: str, headers: dict[str, str] | None = None,
                 content_type: str = "application/json") -> None:
        self._http.add(responses.GET, f"{FAPI}/v3/account", status=status, body=body, headers=headers,
                       content_type=content_type)

    def given_rejected_credentials(self) -> None:
        # the documented envelope; the message repeats the key, as a venue or a proxy may
        self._account(401, json.dumps({"code": -2015, "msg": f"Invalid API-key {KEY}, IP, or permissions for action."}))

    def given_throttled(self, seconds: int) -> None:
        self._account(429, json.dumps({"code": -1003, "msg": "Too many requests; current limit is 2400 requests "
                                       "per minute."}), headers={"Retry-After": str(seconds)})

    def given_null_positions(self) -> None:
        self._http.add(responses.GET, f"{FAPI}/v2/positionRisk", body="null", content_type="application/json")

    def given_null_balance(self) -> None:
        self._account(200, "null")

    def given_null_open_orders(self) -> None:
        self._http.add(responses.GET, f"{FAPI}/v1/openOrders", body="null", content_type="application/json")
        route(self._http, "GET", f"{FAPI}/v1/openAlgoOrders", [])

    def given_html_instead_of_json(self) -> None:
        self._account(200, HTML, content_type="text/html")

    def given_venue_unavailable(self) -> None:
        self._account(503, "Service Unavailable", content_type="text/plain")
