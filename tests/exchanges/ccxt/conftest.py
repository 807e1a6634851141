from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses

from riskmgr.exchanges.ccxt.binance import BinanceUsdmAdapter
from riskmgr.exchanges.ccxt.bitget import BitgetAdapter
from tests.exchanges.ccxt.helpers import BINANCE, KEY, PASSPHRASE, SECRET, binance, bitget_markets_routes, route


def _quick(adapter):  # ccxt's throttle would make tests sleep between mocked calls
    adapter.client.enableRateLimit = False
    return adapter


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    """Intercept every HTTP call; an unmatched call fails like a refused connection."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture(scope="session")
def bitget_markets() -> list[dict]:
    """ccxt market structures for the Bitget fixture contracts, loaded once through the mocked endpoints."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        bitget_markets_routes(mock)
        return _quick(BitgetAdapter("loader", KEY, SECRET, PASSPHRASE)).markets_snapshot()


@pytest.fixture(scope="session")
def binance_markets() -> list[dict]:
    """ccxt market structures for the Binance fixture exchangeInfo, loaded once through the mocked endpoint."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        route(mock, "GET", f"{BINANCE}/fapi/v1/exchangeInfo", binance("exchange_info"))
        return _quick(BinanceUsdmAdapter("loader", KEY, SECRET)).markets_snapshot()


@pytest.fixture(scope="module")
def bitget_adapter(bitget_markets: list[dict]) -> BitgetAdapter:
    """One Bitget adapter per test module, markets injected (construction is the slow part)."""
    return _quick(BitgetAdapter("bg-main", KEY, SECRET, PASSPHRASE, markets=bitget_markets))


@pytest.fixture(scope="module")
def binance_adapter(binance_markets: list[dict]) -> BinanceUsdmAdapter:
    """One Binance adapter per test module, markets injected."""
    return _quick(BinanceUsdmAdapter("bn-main", KEY, SECRET, markets=binance_markets))
