"""Which exit fills inside one bar: the open comes first; "stop first" only when the bar's path is ambiguous.

Every case uses hand-computed bars: a long (or short) entered at bar 1's open 100 with stop 98 and target 104 (a
short: stop 102, target 96), no fees, no slippage; the second bar decides.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from riskmgr.backtest.engine import EngineInput, run_events
from riskmgr.backtest.outcome import Outcome
from riskmgr.core.domain import PositionSide
from riskmgr.exchanges import fills as fm
from riskmgr.risk.config import RiskLimits
from tests.backtest.helpers import SPEC, T0, bar_by_bar, candles, config, signals

D = Decimal
WIDE = RiskLimits().with_changes(max_position_notional=D(100000))
SIGNAL_BAR = (100, 100.5, 99.5, 100)
ENTRY_BAR = (100, 100.5, 99.5, 100)  # the entry fills at its open 100 and nothing else happens in it


def bar(o: str, h: str, lo: str, c: str) -> fm.Bar:
    return fm.Bar(T0, D(o), D(h), D(lo), D(c))


def exit_of(side: PositionSide, b: fm.Bar) -> fm.Exit | None:
    long = side is PositionSide.LONG
    return fm.position_exit(side, b, stop=D(98) if long else D(102), liquidation=None,
                            take_profit=D(104) if long else D(96))


def run(decisive: tuple[float, float, float, float], side: int) -> Outcome:
    rows = [SIGNAL_BAR, ENTRY_BAR, decisive, (100, 100.5, 99.5, 100)]
    stop, target = (98.0, 104.0) if side > 0 else (102.0, 96.0)
    inp = EngineInput(candles(rows), SPEC, config(limits=WIDE))
    sig = signals(len(rows), {0: (side, stop, target)})
    fast, slow = run_events(inp, sig), bar_by_bar(inp, sig)
    assert fast.trades.rows() == slow.trades.rows() and np.array_equal(fast.equity, slow.equity)
    return fast


# -- the rule, on single bars -------------------------------------------------------------------------------


def test_a_long_whose_bar_opens_above_the_target_takes_the_profit_at_the_open_even_if_the_low_reaches_the_stop():
    assert exit_of(PositionSide.LONG, bar("105", "106", "97", "97.5")) == fm.Exit(fm.ExitKind.TAKE_PROFIT, D(105))


def test_a_long_whose_bar_opens_exactly_at_the_target_takes_the_profit_there():
    assert exit_of(PositionSide.LONG, bar("104", "104.5", "97", "98")) == fm.Exit(fm.ExitKind.TAKE_PROFIT, D(104))


def test_a_long_whose_bar_opens_below_the_stop_stops_out_at_the_open_even_if_the_high_reaches_the_target():
    assert exit_of(PositionSide.LONG, bar("97", "105", "96.5", "104.5")) == fm.Exit(fm.ExitKind.STOP_LOSS, D(97))


def test_a_bar_opening_between_the_levels_whose_range_reaches_both_stops_out_at_the_stop():
    assert exit_of(PositionSide.LONG, bar("100", "105", "97", "101")) == fm.Exit(fm.ExitKind.STOP_LOSS, D(98))


def test_a_bar_opening_between_the_levels_that_reaches_only_the_target_takes_the_profit_at_the_target():
    assert exit_of(PositionSide.LONG, bar("100", "105", "99", "104.5")) == fm.Exit(fm.ExitKind.TAKE_PROFIT, D(104))


def test_a_short_mirrors_it_gap_below_the_target_gap_above_the_stop_and_the_ambiguous_bar():
    assert exit_of(PositionSide.SHORT, bar("95", "103", "94", "102.5")) == fm.Exit(fm.ExitKind.TAKE_PROFIT, D(95))
    assert exit_of(PositionSide.SHORT, bar("103", "103.5", "95", "95.5")) == fm.Exit(fm.ExitKind.STOP_LOSS, D(103))
    assert exit_of(PositionSide.SHORT, bar("100", "103", "95", "99")) == fm.Exit(fm.ExitKind.STOP_LOSS, D(102))


def test_a_gap_through_the_liquidation_still_liquidates_at_the_open():
    found = fm.position_exit(PositionSide.LONG, bar("90", "91", "89", "90"), stop=D(98), liquidation=D(95),
                             take_profit=D(104))
    assert found == fm.Exit(fm.ExitKind.LIQUIDATION, D(90))


# -- the same cases through the engine (and the bar-by-bar loop, which must agree) ----------------------------


def _trade(o: Outcome) -> tuple[str, str, str]:
    [t] = o.trades.rows()
    return t["exit_reason"], t["exit_price"], t["side"]


def test_engine_long_gapping_above_the_target_books_the_take_profit_at_the_open():
    o = run((105, 106, 97, 97.5), side=1)

    assert _trade(o) == ("take_profit", "105", "long")
    assert o.trades.exit_bar == [2]


def test_engine_long_gapping_below_the_stop_books_the_stop_at_the_open():
    assert _trade(run((97, 105, 96.5, 104.5), side=1)) == ("stop_loss", "97", "long")


def test_engine_ambiguous_bar_books_the_stop_at_the_stop():
    assert _trade(run((100, 105, 97, 101), side=1)) == ("stop_loss", "98", "long")


def test_engine_short_gapping_below_the_target_books_the_take_profit_at_the_open():
    assert _trade(run((95, 103, 94, 102.5), side=-1)) == ("take_profit", "95", "short")


def test_engine_short_gapping_above_the_stop_books_the_stop_at_the_open():
    assert _trade(run((103, 103.5, 95, 95.5), side=-1)) == ("stop_loss", "103", "short")


def test_engine_short_ambiguous_bar_books_the_stop_at_the_stop():
    assert _trade(run((100, 103, 95, 99), side=-1)) == ("stop_loss", "102", "short")
