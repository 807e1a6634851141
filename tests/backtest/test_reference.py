"""The SMA crossover reference: crossings, fills, whole-unit sizing, commission and the open position at the end."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from riskmgr.backtest.reference import decimal_ticks, run_sma_reference, sma_crosses
from riskmgr.backtest.stats import compute_stats
from riskmgr.core.errors import ValidationError
from riskmgr.market.base import CandleArrays
from riskmgr.signals.indicators import sma
from tests.backtest.helpers import HOUR_MS, candles, sma_cross_oracle

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


def test_a_tie_between_below_and_above_is_no_cross():
    # SMA 2 - SMA 3 = (c[t] + c[t-1] - 2 c[t-2]) / 6: from bar 2 -1/6 (below), 0 (a tie), +5/6 (above)
    closes = np.array([10, 9, 10, 8, 13], dtype=float)

    bars, _ = sma_crosses(closes, 2, 3)

    assert bars.tolist() == []  # the old rule carried "below" through the tie and saw a cross up at bar 4


def test_a_tie_that_float_means_miss_is_still_a_tie():
    closes = np.array([0.1, 0.2, 0.4, 0.1, 0.1, 0.4, 0.5, 0.1])
    # in floats SMA 2 - SMA 4 on bar 5 is not zero: (0.1 + 0.4) / 2 vs (0.4 + 0.1 + 0.1 + 0.4) / 4 are both 0.25
    assert sma(closes, 2)[5] != sma(closes, 4)[5]

    bars, sides = sma_crosses(closes, 2, 4)

    assert bars.tolist() == [4] and sides.tolist() == [-1]  # above, below (a cross down), tie, above: no cross up


def test_prices_are_read_back_as_exact_integers_of_their_tick():
    assert decimal_ticks(np.array([0.1, 0.25, 100.07])) is not None
    ticks, places = decimal_ticks(np.array([0.1, 0.25, 100.07]))
    assert (ticks.tolist(), places) == ([10, 25, 10007], 2)
    assert decimal_ticks(np.array([1 / 3])) is None


def _booked(o):
    return list(zip(o.trades.entry_bar, o.trades.exit_bar, o.trades.side, o.trades.qty, o.trades.entry_price,
                    o.trades.exit_price, o.trades.net_pnl, strict=True))


def _walk(n: int, seed: int, vol: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    close = np.round(100 * np.exp(np.cumsum(rng.normal(0, vol, n))), 2)
    return np.concatenate(([100.0], close[:-1])), close


def test_reference_equals_the_independent_oracle_on_random_walks():
    for seed, commission in ((7, D(0)), (8, D("0.002"))):
        opens, close = _walk(3000, seed)
        series = candles([(o, max(o, c), min(o, c), c) for o, c in zip(opens, close, strict=True)])

        o = run_sma_reference(series, HOUR_MS, fast=10, slow=20, commission=commission, capital=D(10000))
        oracle = sma_cross_oracle(opens, close, 10, 20, commission, D(10000))

        assert _booked(o) == oracle.trades and len(oracle.trades) > 50
        assert o.final_equity == oracle.final
        assert np.allclose(o.equity, oracle.equity, rtol=1e-12, atol=1e-6)


def test_on_a_million_minute_bars_ties_occur_the_oracle_agrees_and_the_old_rule_differs():
    n = 1_000_000
    opens, close = _walk(n, 20240101, vol=0.0006)
    ts = HOUR_MS * np.arange(n, dtype=np.int64)
    series = CandleArrays(ts, opens, np.maximum(opens, close), np.minimum(opens, close), close, np.ones(n))

    o = run_sma_reference(series, 60_000, fast=10, slow=20, commission=D(0), capital=D(10000))
    oracle = sma_cross_oracle(opens, close, 10, 20, D(0), D(10000))

    cents = np.round(close * 100).astype(np.int64)
    sums = np.concatenate(([0], np.cumsum(cents)))
    ties = int(np.count_nonzero(2 * (sums[20:] - sums[10:-10]) == sums[20:] - sums[:-20]))
    assert ties > 1000
    assert _booked(o) == oracle.trades and o.final_equity == oracle.final
    # the old rule: TA-Lib's running sums, and a tie carrying the previous side through
    state = np.sign(sma(close, 10) - sma(close, 20))
    state[:19] = 0
    last = np.where(state != 0, np.arange(n), -1)
    np.maximum.accumulate(last, out=last)
    carried = np.where(last >= 0, state[np.maximum(last, 0)], 0.0)
    old = np.count_nonzero((carried[1:] != carried[:-1]) & (carried[:-1] != 0))
    assert old > len(sma_crosses(close, 10, 20)[0]) * 1.01


def test_once_the_equity_is_gone_the_position_is_closed_at_that_close_and_trading_stops():
    closes = [10, 11, 12, 11, 10, 9, 30, 31, 32, 20, 10]
    opens = [10, *closes[:-1]]
    series = candles([(o, max(o, c), min(o, c), c) for o, c in zip(opens, closes, strict=True)])

    o = run_sma_reference(series, HOUR_MS, fast=2, slow=3, commission=D(0), capital=D(100))

    # short 10 from 10 (bar 5's open); bar 6 closes at 30: equity 100 - 200 = -100 <= 0, closed at that close
    [trade] = o.trades.rows()
    assert (trade["exit_price"], trade["net_pnl"], trade["exit_reason"]) == ("30", "-200", "wiped_out")
    assert o.trades.exit_bar == [6]
    assert o.open_position is None and o.final_equity == D(0)
    assert o.equity.tolist() == [100, 100, 100, 100, 100, 110, 0, 0, 0, 0, 0]
    assert "equity" in o.notes
    assert compute_stats(o)["trades"] == 1


def test_a_cross_the_same_way_after_a_tie_closes_and_reopens_the_position():
    # SMA 2 vs SMA 3 sides from bar 2: below, above (cross up), tie, below (no cross: a tie before), above (cross up)
    closes = [10, 8, 10, 11, 9, 8, 12, 13]
    opens = [10, *closes[:-1]]
    series = candles([(o, max(o, c), min(o, c), c) for o, c in zip(opens, closes, strict=True)])

    o = run_sma_reference(series, HOUR_MS, fast=2, slow=3, commission=D(0), capital=D(1000))

    # long floor(1000 / 11) = 90 at bar 4's open 11; the second cross up closes it at bar 7's open 12 (+90) and
    # buys floor(1090 / 12) = 90 again at 12, marked at 13: 1090 + 90
    assert _booked(o) == [(4, 7, 1, 90, 11, 12, 90)]
    assert o.open_position["qty"] == "90" and o.final_equity == D(1180)
    oracle = sma_cross_oracle(np.array(opens, float), np.array(closes, float), 2, 3, D(0), D(1000), places=0)
    assert oracle.trades == _booked(o) and oracle.final == o.final_equity


def test_a_wipe_out_of_a_position_of_more_than_127_units_is_booked_exactly():
    # the hand series of the wipe-out test with 100 times the capital: short 1000 units from 10, closed at 30
    closes = [10, 11, 12, 11, 10, 9, 30, 31, 32, 20, 10]
    opens = [10, *closes[:-1]]
    series = candles([(o, max(o, c), min(o, c), c) for o, c in zip(opens, closes, strict=True)])

    o = run_sma_reference(series, HOUR_MS, fast=2, slow=3, commission=D(0), capital=D(10000))

    [trade] = o.trades.rows()
    assert (trade["qty"], trade["exit_price"], trade["net_pnl"]) == ("1000", "30", "-20000")
    oracle = sma_cross_oracle(np.array(opens, float), np.array(closes, float), 2, 3, D(0), D(10000), places=0)
    assert _booked(o) == oracle.trades and o.final_equity == oracle.final == 0


def test_the_reference_equals_the_oracle_with_commission_wipe_outs_and_coarse_or_fine_ticks():
    rng = np.random.default_rng(11)
    for places, price, vol, capital, commission in ((0, 50.0, 0.05, D(1000), D("0.001")),
                                                    (4, 1.5, 0.2, D("250.5"), D("0.002")),
                                                    (1, 2000.0, 0.3, D(100000), D(0))):
        close = np.maximum(np.round(price * np.exp(np.cumsum(rng.normal(0, vol, 2000))), places), 10.0**-places)
        opens = np.concatenate(([close[0]], close[:-1]))
        series = CandleArrays(HOUR_MS * np.arange(close.size, dtype=np.int64), opens, np.maximum(opens, close),
                              np.minimum(opens, close), close, np.ones(close.size))

        o = run_sma_reference(series, HOUR_MS, fast=5, slow=13, commission=commission, capital=capital)
        oracle = sma_cross_oracle(opens, close, 5, 13, commission, capital, places=places)

        assert len(oracle.trades) > 5
        assert _booked(o) == oracle.trades and o.final_equity == oracle.final
