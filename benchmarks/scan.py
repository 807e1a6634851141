"""Benchmark the live signal scan: 250 symbols x 1000 bars of seeded synthetic candles.

Prints the best-of-N time of the raw TA-Lib calls alone (the same calls, periods and inputs the scan
uses) and of the full scan (validation, indicators, rules, signals and quality scores), and their ratio.
Targets: full scan under 30 ms and at most 2x the raw indicator time.

Run: .venv/bin/python benchmarks/scan.py
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import talib

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from riskmgr.clock import from_ms
from riskmgr.indicators import htf_closes
from riskmgr.market.base import CandleArrays
from riskmgr.signal_params import SignalParams
from riskmgr.signal_quality import quality_score
from riskmgr.signals import scan_latest

SYMBOLS, BARS, REPEATS, SEED = 250, 1000, 15, 20240101
TARGET_MS, TARGET_RATIO = 30.0, 2.0


def synthetic_candles(rng: np.random.Generator, start_ms: int, bar_ms: int) -> CandleArrays:
    """Return a geometric random walk with a per-symbol drift, so some symbols trend and some chop."""
    drift = rng.normal(0, 0.0004)
    returns = rng.normal(drift, 0.004, BARS)
    close = 100 * np.exp(np.cumsum(returns))
    open_ = np.concatenate(([close[0]], close[:-1]))
    wick = np.abs(rng.normal(0, 0.002, (2, BARS)))
    high = np.maximum(open_, close) * (1 + wick[0])
    low = np.minimum(open_, close) * (1 - wick[1])
    volume = rng.lognormal(7, 0.4, BARS)
    ts = start_ms + bar_ms * np.arange(BARS, dtype=np.int64)
    return CandleArrays(ts, open_, high, low, close, volume)


def best_of(fn: Callable[[], object]) -> float:
    """Return the fastest of REPEATS runs, in milliseconds."""
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best * 1000


def main() -> None:
    params = SignalParams()
    ip = params.indicators
    bar_ms = ip.bar_ms
    start_ms = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000)
    rng = np.random.default_rng(SEED)
    universe = {f"SYM{k:03d}/USDT:USDT": synthetic_candles(rng, start_ms, bar_ms) for k in range(SYMBOLS)}
    now = from_ms(start_ms + bar_ms * BARS)  # the last bar has just closed
    # The higher-timeframe closes are built outside the timed loop: only TA-Lib's own work is timed.
    htf = {s: np.ascontiguousarray(htf_closes(c.ts, c.close, bar_ms, ip.htf_factor)[0]) for s, c in universe.items()}

    def raw() -> None:
        for symbol, c in universe.items():
            talib.ATR(c.high, c.low, c.close, ip.atr_period)
            talib.RSI(c.close, ip.rsi_period)
            talib.BBANDS(c.close, ip.bb_period, ip.bb_std, ip.bb_std, talib.MA_Type.SMA)
            talib.ADX(c.high, c.low, c.close, ip.adx_period)
            talib.MACD(c.close, ip.macd_fast, ip.macd_slow, ip.macd_signal)
            talib.SMA(c.volume, ip.volume_ma_period)
            for period in (ip.ema_fast, ip.ema_mid, ip.ema_slow):
                talib.EMA(htf[symbol], period)

    def full() -> list:
        result = scan_latest(universe, params, now)
        return [(signal, quality_score(signal, None)) for signal in result.signals]

    scored = full()
    raw_ms, full_ms = best_of(raw), best_of(full)
    ratio = full_ms / raw_ms
    print(f"{SYMBOLS} symbols x {BARS} bars, best of {REPEATS}; {len(scored)} actionable signal(s)")
    print(f"raw TA-Lib indicator calls: {raw_ms:8.2f} ms")
    print(f"full scan + scoring:        {full_ms:8.2f} ms   (target < {TARGET_MS:g} ms)")
    print(f"ratio full / raw:           {ratio:8.2f}      (target <= {TARGET_RATIO:g})")
    ok = full_ms < TARGET_MS and ratio <= TARGET_RATIO
    print("targets met" if ok else "TARGET MISSED")


if __name__ == "__main__":
    main()
