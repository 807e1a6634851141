"""Benchmark the simulated market: cold daily history, warm tickers for every symbol, a one-hour tick path.

Baseline (A): the arithmetic floor of each task in plain numpy — as many seeded normal draws plus a cumulative sum
as the market produces values. Project (B): the simulated market doing the real work (deterministic hierarchical
daily / minute / tick paths, caching). A and B run interleaved, PAIRS pairs; medians and ratios are printed, and
the results are checked (the same seed gives the same bars twice; tickers are finite and above zero).

Targets (B): 500 daily bars from a cold cache < 250 ms; tickers() for all 20 symbols, warm, < 2 ms; path() over one
hour of 1 s ticks < 5 ms. Exits 1 when a target is missed.

Run: .venv/bin/python benchmarks/market.py
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from riskmgr.core.clock import FixedClock
from riskmgr.market.sim.market import SimulatedMarket

NOW = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)
PAIRS = 5
TARGETS_MS = {"cold 500 daily bars": 250.0, "warm tickers, 20 symbols": 2.0, "one hour of 1 s ticks": 5.0}


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def floor(values: int, seed: int = 0) -> Callable[[], object]:
    """Return the plain-numpy floor: ``values`` seeded normal draws and their cumulative sum."""
    return lambda: np.cumsum(np.random.default_rng(seed).normal(0, 0.01, values))


def interleaved(a: Callable[[], object], b: Callable[[], object]) -> tuple[float, float]:
    times_a, times_b = [], []
    for _ in range(PAIRS):
        times_a.append(timed(a))
        times_b.append(timed(b))
    return statistics.median(times_a), statistics.median(times_b)


def main() -> int:
    clock = FixedClock(NOW)
    seeds = iter(range(10_000))

    def cold() -> object:
        market = SimulatedMarket(seed=next(seeds), clock=clock, symbols=["ETH/USDT:USDT"])
        return market.candles("ETH/USDT:USDT", "1d", limit=500)

    twice = [SimulatedMarket(seed=7, clock=clock, symbols=["ETH/USDT:USDT"]).candles("ETH/USDT:USDT", "1d", limit=500)
             for _ in range(2)]
    if not np.array_equal(twice[0].close, twice[1].close) or len(twice[0]) != 500:
        print("RESULT MISMATCH: the same seed did not give the same 500 daily bars")
        return 1
    market = SimulatedMarket(seed=1, clock=clock)
    tickers = market.tickers()
    if len(tickers) != 20 or not all(t.mark > 0 for t in tickers.values()):
        print("RESULT MISMATCH: tickers missing or not above zero")
        return 1

    def step() -> object:
        clock.advance(1)
        return market.tickers()

    market.ticker("BTC/USDT:USDT")
    rows = {
        "cold 500 daily bars": interleaved(floor(500 * 24 * 60), cold),
        "warm tickers, 20 symbols": interleaved(floor(20), step),
        "one hour of 1 s ticks": interleaved(
            floor(3600), lambda: market.path("BTC/USDT:USDT", clock.now() - timedelta(hours=1), clock.now())),
    }
    print(f"{'task':28}{'A floor ms':>12}{'B market ms':>13}{'B / A':>8}{'target':>12}")
    missed = []
    for name, (a, b) in rows.items():
        print(f"{name:28}{a:12.3f}{b:13.3f}{b / a:8.1f}{'< ' + format(TARGETS_MS[name], 'g') + ' ms':>12}")
        if b >= TARGETS_MS[name]:
            missed.append(name)
    if missed:
        print("TARGET MISSED: " + ", ".join(missed))
        return 1
    print("targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
