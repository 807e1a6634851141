"""The ``venue`` fixture: every contract test runs once per venue adapter (paper, Bitunix, Bitget, Binance)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import responses
from sqlalchemy import Engine

from riskmgr.core.clock import FixedClock
from riskmgr.exchanges.paper.exchange import PaperExchange
from tests.exchanges.ccxt.helpers import load_binance_markets, load_bitget_markets
from tests.exchanges.conftest import FakeMarket
from tests.exchanges.contract.bitunix_harness import BitunixHarness
from tests.exchanges.contract.ccxt_harness import BinanceHarness, BitgetHarness
from tests.exchanges.contract.harness import Harness
from tests.exchanges.contract.paper_harness import PaperHarness

VENUES = ("paper", "bitunix", "bitget", "binance")


@pytest.fixture(scope="session")
def contract_bitget_markets() -> list[dict]:
    """ccxt market structures for the Bitget fixture contracts, loaded once through the mocked endpoints."""
    return load_bitget_markets()


@pytest.fixture(scope="session")
def contract_binance_markets() -> list[dict]:
    """ccxt market structures for the Binance fixture exchangeInfo, loaded once through the mocked endpoint."""
    return load_binance_markets()


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
