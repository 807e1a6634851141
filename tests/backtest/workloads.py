"""Seeded bar series, the Conservative preset's engine input, and a digest of many runs (for the kernel's check).

``python -m tests.backtest.workloads CASES`` prints, as JSON, the build in use and one digest per run: the
Conservative preset as defined and re-armed daily on seeded 15-minute bars, and each random case of the pickle
``CASES`` (drawn by ``random_cases``) run by the engine and by the bar-by-bar loop. ``test_kernel`` runs it once
with the compiled kernel and once in plain Python on the same file and requires every digest equal.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import sys
from types import SimpleNamespace
from typing import Any

import numpy as np

from riskmgr.app.config import Settings
from riskmgr.backtest.engine import EngineInput, run_events, run_signal_backtest
from riskmgr.backtest.outcome import Outcome
from riskmgr.backtest.params import merge, parse_params
from riskmgr.backtest.presets import BUILTIN, defaults
from riskmgr.core.clock import from_ms
from riskmgr.market.base import CandleArrays
from riskmgr.market.sim.specs import SIM_BY_SYMBOL

START_MS = 1_704_067_200_000  # 2024-01-01 00:00 UTC
QUARTER_MS = 15 * 60_000


def synthetic(n: int, bar_ms: int, vol: float, price: float, decimals: int, seed: int) -> CandleArrays:
    """Return a seeded random walk with wicks, prices rounded to ``decimals`` places (the tick)."""
    rng = np.random.default_rng(seed)
    close = np.round(price * np.exp(np.cumsum(rng.normal(0, vol, n))), decimals)
    open_ = np.concatenate(([price], close[:-1]))
    wick = np.abs(rng.normal(0, vol / 2, (2, n)))
    high = np.maximum(np.round(np.maximum(open_, close) * (1 + wick[0]), decimals), np.maximum(open_, close))
    low = np.minimum(np.round(np.minimum(open_, close) * (1 - wick[1]), decimals), np.minimum(open_, close))
    ts = START_MS + bar_ms * np.arange(n, dtype=np.int64)
    return CandleArrays(ts, open_, high, low, close, rng.lognormal(7, 0.4, n))


def preset_input(candles: CandleArrays, rearm: bool) -> tuple[EngineInput, Any]:
    """The Conservative preset (the default limits and signal rules) on 15-minute BTC/USDT:USDT bars starting at
    ``START_MS``; ``rearm``: trade again on the next risk day after a halt. Returns the input and signal params."""
    runtime = SimpleNamespace(settings=Settings())
    bars = len(candles)
    extra = {"start": from_ms(START_MS).isoformat(), "end": from_ms(START_MS + QUARTER_MS * bars).isoformat(),
             "rearm": "next_day" if rearm else "never"}
    data = merge(merge(defaults(runtime), BUILTIN["conservative"].params), extra)  # type: ignore[arg-type]
    p = parse_params(data, from_ms(START_MS + QUARTER_MS * bars))
    return EngineInput(candles, SIM_BY_SYMBOL["BTC/USDT:USDT"].spec, p.engine_config(), first_bar=0), p.signal


def digest(o: Outcome) -> dict[str, Any]:
    """Every figure of a run, hashed, with the trade count and final equity kept readable."""
    parts = (o.trades.rows(), str(o.final_equity), o.equity.tobytes().hex(),
             sorted((str(k), v.count, v.first_reason, v.first_ms) for k, v in o.denials.items()),
             o.events, o.signals, o.exposure_bars, str(o.funding), repr(o.open_position))
    return {"trades": len(o.trades), "final_equity": str(o.final_equity),
            "sha256": hashlib.sha256(repr(parts).encode()).hexdigest()}


def preset_runs(bars: int = 20_000) -> dict[str, dict[str, Any]]:
    quarter = synthetic(bars, QUARTER_MS, 0.0025, 40000.0, 1, 20240102)
    runs = {}
    for name, rearm in (("conservative as defined", False), ("conservative re-armed daily", True)):
        inp, signal = preset_input(quarter, rearm)
        runs[name] = digest(run_signal_backtest(inp, signal))
    return runs


def random_cases(examples: int = 200) -> list[tuple[EngineInput, Any]]:
    """The property test's random cases (data, signals, limits, fees, funding, limit entries, risk-day zones)."""
    from hypothesis import HealthCheck, given, settings

    from tests.backtest.test_property import cases

    drawn: list[tuple[EngineInput, Any]] = []

    @settings(derandomize=True, max_examples=examples, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(cases())
    def collect(case: tuple[EngineInput, Any]) -> None:
        drawn.append(case)

    collect()
    return drawn


def case_runs(cases: list[tuple[EngineInput, Any]]) -> dict[str, dict[str, Any]]:
    """Each case run by the engine and by the tests' bar-by-bar loop."""
    from tests.backtest.helpers import bar_by_bar

    runs: dict[str, dict[str, Any]] = {}
    for k, (inp, sig) in enumerate(cases, 1):
        runs[f"random case {k}, engine"] = digest(run_events(inp, sig))
        runs[f"random case {k}, bar-by-bar loop"] = digest(bar_by_bar(inp, sig))
    return runs


def main(argv: list[str]) -> None:
    """Print the build in use and the digests; ``argv``: the path of a pickle of cases (``random_cases``)."""
    from riskmgr.backtest import engine
    from riskmgr.backtest.kernel import MODE

    with open(argv[0], "rb") as f:
        cases = pickle.load(f)  # noqa: S301 - the test's own file, written just before
    print(json.dumps({"compiled": MODE.compiled, "mode": MODE.describe(), "engine_file": engine.__file__,
                      "runs": {**preset_runs(), **case_runs(cases)}}))


if __name__ == "__main__":
    main(sys.argv[1:])

