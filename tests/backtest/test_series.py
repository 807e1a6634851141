"""The replayed series' remembered look-ups give what the numpy searches they replace give."""

from __future__ import annotations

import numpy as np
import pytest

from riskmgr.backtest.account import Series


def series(funding: np.ndarray | None, day: np.ndarray) -> Series:
    n = len(day)
    rng = np.random.default_rng(n)
    close = np.round(100 + rng.normal(0, 1, n).cumsum(), 2)
    return Series(np.arange(n, dtype=np.int64) * 60_000, close, close + 1, close - 1, close, 60_000, day, funding)


@pytest.mark.parametrize("seed", range(10))
def test_the_first_bar_of_a_risk_day_is_the_array_search_for_it_asked_twice(seed):
    rng = np.random.default_rng(seed)
    day = np.cumsum(rng.integers(0, 3, 50))  # days with gaps, and days of several bars
    s = series(None, day)

    for d in range(int(day[-1]) + 3):
        expected = int(day.searchsorted(d, side="left"))
        assert s.day_start_bar(d) == expected
        assert s.day_start_bar(d) == expected  # the remembered answer
