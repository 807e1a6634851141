"""The event search must stop wherever the exact step would change something, or the engine drifts from the loop."""

from __future__ import annotations

from decimal import Decimal

from riskmgr.backtest.engine import EngineInput, run_events
from riskmgr.risk.config import RiskLimits
from tests.backtest.helpers import SPEC, bar_by_bar, candles, config, signals

D = Decimal
QUIET = (100.0, 100.5, 99.5, 100.0)


def test_a_limit_entry_resting_over_midnight_lets_the_new_day_open_with_the_flat_equity():
    # 1h bars from 00:00: bar 23 closes at 00:00, the first close of day two, while the limit entry of bar 21
    # still rests; it fills in bar 24 and is stopped in bar 25 (a loss of 6 x 10 = 60 USDT). The day opened at
    # 10000 USDT (flat at bar 23's close), so the next entry (risk 0.6 % of 9940 = 59.6 USDT) meets a headroom of
    # 9940 - 10000 x 0.99 = 40.00 USDT. Opening the day at the fill bar instead (with the position's unrealized
    # loss in the equity) would give a different headroom.
    rows = [QUIET] * 22 + [(100.5, 101.0, 100.2, 100.6), (100.6, 101.0, 100.2, 100.5),
                           (100.5, 100.5, 99.0, 99.5), (99.5, 99.5, 89.0, 89.5)] + [(89.5, 90.0, 89.0, 89.5)] * 4
    rows[21] = QUIET
    limits = RiskLimits().with_changes(risk_per_trade_pct=D("0.6"), daily_loss_limit_pct=D(1))
    cfg = config(limits=limits, limit_entries=True, validity_bars=3)
    inp = EngineInput(candles(rows), SPEC, cfg)
    sig = signals(len(rows), {21: (1, 90.0, 125.0), 27: (1, 79.5, 114.5)})

    engine, loop = run_events(inp, sig), bar_by_bar(inp, sig)

    assert [(t[0], t[1]) for t in zip(engine.trades.entry_bar, engine.trades.exit_bar, strict=True)] == [(24, 25)]
    assert engine.denials["daily_headroom"].first_reason == loop.denials["daily_headroom"].first_reason
    assert "above the 40.00 USDT left before the daily loss limit" in engine.denials["daily_headroom"].first_reason
    assert engine.final_equity == loop.final_equity == D(9940)
