"""The market-data interface shared by the simulated market, exchange public data and the backtester."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np

from riskmgr.core.domain import MarketSpec, Ticker

TIMEFRAME_SECONDS: dict[str, int] = {
    "1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800,
    "1h": 3600, "2h": 7200, "4h": 14400, "6h": 21600, "12h": 43200, "1d": 86400,
}


@dataclass(frozen=True)
class CandleArrays:
    """Columns of OHLCV bars in time order. ``ts`` is each bar's open time in ms since the epoch (UTC)."""

    ts: np.ndarray  # int64
    open: np.ndarray  # float64
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def tail(self, n: int) -> CandleArrays:
        """Return the last ``n`` bars."""
        return self.slice(max(0, len(self) - n), len(self))

    def slice(self, start: int, stop: int) -> CandleArrays:
        return CandleArrays(*(a[start:stop] for a in self._columns()))

    def _columns(self) -> tuple[np.ndarray, ...]:
        return (self.ts, self.open, self.high, self.low, self.close, self.volume)


class MarketData(Protocol):
    """Public market data from one source. ``simulated`` is True for the built-in demo market."""

    source: str
    simulated: bool

    def symbols(self) -> list[str]:
        """Return the unified symbols of every USDT perpetual the source offers."""
        ...

    def specs(self) -> dict[str, MarketSpec]:
        """Return the contract specs by symbol."""
        ...

    def ticker(self, symbol: str, at: datetime | None = None) -> Ticker:
        """Return the price of one symbol now (or at ``at``, for the simulated market)."""
        ...

    def tickers(self, at: datetime | None = None) -> dict[str, Ticker]:
        """Return the prices of every symbol."""
        ...

    def candles(self, symbol: str, timeframe: str, *, end: datetime | None = None, limit: int = 500) -> CandleArrays:
        """Return up to ``limit`` closed-or-forming bars ending at ``end`` (default now), oldest first."""
        ...


class PricePath(Protocol):
    """A source that can replay its tick path: what the paper exchange uses to fire triggers between reads."""

    def path(self, symbol: str, start: datetime, end: datetime) -> CandleArrays:
        """Return bars covering (start, end] at the finest resolution kept (1 s ticks as o=h=l=c bars, or
        coarser bars with real high/low for long gaps), so a trigger crossed in between is never missed."""
        ...


class MarketFeed(MarketData, PricePath, Protocol):
    """What the app's runtime holds: market data that can also replay its tick path (the paper exchange's need)."""
