"""Bitunix under the contract: the real adapter and client, HTTP mocked with the documented replies.

The stored replies are those of tests/exchanges/bitunix/fixtures (the docs' examples, with the shapes observed live).
Bitunix sends no equity: the adapter sums it (available + frozen + margin + both unrealized P&Ls) and says so.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import responses

from riskmgr.core.clock import FixedClock
from riskmgr.core.domain import PositionSide
from riskmgr.exchanges.bitunix.adapter import BitunixAdapter
from riskmgr.exchanges.bitunix.client import BitunixClient
from tests.exchanges.bitunix.conftest import API_KEY, BASE, NONCE, NOW, SECRET, ok, reply
from tests.exchanges.contract.harness import (
    BTC,
    Declared,
    ExpectedBalance,
    ExpectedOrders,
    ExpectedPosition,
    Harness,
)

D = Decimal
V1 = f"{BASE}/api/v1/futures"
ACCOUNT = f"{V1}/account"
POSITIONS = f"{V1}/position/get_pending_positions"
TICKERS = f"{V1}/market/tickers"
PENDING = f"{V1}/trade/get_pending_orders"
TPSL_PENDING = f"{V1}/tpsl/get_pending_orders"
TPSL_POSITION_PLACE = f"{V1}/tpsl/position/place_order"
CANCEL = f"{V1}/trade/cancel_orders"
FLASH_CLOSE = f"{V1}/trade/flash_close_position"
TPSL_CANCEL = f"{V1}/tpsl/cancel_order"


class BitunixHarness(Harness):
    name = "bitunix"
    balance_endpoint = "/api/v1/futures/account"
    secrets = (API_KEY, SECRET)
    declared = Declared(equity_estimated=True, position_ids=True, paired_protection=True)

    def __init__(self, http: responses.RequestsMock):
        self._http = http
        clock = FixedClock(NOW)
        client = BitunixClient(API_KEY, SECRET, clock=clock, nonce_factory=lambda: NONCE, account="bx-main")
        self.adapter = BitunixAdapter("bx-main", client, clock=clock)

    def _sent(self, url: str) -> list[Any]:
        return [json.loads(c.request.body) for c in self._http.calls if c.request.url.split("?")[0] == url]

    # -- reads ------------------------------------------------------------------------------------------
    def given_balance(self) -> ExpectedBalance:
        self._http.get(ACCOUNT, json=reply("account_object"))
        # available 1523.4512 + frozen 25.5 + margin 310.2 = 1859.1512; unrealized -12.35 + 4.1 = -8.25
        return ExpectedBalance(equity=D("1850.9012"), wallet=D("1859.1512"), available=D("1523.4512"),
                               unrealized_pnl=D("-8.25"))

    def given_long_position(self) -> ExpectedPosition:
        self._http.get(POSITIONS, json=reply("positions_documented"))  # BTCUSDT LONG 0.5 at 60000
        self._http.get(TICKERS, json=reply("tickers"))  # BTCUSDT markPrice 57892.1
        return ExpectedPosition(BTC, PositionSide.LONG, D("0.5"), D(60000), D("57892.1"))

    def given_flat(self) -> None:
        self._http.get(POSITIONS, json=ok([]))

    def given_protected_position_and_a_resting_order(self) -> ExpectedOrders:
        self._http.get(PENDING, json=reply("pending_orders"))  # limit buy 11111
        self._http.get(TPSL_PENDING, json=reply("tpsl_pending"))  # row 123: sl 57000, tp 66000
        self._http.get(POSITIONS, json=reply("positions_documented"))  # the row's position 12345678 is the long
        return ExpectedOrders("123:sl", D(57000), "123:tp", D(66000), "11111")

    # -- writes -----------------------------------------------------------------------------------------
    def given_long_to_protect(self) -> None:
        self._http.get(POSITIONS, json=reply("positions_documented"))
        self._http.get(TPSL_PENDING, json=ok([]))
        self._http.post(TPSL_POSITION_PLACE, json=ok({"orderId": "555"}))

    def stop_sent(self) -> Decimal:
        (body,) = self._sent(TPSL_POSITION_PLACE)
        return D(body["slPrice"])

    def given_long_to_close(self) -> Decimal:
        self._http.get(POSITIONS, json=reply("positions_documented"))
        self._http.post(FLASH_CLOSE, json=ok({"positionId": "12345678"}))
        return D("0.5")

    def given_resting_order(self) -> tuple[str, str]:
        self._http.post(CANCEL, json=ok({"successList": [{"orderId": "11111", "clientId": "rm-abc-1"}],
                                        "failureList": []}))
        return BTC, "11111"

    def cancelled(self) -> list[str]:
        plain = [item["orderId"] for body in self._sent(CANCEL) for item in body["orderList"]]
        return plain + [body["orderId"] for body in self._sent(TPSL_CANCEL)]

    def venue_order_id(self, order_id: str) -> str:
        return order_id.split(":")[0]  # "123:sl" is the stop leg of TP/SL row 123

    def given_cancels_accepted(self) -> None:
        self._http.post(CANCEL, json=ok({"successList": [{"orderId": "11111", "clientId": "rm-abc-1"}],
                                        "failureList": []}))
        self._http.post(TPSL_CANCEL, json=ok({"orderId": "123"}))

    def given_no_such_order(self) -> tuple[str, str]:
        failure = {"orderId": "424242", "clientId": "", "errorMsg": "Order not found", "errorCode": "20007"}
        self._http.post(CANCEL, json=ok({"successList": [], "failureList": [failure]}))
        return BTC, "424242"

    # -- failures ---------------------------------------------------------------------------------------
    def given_rejected_credentials(self) -> None:
        # the documented envelope; the message repeats the key, as a venue or a proxy may
        self._http.get(ACCOUNT, json={"code": 10007, "msg": f"Signature Error for api-key {API_KEY}", "data": None})

    def given_throttled(self, seconds: int) -> None:
        self._http.get(ACCOUNT, status=429, body="Too Many Requests", headers={"Retry-After": str(seconds)})

    def given_null_positions(self) -> None:
        self._http.get(POSITIONS, json=ok(None))

    def given_null_balance(self) -> None:
        self._http.get(ACCOUNT, json=ok(None))

    def given_null_open_orders(self) -> None:
        self._http.get(PENDING, json=ok({"orderList": None, "total": 0}))
        self._http.get(TPSL_PENDING, json=ok([]))

    def given_html_instead_of_json(self) -> None:
        self._http.get(ACCOUNT, body="<html><body>Maintenance</body></html>", content_type="text/html")

    def given_venue_unavailable(self) -> None:
        self._http.get(ACCOUNT, status=503, body="Service Unavailable")
