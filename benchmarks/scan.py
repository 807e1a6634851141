"""Benchmark the live signal scan: 250 symbols x 1000 bars of seeded synthetic candles.

Baseline (A): the raw TA-Lib calls alone, as a user would make them (``talib.ATR`` ... with the same periods and
inputs the scan uses). Project (B): the full scan (validation, indicators, rules, signals and quality scores).
A and B run interleaved (A, B, A, B, ...), PAIRS pairs; the medians and their ratio are printed.
Results are checked as well as times: every indicator column the scan computes equals raw TA-Lib's.
A scaling curve (50, 100, 250 symbols) prints the cost per symbol, which must not grow with the universe.

Targets: full scan under 30 ms; at most 1.5x the raw TA-Lib time; per-symbol cost at 250 symbols at most 1.5x
that at 50. The script exits 1 when a target is missed.

Run: .venv/bin/python benchmarks/scan.py
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import talib

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from riskmgr.core.clock import from_ms
from riskmgr.market.base import CandleArrays
from riskmgr.signals.conservative import scan_latest
from riskmgr.signals.indicators import compute_indicators, htf_closes
from riskmgr.signals.params import SignalParams
from riskmgr.signals.quality import quality_score

SYMBOLS, BARS, PAIRS, SEED = 250, 1000, 15, 20240101
TARGET_MS, TARGET_RATIO, TARGET_SCALING = 30.0, 1.5, 1.5


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


def timed(fn: Callable[[], object]) -> float:
    """Return one run's time in milliseconds."""
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def interleaved(a: Callable[[], object], b: Callable[[], object], pairs: int) -> tuple[float, float]:
    """Run a, b, a, b, ... ``pairs`` times; return both medians in milliseconds."""
    times_a, times_b = [], []
    for _ in range(pairs):
        times_a.append(timed(a))
        times_b.append(timed(b))
    return statistics.median(times_a), statistics.median(times_b)


def same_values(universe: dict[str, CandleArrays], htf: dict[str, np.ndarray], params: SignalParams) -> int:
    """Check every indicator the scan computes against raw TA-Lib on the same arrays; return the columns checked."""
    ip, checked = params.indicators, 0
    for symbol, c in universe.items():
        ind = compute_indicators(c, ip)
        upper, middle, lower = talib.BBANDS(c.close, ip.bb_period, ip.bb_std, ip.bb_std, talib.MA_Type.SMA)
        macd_line, _, hist = talib.MACD(c.close, ip.macd_fast, ip.macd_slow, ip.macd_signal)
        pairs = [
            (ind.atr, talib.ATR(c.high, c.low, c.close, ip.atr_period)), (ind.rsi, talib.RSI(c.close, ip.rsi_period)),
            (ind.bb_upper, upper), (ind.bb_middle, middle), (ind.bb_lower, lower),
            (ind.adx, talib.ADX(c.high, c.low, c.close, ip.adx_period)), (ind.macd, macd_line), (ind.macd_hist, hist),
            (ind.volume_ma, talib.SMA(c.volume, ip.volume_ma_period)),
            (ind.htf_ema_fast, talib.EMA(htf[symbol], ip.ema_fast)),
            (ind.htf_ema_mid, talib.EMA(htf[symbol], ip.ema_mid)),
            (ind.htf_ema_slow, talib.EMA(htf[symbol], ip.ema_slow)),
        ]
        for ours, theirs in pairs:
            if not np.array_equal(ours, theirs, equal_nan=True):
                raise SystemExit(f"RESULT MISMATCH: an indicator of {symbol} differs from raw TA-Lib")
            checked += 1
    return checked


def main() -> int:
    params = SignalParams()
    ip = params.indicators
    bar_ms = ip.bar_ms
    start_ms = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000)
    rng = np.random.default_rng(SEED)
    universe = {f"SYM{k:03d}/USDT:USDT": synthetic_candles(rng, start_ms, bar_ms) for k in range(SYMBOLS)}
    now = from_ms(start_ms + bar_ms * BARS)  # the last bar has just closed
    # The higher-timeframe closes are built outside the timed loop: only TA-Lib's own work is timed.
    htf = {s: np.ascontiguousarray(htf_closes(c.ts, c.close, bar_ms, ip.htf_factor)[0]) for s, c in universe.items()}

    def raw(symbols: list[str]) -> None:
        for symbol in symbols:
            c = universe[symbol]
            talib.ATR(c.high, c.low, c.close, ip.atr_period)
            talib.RSI(c.close, ip.rsi_period)
            talib.BBANDS(c.close, ip.bb_period, ip.bb_std, ip.bb_std, talib.MA_Type.SMA)
            talib.ADX(c.high, c.low, c.close, ip.adx_period)
            talib.MACD(c.close, ip.macd_fast, ip.macd_slow, ip.macd_signal)
            talib.SMA(c.volume, ip.volume_ma_period)
            for period in (ip.ema_fast, ip.ema_mid, ip.ema_slow):
                talib.EMA(htf[symbol], period)

    def full(symbols: list[str]) -> list:
        result = scan_latest({s: universe[s] for s in symbols}, params, now)
        return [(signal, quality_score(signal, None)) for signal in result.signals]

    everything = list(universe)
    checked = same_values(universe, htf, params)
    scored = full(everything)
    raw_ms, full_ms = interleaved(lambda: raw(everything), lambda: full(everything), PAIRS)
    ratio = full_ms / raw_ms
    print(f"{SYMBOLS} symbols x {BARS} bars, {PAIRS} interleaved pairs (medians); {len(scored)} actionable signal(s);"
          f" {checked} indicator columns equal to raw TA-Lib")
    print(f"{'':28}{'median ms':>10}  target")
    print(f"{'A raw TA-Lib calls':28}{raw_ms:10.2f}")
    print(f"{'B full scan + scoring':28}{full_ms:10.2f}  < {TARGET_MS:g} ms")
    print(f"{'ratio B / A':28}{ratio:10.2f}  <= {TARGET_RATIO:g}")
    print("scaling (full scan): symbols -> ms per symbol")
    per_symbol = {}
    for count in (50, 100, 250):
        subset = everything[:count]
        _, ms = interleaved(lambda subset=subset: raw(subset), lambda subset=subset: full(subset), 7)
        per_symbol[count] = ms / count
        print(f"  {count:4d} -> {per_symbol[count] * 1000:7.1f} us")
    growth = per_symbol[250] / per_symbol[50]
    print(f"  per-symbol cost 250 vs 50: {growth:.2f}x (target <= {TARGET_SCALING:g})")
    checks = (("full scan time", full_ms >= TARGET_MS), ("ratio to raw TA-Lib", ratio > TARGET_RATIO),
              ("scaling", growth > TARGET_SCALING))
    missed = [name for name, bad in checks if bad]
    if missed:
        print("TARGET MISSED: " + ", ".join(missed))
        return 1
    print("targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
