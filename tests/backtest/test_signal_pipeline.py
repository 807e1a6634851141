"""The live signal rules drive the engine: every bar's signal computed at once, then decided through the rules."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import numpy as np

from riskmgr.backtest.decisions import EntrySignals
from riskmgr.backtest.engine import EngineInput, run_signal_backtest
from riskmgr.core.clock import FixedClock
from riskmgr.exchanges.fills import FillModel
from riskmgr.market.sim.market import SimulatedMarket
from riskmgr.risk.config import RiskLimits
from riskmgr.signals.params import Reason, SignalParams
from riskmgr.signals.rules import evaluate_series
from tests.backtest.helpers import bar_by_bar, config

END = datetime(2025, 6, 1, tzinfo=UTC)


def market_case(limits: RiskLimits) -> tuple[EngineInput, SignalParams]:
    market = SimulatedMarket(seed=7, clock=FixedClock(END), symbols=["ETH/USDT:USDT"])
    bars = market.candles("ETH/USDT:USDT", "15m", end=END, limit=5000).slice(0, 4999)  # the last one is forming
    cfg = config(symbol="ETH/USDT:USDT", timeframe="15m", limits=limits,
                 fill=FillModel(Decimal("0.0005"), Decimal("0.0002"), Decimal(2)), leverage=3)
    return EngineInput(bars, market.specs()["ETH/USDT:USDT"], cfg, first_bar=1700), SignalParams()


def test_signal_backtest_on_simulated_bars_trades_and_matches_the_bar_by_bar_loop():
    limits = RiskLimits()
    inp, params = market_case(limits)

    outcome = run_signal_backtest(inp, params)
    arrays = evaluate_series(inp.candles, params)
    oracle = bar_by_bar(inp, EntrySignals.from_arrays(arrays, limits.min_signal_confidence))

    assert len(outcome.trades) > 5
    assert outcome.trades.rows() == oracle.trades.rows()
    assert outcome.final_equity == oracle.final_equity
    assert np.array_equal(outcome.equity, oracle.equity)
    # every entry followed an actionable signal on the bar before it
    actionable = set(np.flatnonzero(arrays.reason == Reason.OK).tolist())
    assert all(bar - 1 in actionable for bar in outcome.trades.entry_bar)


def test_signal_stops_and_targets_come_from_the_signal_s_atr_levels():
    inp, params = market_case(RiskLimits())
    arrays = evaluate_series(inp.candles, params)

    outcome = run_signal_backtest(inp, params)

    first = outcome.trades
    k = first.entry_bar[0] - 1
    tick = Decimal("0.01")
    long = first.side[0] > 0
    assert abs(float(first.stop[0]) - arrays.stop[k]) <= float(tick)
    assert abs(float(first.target[0]) - arrays.target[k]) <= float(tick)
    assert (first.stop[0] < first.entry_price[0]) == long


def test_min_signal_confidence_of_the_limits_filters_signals():
    strict, params = market_case(RiskLimits().with_changes(min_signal_confidence=100))
    loose, _ = market_case(RiskLimits())
    confidence = evaluate_series(strict.candles, params).confidence

    picky = run_signal_backtest(strict, params)
    usual = run_signal_backtest(loose, params)

    entries = picky.trades.entry_bar
    assert 0 < len(entries) < len(usual.trades)
    assert all(confidence[bar - 1] == 100 for bar in entries)
