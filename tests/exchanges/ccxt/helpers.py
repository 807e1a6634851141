"""Offline plumbing for the ccxt adapter tests: fixtures on disk, mocked hosts and order listings, request inspection,
adapters without ccxt's throttle (shared by the adapters' own tests and the contract suite)."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import responses

from riskmgr.exchanges.ccxt.binance import BinanceUsdmAdapter
from riskmgr.exchanges.ccxt.bitget import BitgetAdapter

FIXTURES = Path(__file__).parent / "fixtures"
BITGET = "https://api.bitget.com"
BINANCE = "https://fapi.binance.com"
BITGET_PRODUCT_TYPES = (
    "USDT-FUTURES", "COIN-FUTURES", "USDC-FUTURES", "SUSDT-FUTURES", "SCOIN-FUTURES", "SUSDC-FUTURES",
)
# planted so a test can prove they never leak; long enough not to collide with ordinary text
KEY = "PLANTEDKEY-7f3a9c1e5b2d4a6c8e0f"
SECRET = "PLANTEDSECRET-0a1b2c3d4e5f6a7b8c9d"
PASSPHRASE = "PLANTEDPASS-9z8y7x6w"
MIX = f"{BITGET}/api/v2/mix"
FAPI_V1 = f"{BINANCE}/fapi/v1"
Adapter = TypeVar("Adapter", BitgetAdapter, BinanceUsdmAdapter)


@cache
def _load(name: str) -> str:
    return (FIXTURES / name).read_text()


def bitget(key: str) -> Any:
    """Return a fresh copy of one documented-shape Bitget v2 reply."""
    return json.loads(_load("bitget_v2.json"))[key]


def binance(key: str) -> Any:
    """Return a fresh copy of one documented-shape Binance fapi reply."""
    return json.loads(_load("binance_fapi.json"))[key]


def route(mock: responses.RequestsMock, method: str, url: str, body: Any, status: int = 200) -> None:
    """Answer ``method url`` (any query string) with a JSON body."""
    mock.add(method, re.compile(re.escape(url) + r"(\?.*)?$"), json=body, status=status)


def calls_to(mock: responses.RequestsMock, path: str, method: str | None = None) -> list[Any]:
    """Return the recorded requests whose path is ``path``."""
    return [
        c.request for c in mock.calls
        if urlsplit(c.request.url).path == path and (method is None or c.request.method == method)
    ]


def query(request: Any) -> dict[str, str]:
    """Return the query parameters of a recorded request."""
    return dict(parse_qsl(urlsplit(request.url).query))


def form(request: Any) -> dict[str, str]:
    """Return the form-encoded body of a recorded (Binance) request."""
    body = request.body.decode() if isinstance(request.body, bytes) else (request.body or "")
    return dict(parse_qsl(body))


def json_body(request: Any) -> Any:
    """Return the JSON body of a recorded (Bitget) request."""
    return json.loads(request.body)


def bitget_markets_routes(mock: responses.RequestsMock) -> None:
    """Serve Bitget's contract lists: our USDT-FUTURES fixture, every other product type empty."""
    for product in BITGET_PRODUCT_TYPES:
        body = bitget("contracts_usdt" if product == "USDT-FUTURES" else "contracts_empty")
        mock.add(
            responses.GET, f"{BITGET}/api/v2/mix/market/contracts", json=body,
            match=[responses.matchers.query_param_matcher({"productType": product})],
        )


def bitget_listing_routes(http: responses.RequestsMock) -> None:
    """Serve the four order lists from the fixtures, filtered by ``symbol`` like Bitget does."""
    by_list = {None: "orders_pending", "profit_loss": "plan_profit_loss", "normal_plan": "plan_normal",
               "track_plan": "plan_empty"}

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        params = query(request)
        reply = bitget(by_list[params.get("planType")])
        found = reply["data"]["entrustedList"] or []
        reply["data"]["entrustedList"] = [r for r in found if params.get("symbol") in (None, r["symbol"])]
        return 200, {}, json.dumps(reply)

    for path in ("orders-pending", "orders-plan-pending"):
        http.add_callback(responses.GET, f"{MIX}/order/{path}", callback=answer)
    route(http, "GET", f"{MIX}/market/ticker", bitget("ticker_eth"))


def binance_listing_routes(http: responses.RequestsMock) -> None:
    """Serve open and open algo orders from the fixtures, filtered by ``symbol`` like Binance does."""
    for path, key in (("openOrders", "open_orders"), ("openAlgoOrders", "open_algo_orders")):
        def answer(request: Any, key: str = key) -> tuple[int, dict[str, str], str]:
            wanted = query(request).get("symbol")
            return 200, {}, json.dumps([r for r in binance(key) if wanted in (None, r["symbol"])])

        http.add_callback(responses.GET, f"{FAPI_V1}/{path}", callback=answer)


def quick(adapter: Adapter) -> Adapter:
    """Return ``adapter`` without ccxt's throttle, which would make tests sleep between mocked calls."""
    adapter.client.enableRateLimit = False
    return adapter


def load_bitget_markets() -> list[dict]:
    """Return ccxt market structures for the Bitget fixture contracts, loaded through the mocked endpoints."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        bitget_markets_routes(mock)
        return quick(BitgetAdapter("loader", KEY, SECRET, PASSPHRASE)).markets_snapshot()


def load_binance_markets() -> list[dict]:
    """Return ccxt market structures for the Binance fixture exchangeInfo, loaded through the mocked endpoint."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        route(mock, "GET", f"{FAPI_V1}/exchangeInfo", binance("exchange_info"))
        return quick(BinanceUsdmAdapter("loader", KEY, SECRET)).markets_snapshot()
