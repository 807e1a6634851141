"""The replayed series' cached look-ups give what the numpy searches they replace give."""

from __future__ import annotations

import numpy as np
import pytest

from riskmgr.backtest.account import Series


def series(funding: np.ndarray | None, day: np.ndarray) -> Series:
    n = len(day)
    rng = np.random.default_rng(n)
    close = np.round(100 + rng.normal(0, 1, n).cumsum(), 2)
    return Series(np.arange(n, dtype=np.int64) * 60_000, close, close + 1, close - 1, close, 60_000, day, funding)


@pytest.mark.parametrize("seed", range(20))
def test_the_next_funding_bar_of_every_bar_is_the_first_funding_bar_at_or_after_it(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    funding = (rng.random(n) < rng.random()).astype(np.int64) * rng.integers(1, 3, n)
    s = series(funding, np.arange(n) // 7)

    bars = np.flatnonzero(funding)
    expected = [int(bars[k]) if k < len(bars) else n for k in bars.searchsorted(np.arange(n), side="left")]
    assert s.next_funding == expected


def test_without_funding_no_bar_has_a_next_funding_bar():
    s = series(None, np.arange(5))

    assert s.next_funding == [5] * 5


@pytest.mark.parametrize("seed", range(10))
def test_the_first_bar_of_a_risk_day_is_the_array_search_for_it_asked_twice(seed):
    rng = np.random.default_rng(seed)
    day = np.cumsum(rng.integers(0, 3, 50))  # days with gaps, and days of several bars
    s = series(None, day)

    for d in range(int(day[-1]) + 3):
        expected = int(day.searchsorted(d, side="left"))
        assert s.day_start_bar(d) == expected
        assert s.day_start_bar(d) == expected  # the remembered answer


def test_the_float_lists_are_the_columns_bit_for_bit():
    s = series(None, np.zeros(30, dtype=np.int64))

    for column, listed in ((s.open, s.opens), (s.high, s.highs), (s.low, s.lows), (s.close, s.closes)):
        assert listed == column.tolist() and all(type(x) is float for x in listed)


@pytest.mark.parametrize("side", ["long", "short"])
def test_marking_and_the_peak_over_a_few_bars_equal_the_array_path_bit_for_bit(side):
    from decimal import Decimal as D

    from riskmgr.backtest.account import SHORT_RANGE, Holding, SimAccount
    from riskmgr.backtest.engine import build_series
    from riskmgr.domain import PositionSide
    from tests.backtest.test_fastpath import conservative

    inp, _ = conservative(400, 3, rearm=False)
    short, long_ = (SimAccount(build_series(inp), inp.spec, inp.config, 0) for _ in range(2))
    entry = D(repr(float(inp.candles.close[0])))
    for acct in (short, long_):
        acct.wallet, acct.peak = D("9876.54321"), D(1)  # a low peak: the best close of the bars sets it
        acct.holding = Holding(PositionSide(side), D("0.037"), D("0.037"), entry, 0, 0, None, None, None, D(100), 3,
                               D(0), 0)
    big = SHORT_RANGE * 3
    long_.mark_range(10, 10 + big)  # the array expression
    long_.catch_up(10, 10 + big)
    for a in range(10, 10 + big, SHORT_RANGE // 2):  # the same bars, a few at a time
        short.mark_range(a, min(a + SHORT_RANGE // 2, 10 + big))
        short.catch_up(a, min(a + SHORT_RANGE // 2, 10 + big))

    assert np.array_equal(short.curve, long_.curve)
    assert short.peak == long_.peak != D(1)
