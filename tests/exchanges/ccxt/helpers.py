"""Offline plumbing for the ccxt adapter tests: fixtures on disk, mocked hosts, request inspection."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import responses

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
