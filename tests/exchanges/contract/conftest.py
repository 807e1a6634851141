"""The ``venue`` fixture: every contract test runs once per venue adapter (paper, Bitunix, Bitget, Binance)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import responses
from sqlalchemy import Engine

from riskmgr.core.clock import FixedClock
from riskmgr.exchanges.ccxt.binance import BinanceUsdmAdapter
from riskmgr.exchanges.ccxt.bitget import BitgetAdapter
from riskmgr.exchanges.paper.exchange import PaperExchange
from tests.exchanges.ccxt.helpers import BINANCE, KEY, PASSPHRASE, SECRET, binance, bitget_markets_routes, route
from tests.exchanges.conftest import FakeMarket
from tests.exchanges.contract.bitunix_harness import BitunixHarness
from tests.exchanges.contract.ccxt_harness import BinanceHarness, BitgetHarness, _quick
from tests.exchanges.contract.harness import Harness
from tests.exchanges.contract.paper_harness import PaperHarness

VENUES = ("paper", "bitunix", "bitget", "binance")


@pytest.fixture(scope="session")
def contract_bitget_markets() -> list[dict]:
    """ccxt market structures for the Bitget fixture contracts, loaded once through the mocked endpoints."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        bitget_markets_routes(mock)
        return _quick(BitgetAdapter("loader", KEY, SECRET, PASSPHRASE)).markets_snapshot()


@pytest.fixture(scope="session")
def contract_binance_markets() -> list[dict]:
    """ccxt market structures for the Binance fixture exchangeInfo, loaded once through the mocked endpoint."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        route(mock, "GET", f"{BINANCE}/fapi/v1/exchangeInfo", binance("exchange_info"))
        return _quick(BinanceUsdmAdapter("loader", KEY, SECRET)).markets_snapshot()


@pytest.fixture
def offline() -> Iterator[responses.RequestsMock]:
    """Intercept every HTTP call; an unmatched call fails like a refused connection (no network, ever)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture(params=VENUES)
def venue(request: pytest.FixtureRequest, offline: responses.RequestsMock) -> Harness:
    """One venue's harness around its real adapter; every test taking it runs for each venue."""
    name = request.param
    if name == "paper":
        make_paper: Callable[..., PaperExchange] = request.getfixturevalue("make_paper")
        market: FakeMarket = request.getfixturevalue("fake_market")
        clock: FixedClock = request.getfixturevalue("paper_clock")
        engine: Engine = request.getfixturevalue("paper_engine")
        db_path: Path = request.getfixturevalue("paper_db_path")
        return PaperHarness(make_paper, market, clock, engine, db_path, offline)
    if name == "bitunix":
        return BitunixHarness(offline)
    if name == "bitget":
        return BitgetHarness(offline, request.getfixturevalue("contract_bitget_markets"))
    return BinanceHarness(offline, request.getfixturevalue("contract_binance_markets"))
