"""The SMA crossover reference: crossings, fills, whole-unit sizing, commission and the open position at the end."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from riskmgr.backtest.reference import run_sma_reference, sma_crosses
from riskmgr.errors import ValidationError
from riskmgr.indicators import sma
from riskmgr.market.base import CandleArrays
from tests.backtest.helpers import HOUR_MS, candles, sma_reference_loop

D = Decimal
# closes 10 11 12 11 10 9 10 12 13 12, each bar opening at the previous close.
# SMA 2 - SMA 3 from bar 2: +0.5, +0.17, -0.5, -0.5, -0.17, +0.67, +0.83, +0.17
CLOSES = [10, 11, 12, 11, 10, 9, 10, 12, 13, 12]


def hand_series() -> CandleArrays:
    opens = [10, *CLOSES[:-1]]
    return candles([(o, max(o, c), min(o, c), c) for o, c in zip(opens, CLOSES, strict=True)])


def test_crosses_are_found_where_the_fast_sma_changes_side_and_the_first_bar_is_no_cross():
    bars, sides = sma_crosses(np.array(CLOSES, dtype=float), 2, 3)

    assert bars.tolist() == [4, 7]
    assert sides.tolist() == [-1, 1]


def test_touching_without_crossing_is_no_cross():
    # SMA 2 - SMA 3 = (c[t] + c[t-1] - 2 c[t-2]) / 6: from bar 2 +0.5, 0 (a touch), +0.83, then -0.17 (a cross)
    closes = np.array([10, 11, 12, 10, 15, 4], dtype=float)

    bars, sides = sma_crosses(closes, 2, 3)

    assert bars.tolist() == [5] and sides.tolist() == [-1]


def test_reference_on_the_hand_series_without_commission():
    o = run_sma_reference(hand_series(), HOUR_MS, fast=2, slow=3, commission=D(0), capital=D(100))

    # cross down at bar 4 -> short floor(100 / 10) = 10 at bar 5's open 10; cross up at bar 7 -> buy back at
    # bar 8's open 12 (-20) and go long floor(80 / 12) = 6 at 12, still open at the end
    [trade] = o.trades.rows()
    assert (trade["side"], trade["qty"], trade["entry_price"], trade["exit_price"]) == ("short", "10", "10", "12")
    assert trade["net_pnl"] == "-20"
    assert o.open_position["side"] == "long" and o.open_position["qty"] == "6"
    assert o.final_equity == D(80)
    assert o.equity.tolist() == [100, 100, 100, 100, 100, 110, 100, 80, 86, 80]
    assert o.signals == 2 and len(o.trades) == 1


def test_reference_with_commission_pays_it_on_entry_and_exit_and_sizes_with_it():
    o = run_sma_reference(hand_series(), HOUR_MS, fast=2, slow=3, commission=D("0.01"), capital=D(100))

    # short floor(100 / 10.1) = 9; closing at 12: -18 - 0.01 x 9 x (10 + 12) = -19.98 -> cash 80.02;
    # long floor(80.02 / 12.12) = 6 at 12, entry commission 0.72 -> equity 79.30 at the last close 12
    [trade] = o.trades.rows()
    assert trade["qty"] == "9" and trade["fees"] == "1.98" and trade["net_pnl"] == "-19.98"
    assert o.open_position["qty"] == "6"
    assert o.final_equity == D("79.30")
    assert o.fees_paid() == D("2.70")


def test_a_cross_on_the_last_bar_is_not_filled():
    series = hand_series().slice(0, 8)  # the cross up happens on bar 7, now the last bar

    o = run_sma_reference(series, HOUR_MS, fast=2, slow=3, commission=D(0), capital=D(100))

    assert o.signals == 2 and len(o.trades) == 0
    assert o.open_position["side"] == "short"
    assert o.final_equity == D(80)  # short 10 from 10, marked at 12


def test_capital_below_one_whole_unit_trades_nothing_and_says_why():
    o = run_sma_reference(hand_series(), HOUR_MS, fast=2, slow=3, commission=D(0), capital=D(5))

    assert len(o.trades) == 0 and o.open_position is None and o.final_equity == D(5)
    assert "no entry bought a whole unit" in o.notes["trades"]


def test_slow_sma_must_be_longer_than_the_fast_one():
    with pytest.raises(ValidationError) as err:
        sma_crosses(np.array(CLOSES, dtype=float), 3, 3)

    assert err.value.field == "sma_slow"


def test_vectorized_reference_equals_the_per_bar_loop_on_random_walks():
    rng = np.random.default_rng(7)
    for commission in (D(0), D("0.002")):
        close = np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.01, 3000))), 2)
        opens = np.concatenate(([100.0], close[:-1]))
        series = candles([(o, max(o, c), min(o, c), c) for o, c in zip(opens, close, strict=True)])

        o = run_sma_reference(series, HOUR_MS, fast=10, slow=20, commission=commission, capital=D(10000))
        trades, final, equity = sma_reference_loop(opens.tolist(), close.tolist(), 10, 20, commission, D(10000),
                                                   smas=(sma(close, 10), sma(close, 20)))

        booked = list(zip(o.trades.entry_bar, o.trades.exit_bar, o.trades.side, o.trades.qty, o.trades.entry_price,
                          o.trades.exit_price, o.trades.net_pnl, strict=True))
        assert booked == trades and len(trades) > 50
        assert o.final_equity == final
        assert np.allclose(o.equity, equity, rtol=1e-12, atol=1e-6)


def test_once_the_cash_is_gone_no_unit_is_bought():
    closes = [10, 11, 12, 11, 10, 9, 30, 31, 32]
    opens = [10, *closes[:-1]]
    series = candles([(o, max(o, c), min(o, c), c) for o, c in zip(opens, closes, strict=True)])

    o = run_sma_reference(series, HOUR_MS, fast=2, slow=3, commission=D(0), capital=D(100))

    # short 10 from 10 (bar 5), bought back at 30 (bar 7): -200 leaves -100 of cash, which buys nothing
    assert [t["net_pnl"] for t in o.trades.rows()] == ["-200"]
    assert o.open_position is None and o.final_equity == D(-100)
    assert o.equity.tolist()[-2:] == [-100.0, -100.0]
