"""Benchmark the backtester against independent baselines, interleaved; exit 1 when a target is missed.

Targets (medians of interleaved runs: baseline, project, baseline, project, ...; at least 3 pairs):

1. **SMA crossover reference**, 10/20, 1,000,000 one-minute bars of 2-decimal prices, end to end (SMAs,
   crossings, fills, whole-unit sizing, the equity at every close and every statistic): **under 0.08 s**.
   Baseline: the independent oracle of the tests (``tests.backtest.helpers.sma_cross_oracle``: backtesting.py's
   documented semantics, pandas rolling means, a per-bar Python loop) on the same bars. Its trades and final
   equity must equal the reference's exactly, or the run fails.
2. **Conservative preset** (the default limits and signal rules), 15-minute bars of BTC/USDT:USDT, end to end
   (indicators, every bar's signal, the event-driven replay through the risk rules): **over 1,000,000 bars/s**
   on 1,000,000 bars as defined, and **over 1,000,000 bars/s re-armed daily on 200,000 bars** (the busy case:
   it keeps trading after each halt, so thousands of entries go through the full rule set). Baseline: the plain
   bar-by-bar loop of the tests (every bar stepped exactly, every signal decided) on fewer bars — it is too slow
   for the full size, so its figure is per bar and said so; on those bars the engine must give exactly the
   loop's trades and final equity.
3. **Scaling** (printed curves): the reference and the re-armed preset at 100k, 200k, 500k and 1M bars; the
   reference's cost per bar and the preset's cost per decision (a signal decided through the full rule set; its
   number per bar depends on the data, so its cost per bar is printed but not judged) must not grow by more
   than 1.5x from the smallest size to the largest.

Extra check, when the ``backtesting`` package is importable (it is not a requirement): backtesting.py's own
``SmaCross`` on its GOOG data against the reference (same trades; final equity within 1e-6).

The engine runs the compiled backtest kernel when it is built (``make bench`` builds it; the first line printed
says which build ran): the hot modules compiled by Cython from their unchanged sources, with the same results.

Prices are seeded random walks rounded to a tick. Under load, trust the ratios more than absolute times.
Run: .venv/bin/python benchmarks/backtest.py
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from riskmgr.backtest.decisions import EntrySignals
from riskmgr.backtest.engine import run_events, run_signal_backtest
from riskmgr.backtest.kernel import MODE as KERNEL
from riskmgr.backtest.reference import run_sma_reference
from riskmgr.backtest.stats import compute_stats
from riskmgr.market.base import CandleArrays
from riskmgr.signals.rules import evaluate_series
from tests.backtest.helpers import bar_by_bar, sma_cross_oracle
from tests.backtest.workloads import preset_input, synthetic

BARS, PAIRS, SEED = 1_000_000, 3, 20240101
REFERENCE_TARGET_S, PRESET_TARGET_BARS_S = 0.08, 1_000_000
REARM_BARS = 200_000
LOOP_BARS = 20_000  # the bar-by-bar baseline's size
SIZES = (100_000, 200_000, 500_000, 1_000_000)
GROWTH_LIMIT = 1.5
CAPITAL = Decimal(10000)
missed: list[str] = []


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def interleaved(baseline: Callable[[], Any], project: Callable[[], Any], pairs: int = PAIRS
                ) -> tuple[float, float, Any, Any]:
    """Run baseline, project, baseline, project ...; return both medians (s) and the last results."""
    base_t: list[float] = []
    proj_t: list[float] = []
    base = proj = None
    for _ in range(pairs):
        t, base = timed(baseline)
        base_t.append(t)
        t, proj = timed(project)
        proj_t.append(t)
    return statistics.median(base_t), statistics.median(proj_t), base, proj


def check(ok: bool, message: str) -> None:
    if not ok:
        missed.append(message)
        print(f"TARGET MISSED: {message}")


def reference_run(candles: CandleArrays) -> tuple[Any, dict[str, Any]]:
    outcome = run_sma_reference(candles, 60_000, fast=10, slow=20, commission=Decimal(0), capital=CAPITAL)
    return outcome, compute_stats(outcome)


def booked(o: Any) -> list[tuple]:
    t = o.trades
    return list(zip(t.entry_bar, t.exit_bar, t.side, t.qty, t.entry_price, t.exit_price, t.net_pnl, strict=True))


def reference(minute: CandleArrays, table: list[tuple]) -> None:
    print(f"1. SMA crossover reference 10/20, {BARS:,} one-minute bars, {CAPITAL} USDT, commission 0")
    base_s, ref_s, oracle, (outcome, stats) = interleaved(
        lambda: sma_cross_oracle(minute.open, minute.close, 10, 20, Decimal(0), CAPITAL),
        lambda: reference_run(minute))
    same = booked(outcome) == oracle.trades and outcome.final_equity == oracle.final
    print(f"   oracle (pandas SMAs, per-bar loop) : {base_s:8.3f} s   reference: {ref_s:8.3f} s   "
          f"ratio {base_s / ref_s:6.1f} x")
    print(f"   {stats['trades']:,} trades, final equity {outcome.final_equity} USDT; oracle: "
          f"{len(oracle.trades):,} trades, {oracle.final} USDT -> {'equal' if same else 'DIFFERENT'}")
    check(same, "the SMA reference's trades or final equity differ from the oracle's")
    check(ref_s < REFERENCE_TARGET_S, f"SMA reference {ref_s:.3f} s on {BARS:,} bars (target < {REFERENCE_TARGET_S} s)")
    table.append(("SMA reference, 1M bars", f"< {REFERENCE_TARGET_S} s", f"{base_s:.3f} s (oracle)",
                  f"{ref_s:.3f} s", f"{base_s / ref_s:.1f}x"))


def same_outcome(a: Any, b: Any) -> bool:
    return a.trades.rows() == b.trades.rows() and a.final_equity == b.final_equity


def preset(quarter: CandleArrays, rearm: bool, bars: int, table: list[tuple]) -> None:
    label = f"re-armed daily, {bars:,} bars" if rearm else f"as defined, {bars:,} bars"
    inp, signal = preset_input(quarter.slice(0, bars), rearm)
    small, small_signal = preset_input(quarter.slice(0, LOOP_BARS), rearm)
    small_sig = EntrySignals.from_arrays(evaluate_series(small.candles, small_signal),
                                         small.config.limits.min_signal_confidence)
    base_s, proj_s, loop_out, outcome = interleaved(lambda: bar_by_bar(small, small_sig),
                                                    lambda: run_signal_backtest(inp, signal))
    same = same_outcome(run_events(small, small_sig), loop_out)
    rate, loop_rate = bars / proj_s, LOOP_BARS / base_s
    print(f"   {label:<30}: {proj_s:7.3f} s {rate:12,.0f} bars/s; bar-by-bar loop on {LOOP_BARS:,} bars "
          f"{base_s:6.3f} s = {loop_rate:10,.0f} bars/s (scaled: {bars / loop_rate:6.1f} s); ratio "
          f"{rate / loop_rate:5.1f} x")
    print(f"   {'':<30}  {len(outcome.trades):,} trades, {outcome.signals:,} signals met while flat, final equity "
          f"{outcome.final_equity} USDT; engine vs loop on {LOOP_BARS:,} bars: {'equal' if same else 'DIFFERENT'}")
    check(same, f"Conservative preset ({label}): the engine differs from the bar-by-bar loop")
    check(rate > PRESET_TARGET_BARS_S, f"Conservative preset ({label}) {rate:,.0f} bars/s "
                                       f"(target > {PRESET_TARGET_BARS_S:,})")
    table.append((f"Conservative, {label}", f"> {PRESET_TARGET_BARS_S / 1e6:.0f}M bars/s",
                  f"{loop_rate:,.0f} bars/s (loop, {LOOP_BARS // 1000}k bars)", f"{rate:,.0f} bars/s",
                  f"{rate / loop_rate:.1f}x"))


def scaling(minute: CandleArrays, quarter: CandleArrays) -> None:
    print(f"3. Scaling (cost per unit may grow at most {GROWTH_LIMIT}x from {SIZES[0]:,} to {SIZES[-1]:,} bars; "
          "the preset's decisions are the signals decided while flat, each through the full rule set)")
    ref_cost: list[float] = []
    bar_cost: list[float] = []
    decision_cost: list[float] = []
    print(f"   {'bars':>9} | {'reference bars/s':>16} | {'re-armed bars/s':>15} | {'trades':>7} | {'decisions':>9} | "
          f"{'µs/decision':>11}")
    for n in SIZES:
        part = minute.slice(0, n)
        ref_s = statistics.median(timed(lambda p=part: reference_run(p))[0] for _ in range(PAIRS))
        inp, signal = preset_input(quarter.slice(0, n), True)
        pre_s, outcome = timed(lambda i=inp, s=signal: run_signal_backtest(i, s))  # seconds long: one run
        decisions = max(outcome.signals, 1)
        ref_cost.append(ref_s / n)
        bar_cost.append(pre_s / n)
        decision_cost.append(pre_s / decisions)
        print(f"   {n:>9,} | {n / ref_s:>16,.0f} | {n / pre_s:>15,.0f} | {len(outcome.trades):>7,} | {decisions:>9,} | "
              f"{pre_s / decisions * 1e6:>11.1f}")
    # the preset's cost per bar follows its workload (a shrunken account meets more signals while flat, each
    # decided in full), so its unit is the decision; its per-bar growth is printed, not judged
    print(f"   re-armed preset cost per bar: {bar_cost[-1] / bar_cost[0]:.2f}x (decisions per bar "
          f"{decision_cost[0] and bar_cost[-1] / decision_cost[-1] / (bar_cost[0] / decision_cost[0]):.2f}x)")
    for name, costs in (("reference cost per bar", ref_cost), ("re-armed preset cost per decision", decision_cost)):
        growth = costs[-1] / costs[0]
        print(f"   {name}: {growth:.2f}x from the smallest to the largest size")
        check(growth <= GROWTH_LIMIT, f"{name} grows {growth:.2f}x with size (limit {GROWTH_LIMIT}x)")


def goog_check() -> None:
    """Compare with backtesting.py itself on its GOOG data, when the package is installed (an extra check)."""
    try:
        from backtesting import Backtest, Strategy  # type: ignore[import-not-found]
        from backtesting.lib import crossover  # type: ignore[import-not-found]
        from backtesting.test import GOOG, SMA  # type: ignore[import-not-found]
    except ImportError:
        print("Extra check: backtesting.py is not installed here; skipped (pip install backtesting to run it)")
        return

    class SmaCross(Strategy):  # backtesting.py's documented example
        def init(self) -> None:
            self.ma1 = self.I(SMA, self.data.Close, 10)
            self.ma2 = self.I(SMA, self.data.Close, 20)

        def next(self) -> None:
            if crossover(self.ma1, self.ma2):
                self.position.close()
                self.buy()
            elif crossover(self.ma2, self.ma1):
                self.position.close()
                self.sell()

    stats = Backtest(GOOG, SmaCross, cash=10000, commission=0.002, finalize_trades=False).run()
    ts = (GOOG.index.view("int64") // 1_000_000).astype(np.int64)
    columns = [GOOG[c].to_numpy(dtype=np.float64) for c in ("Open", "High", "Low", "Close", "Volume")]
    ours = run_sma_reference(CandleArrays(ts, *columns), 86_400_000, fast=10, slow=20,
                             commission=Decimal("0.002"), capital=Decimal(10000))
    theirs = stats["_trades"]
    same = (len(theirs) == len(ours.trades) and theirs["EntryBar"].tolist() == ours.trades.entry_bar
            and theirs["Size"].abs().tolist() == [int(q) for q in ours.trades.qty])
    close = abs(float(ours.final_equity) - stats["Equity Final [$]"]) <= 1e-6 * stats["Equity Final [$]"]
    print(f"Extra check, backtesting.py SmaCross on GOOG: {len(theirs)} trades, final {stats['Equity Final [$]']:.6f}; "
          f"reference {len(ours.trades)} trades, final {ours.final_equity} -> "
          f"{'same trades' if same else 'DIFFERENT trades'}, final {'within 1e-6' if close else 'DIFFERENT'}")
    check(same and close, "the reference differs from backtesting.py on GOOG")


def main() -> int:
    table: list[tuple] = []
    print(f"backtest kernel: {KERNEL.describe()}")
    minute = synthetic(BARS, 60_000, 0.0006, 100.0, 2, SEED)  # priced so that 10000 USDT buys whole units
    quarter = synthetic(BARS, 900_000, 0.0025, 40000.0, 1, SEED + 1)
    reference(minute, table)
    print(f"2. Conservative preset, fifteen-minute bars of BTC/USDT:USDT, {CAPITAL} USDT")
    preset(quarter, False, BARS, table)
    preset(quarter, True, REARM_BARS, table)
    scaling(minute, quarter)
    goog_check()
    print()
    print(f"| {'benchmark':<34} | {'target':<13} | {'baseline':<34} | {'measured':<16} | {'ratio':>6} |")
    for row in table:
        print(f"| {row[0]:<34} | {row[1]:<13} | {row[2]:<34} | {row[3]:<16} | {row[4]:>6} |")
    if missed:
        print(f"{len(missed)} target(s) missed")
        return 1
    print("every target met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
