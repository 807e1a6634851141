"""Fixtures for the paper-exchange tests: a tiny market driven by hand, a fixed clock, a temporary SQLite file."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, create_engine

from riskmgr.core.clock import FixedClock, to_ms
from riskmgr.core.domain import MarketSpec, Ticker
from riskmgr.exchanges.paper.exchange import PaperExchange
from riskmgr.market.base import CandleArrays
from riskmgr.persistence.extensions import db
from tests.conftest import ON_POSTGRES, database_url
from tests.support.apps import runtime_on

START = datetime(2024, 1, 1, tzinfo=UTC)
BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
SPECS = {
    BTC: MarketSpec(
        symbol=BTC, base="BTC", quote="USDT", min_qty=Decimal("0.002"), qty_step=Decimal("0.001"),
        price_tick=Decimal("0.1"), min_notional=Decimal(150), max_leverage=100,
        maintenance_margin_rate=Decimal("0.005"),
    ),
    ETH: MarketSpec(
        symbol=ETH, base="ETH", quote="USDT", min_qty=Decimal("0.01"), qty_step=Decimal("0.01"),
        price_tick=Decimal("0.01"), min_notional=Decimal(5), max_leverage=50,
        maintenance_margin_rate=Decimal("0.01"),
    ),
}


class FakeMarket:
    """Prices set by the test: each ``bar`` call adds one bar at the clock's current time."""

    source = "fake"
    simulated = True

    def __init__(self, clock: FixedClock, prices: dict[str, Decimal]):
        self._clock = clock
        self._bars: dict[str, list[tuple[datetime, float, float, float, float]]] = {s: [] for s in prices}
        self._opening = dict(prices)
        self.path_calls = 0

    def bar(self, symbol: str, open_: str, high: str, low: str, close: str) -> None:
        """Add a bar at the clock's time (prices as strings, to read like the hand computation)."""
        self._bars[symbol].append((self._clock.now(), float(open_), float(high), float(low), float(close)))

    def price(self, symbol: str, price: str) -> None:
        """Add a one-tick bar (open = high = low = close) at the clock's time."""
        self.bar(symbol, price, price, price, price)

    def symbols(self) -> list[str]:
        return sorted(self._bars)

    def specs(self) -> dict[str, MarketSpec]:
        return {s: SPECS[s] for s in self._bars}

    def ticker(self, symbol: str, at: datetime | None = None) -> Ticker:
        at = at or self._clock.now()
        closes = [Decimal(repr(b[4])) for b in self._bars[symbol] if b[0] <= at]
        last = closes[-1] if closes else self._opening[symbol]
        return Ticker(symbol=symbol, last=last, mark=last, timestamp=at)

    def tickers(self, at: datetime | None = None) -> dict[str, Ticker]:
        return {s: self.ticker(s, at) for s in self._bars}

    def candles(self, symbol: str, timeframe: str, *, end: datetime | None = None, limit: int = 500) -> CandleArrays:
        end = end or self._clock.now()
        return self._arrays([b for b in self._bars[symbol] if b[0] <= end][-limit:])

    def path(self, symbol: str, start: datetime, end: datetime) -> CandleArrays:
        self.path_calls += 1
        return self._arrays([b for b in self._bars[symbol] if start < b[0] <= end])

    @staticmethod
    def _arrays(bars: list[tuple[datetime, float, float, float, float]]) -> CandleArrays:
        return CandleArrays(
            ts=np.array([to_ms(b[0]) for b in bars], dtype=np.int64),
            open=np.array([b[1] for b in bars], dtype=np.float64),
            high=np.array([b[2] for b in bars], dtype=np.float64),
            low=np.array([b[3] for b in bars], dtype=np.float64),
            close=np.array([b[4] for b in bars], dtype=np.float64),
            volume=np.ones(len(bars), dtype=np.float64),
        )


# fixture names carry "paper"/"fake" so they cannot shadow fixtures of other tests in this directory
@pytest.fixture
def paper_clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def fake_market(paper_clock: FixedClock) -> FakeMarket:
    return FakeMarket(paper_clock, {BTC: Decimal(50000), ETH: Decimal(3000)})


@pytest.fixture(scope="session")
def paper_schema(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty database with every table, built once; each test gets a copy (create_all is the slow part)."""
    path = tmp_path_factory.mktemp("paper-schema") / "schema.db"
    engine = create_engine(f"sqlite:///{path}")
    db.metadata.create_all(engine)
    engine.dispose()
    return path


@pytest.fixture
def paper_db_path(tmp_path: Path, paper_schema: Path) -> Path:
    path = tmp_path / "paper.db"
    shutil.copyfile(paper_schema, path)
    return path


@pytest.fixture
def paper_engine(paper_db_path: Path, tmp_path: Path) -> Iterator[Engine]:
    if ON_POSTGRES:  # a schema of the test's own, built here (no file to copy)
        engine = create_engine(database_url(tmp_path, "paper"))
        db.metadata.create_all(engine)
    else:
        engine = create_engine(f"sqlite:///{paper_db_path}")
    yield engine
    engine.dispose()


@pytest.fixture
def make_paper(
    paper_engine: Engine, fake_market: FakeMarket, paper_clock: FixedClock
) -> Callable[..., PaperExchange]:
    def make(**overrides: object) -> PaperExchange:
        options: dict[str, object] = {
            "start_balance": Decimal(10000),
            "taker_fee": Decimal("0.0005"),
            "maker_fee": Decimal("0.0002"),
            "slippage_bps": Decimal(0),
        }
        options.update(overrides)
        name = str(options.pop("account", "paper"))
        engine = options.pop("engine", paper_engine)
        return PaperExchange(name, engine, fake_market, paper_clock, **options)  # type: ignore[arg-type]

    return make


@pytest.fixture
def paper(make_paper: Callable[..., PaperExchange]) -> PaperExchange:
    return make_paper()


@pytest.fixture
def rt(tmp_path, paper_clock, fake_market):
    """The app's runtime on ``fake_market``: paper slippage and funding at 0, so fills and P&L are the test's prices."""
    with runtime_on(tmp_path, paper_clock, market=fake_market, paper_slippage_bps=Decimal(0),
                    paper_funding_pct_8h=Decimal(0)) as runtime:
        yield runtime
