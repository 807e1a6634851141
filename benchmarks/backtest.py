"""Benchmark the backtester on 1,000,000 synthetic bars.

1. The SMA crossover reference on 1,000,000 one-minute bars, end to end (SMAs, crossings, fills, whole-unit
   sizing, the equity curve at every close and every statistic), against a plain per-bar Python loop of the same
   strategy in the same run (the baseline). Target: under 0.2 s.
2. The Conservative preset (the app's default risk limits and signal rules, 15-minute bars) on 1,000,000 bars,
   end to end (indicators, every bar's signal, the event-driven replay through the risk rules, statistics).
   Target: over 1,000,000 bars per second. For scale, the same preset with the daily re-arm option is timed on
   200,000 bars too (it keeps trading after each halt, so it decides far more signals through the full rule
   set, each with its reasons written out); it has no target.

Prices are seeded random walks rounded to a tick, as exchange prices are. Figures are the best of a few runs.
Run: .venv/bin/python benchmarks/backtest.py
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from riskmgr.backtest.engine import EngineInput, run_signal_backtest
from riskmgr.backtest.params import merge, parse_params
from riskmgr.backtest.presets import BUILTIN, defaults
from riskmgr.backtest.reference import run_sma_reference
from riskmgr.backtest.stats import compute_stats
from riskmgr.clock import from_ms
from riskmgr.config import Settings
from riskmgr.market.base import CandleArrays
from riskmgr.market.sim_specs import SIM_BY_SYMBOL
from tests.backtest.helpers import sma_reference_loop

BARS, REPEATS, SEED = 1_000_000, 3, 20240101
START_MS = 1_704_067_200_000  # 2024-01-01 00:00 UTC
REFERENCE_TARGET_S, PRESET_TARGET_BARS_S = 0.2, 1_000_000
REARM_BARS = 200_000  # the busy variant runs on fewer bars: its time grows with its decisions, not its bars


def synthetic(bar_ms: int, vol: float, price: float, decimals: int, seed: int) -> CandleArrays:
    """Return a seeded random walk with wicks, prices rounded to ``decimals`` places (the tick)."""
    rng = np.random.default_rng(seed)
    close = np.round(price * np.exp(np.cumsum(rng.normal(0, vol, BARS))), decimals)
    open_ = np.concatenate(([price], close[:-1]))
    wick = np.abs(rng.normal(0, vol / 2, (2, BARS)))
    high = np.maximum(np.round(np.maximum(open_, close) * (1 + wick[0]), decimals), np.maximum(open_, close))
    low = np.minimum(np.round(np.minimum(open_, close) * (1 - wick[1]), decimals), np.minimum(open_, close))
    ts = START_MS + bar_ms * np.arange(BARS, dtype=np.int64)
    return CandleArrays(ts, open_, high, low, close, rng.lognormal(7, 0.4, BARS))


def best_of(fn: Callable[[], Any], repeats: int = REPEATS) -> tuple[float, Any]:
    """Return the fastest of ``repeats`` runs in seconds, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def reference(candles: CandleArrays) -> tuple[float, dict[str, Any]]:
    print(f"SMA crossover reference, 10/20, {BARS:,} one-minute bars, 10000 USDT, commission 0")

    def run() -> Any:
        outcome = run_sma_reference(candles, 60_000, fast=10, slow=20, commission=Decimal(0), capital=Decimal(10000))
        return outcome, compute_stats(outcome)

    seconds, (outcome, stats) = best_of(run)
    started = time.perf_counter()
    trades, final, _ = sma_reference_loop(candles.open.tolist(), candles.close.tolist(), 10, 20, Decimal(0),
                                          Decimal(10000))
    loop_s = time.perf_counter() - started
    agree = final == outcome.final_equity and len(trades) == len(outcome.trades)
    print(f"  vectorized, end to end : {seconds:8.3f} s  {BARS / seconds:14,.0f} bars/s  "
          f"(target < {REFERENCE_TARGET_S} s: {'met' if seconds < REFERENCE_TARGET_S else 'MISSED'})")
    print(f"  plain per-bar loop     : {loop_s:8.3f} s  {BARS / loop_s:14,.0f} bars/s  (baseline)")
    print(f"  speed-up               : {loop_s / seconds:8.1f} x")
    print(f"  {stats['trades']:,} trades, final equity {outcome.final_equity} USDT; "
          f"the loop {'agrees' if agree else 'DISAGREES'} ({len(trades):,} trades, {final} USDT)")
    return seconds, stats


def preset_params(name: str, extra: dict[str, Any]) -> Any:
    runtime = SimpleNamespace(settings=Settings())
    data = merge(merge(defaults(runtime), BUILTIN[name].params), extra)  # type: ignore[arg-type]
    return parse_params(data, from_ms(START_MS + 15 * 60_000 * BARS))


def preset(candles: CandleArrays, rearm: bool) -> tuple[float, dict[str, Any]]:
    bars = len(candles)
    p = preset_params("conservative", {"start": from_ms(START_MS).isoformat(),
                                      "end": from_ms(START_MS + 15 * 60_000 * bars).isoformat(),
                                      "rearm": "next_day" if rearm else "never"})
    inp = EngineInput(candles, SIM_BY_SYMBOL["BTC/USDT:USDT"].spec, p.engine_config(), first_bar=0)

    def run() -> Any:
        outcome = run_signal_backtest(inp, p.signal)
        return outcome, compute_stats(outcome)

    seconds, (outcome, stats) = best_of(run, REPEATS if not rearm else 1)
    halts = sum(1 for e in outcome.events if e.kind in ("halted", "reducing"))
    label = f"re-armed daily, {bars:,} bars" if rearm else "as defined (no re-arm)"
    verdict = "" if rearm else (f"  (target > {PRESET_TARGET_BARS_S:,} bars/s: "
                                f"{'met' if bars / seconds > PRESET_TARGET_BARS_S else 'MISSED'})")
    print(f"  {label:<30}: {seconds:8.3f} s  {bars / seconds:12,.0f} bars/s{verdict}")
    print(f"  {'':<30}  {stats['trades']:,} trades, {outcome.signals:,} signals met while flat, {halts} halt(s), "
          f"final equity {outcome.final_equity} USDT")
    return seconds, stats


def main() -> int:
    minute = synthetic(60_000, 0.0006, 100.0, 2, SEED)  # priced so that 10000 USDT buys whole units
    ref_s, _ = reference(minute)
    print(f"Conservative preset, {BARS:,} fifteen-minute bars of BTC/USDT:USDT, 10000 USDT")
    quarter = synthetic(900_000, 0.0025, 40000.0, 1, SEED + 1)
    preset_s, _ = preset(quarter, rearm=False)
    preset(quarter.slice(0, REARM_BARS), rearm=True)
    print(f"ratio: the Conservative preset takes {preset_s / ref_s:.1f} x the reference's time on as many bars")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
