"""Shared Bitunix test wiring: a fixed clock and nonce, an offline HTTP mock and the documented replies."""

import json
from pathlib import Path
from typing import Any

import pytest
import responses

from riskmgr.core.clock import FixedClock, from_ms
from riskmgr.exchanges.bitunix.adapter import BitunixAdapter
from riskmgr.exchanges.bitunix.client import BitunixClient

FIXTURES = Path(__file__).parent / "fixtures"
BASE = "https://fapi.bitunix.com"
API_KEY = "bx_key"
SECRET = "bx_secret"
NONCE = "abcdefghijklmnopqrstuvwxyz012345"
NOW_MS = 1700000000000
NOW = from_ms(NOW_MS)


def reply(name: str) -> dict[str, Any]:
    """Return a stored documented reply (envelope included)."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


def ok(data: Any) -> dict[str, Any]:
    """Wrap ``data`` in a success envelope."""
    return {"code": 0, "msg": "Success", "data": data}


def sent_json(call: Any) -> Any:
    """Return the JSON body a recorded call sent."""
    return json.loads(call.request.body)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def client(clock: FixedClock) -> BitunixClient:
    return BitunixClient(API_KEY, SECRET, clock=clock, nonce_factory=lambda: NONCE, account="main")


@pytest.fixture
def adapter(client: BitunixClient, clock: FixedClock) -> BitunixAdapter:
    return BitunixAdapter("main", client, clock=clock)


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
