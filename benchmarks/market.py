"""Benchmark the simulated market: cold daily history, warm tickers for every symbol, a one-hour tick path.

Run: .venv/bin/python benchmarks/market.py  (prints figures; asserts nothing)
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from riskmgr.clock import FixedClock
from riskmgr.market.simulated import SimulatedMarket

NOW = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)


def best_of(n: int, fn) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    clock = FixedClock(NOW)
    cold = []
    for seed in range(3):
        market = SimulatedMarket(seed=seed, clock=clock, symbols=["ETH/USDT:USDT"])
        t = time.perf_counter()
        market.candles("ETH/USDT:USDT", "1d", limit=500)
        cold.append(time.perf_counter() - t)
    print(f"500 daily bars, cold cache, one symbol: {min(cold) * 1000:.1f} ms (best of 3)")

    market = SimulatedMarket(seed=1, clock=clock)
    market.tickers()

    def step() -> None:
        clock.advance(1)
        market.tickers()

    print(f"tickers() for {len(market.symbols())} symbols, warm: {best_of(20, step) * 1000:.3f} ms (best of 20)")
    market.ticker("BTC/USDT:USDT")
    one_hour = best_of(5, lambda: market.path("BTC/USDT:USDT", clock.now() - timedelta(hours=1), clock.now()))
    print(f"path() over one hour of 1 s ticks: {one_hour * 1000:.2f} ms (best of 5)")


if __name__ == "__main__":
    main()
