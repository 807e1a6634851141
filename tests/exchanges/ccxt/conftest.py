from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses

from riskmgr.exchanges.ccxt.binance import BinanceUsdmAdapter
from riskmgr.exchanges.ccxt.bitget import BitgetAdapter
from tests.exchanges.ccxt.helpers import KEY, PASSPHRASE, SECRET, load_binance_markets, load_bitget_markets, quick


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    """Intercept every HTTP call; an unmatched call fails like a refused connection."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture(scope="session")
def bitget_markets() -> list[dict]:
    """ccxt market structures for the Bitget fixture contracts, loaded once through the mocked endpoints."""
    return load_bitget_markets()


@pytest.fixture(scope="session")
def binance_markets() -> list[dict]:
    """ccxt market structures for the Binance fixture exchangeInfo, loaded once through the mocked endpoint."""
    return load_binance_markets()


@pytest.fixture(scope="module")
def bitget_adapter(bitget_markets: list[dict]) -> BitgetAdapter:
    """One Bitget adapter per test module, markets injected (construction is the slow part)."""
    return quick(BitgetAdapter("bg-main", KEY, SECRET, PASSPHRASE, markets=bitget_markets))


@pytest.fixture(scope="module")
def binance_adapter(binance_markets: list[dict]) -> BinanceUsdmAdapter:
    """One Binance adapter per test module, markets injected."""
    return quick(BinanceUsdmAdapter("bn-main", KEY, SECRET, markets=binance_markets))
