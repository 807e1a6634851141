"""The vectorised statistics equal the straightforward computation, figure for figure, on random equity curves."""

from __future__ import annotations

import tempfile
from decimal import Decimal

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from riskmgr.backtest.outcome import Outcome, TradeTable
from riskmgr.backtest.stats import compute_stats
from tests.backtest import stats_oracle

set_hypothesis_home_dir(tempfile.mkdtemp(prefix="riskmgr-hypothesis-"))
JAN_1 = 1_735_689_600_000  # 2025-01-01 00:00 UTC
CURVE_KEYS = ("start", "end", "bars", "max_drawdown_pct", "max_drawdown_peak_at", "max_drawdown_trough_at",
              "max_drawdown_recovered_at", "max_drawdown_duration_s", "longest_drawdown_s", "sharpe", "sortino",
              "daily_returns")


@st.composite
def outcomes(draw: st.DrawFn) -> Outcome:
    """A random equity curve: walks, flat stretches, exact returns to a peak, gaps in time, a wipe-out to zero."""
    n = draw(st.integers(1, 300))
    bar_ms = draw(st.sampled_from([60_000, 900_000, 3_600_000, 86_400_000]))
    capital = draw(st.sampled_from(["1000", "10000", "0.5", "250.25", "-500"]))  # -500: peaks at or below 0
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    shape = draw(st.sampled_from(["walk", "steps", "flat", "wiped", "negative", "levels"]))
    cap = float(capital)
    if shape == "walk":
        equity = cap * np.exp(np.cumsum(rng.normal(0, draw(st.sampled_from([0.001, 0.02, 0.2])), n)))
    elif shape == "steps":  # a few levels repeated: peaks met again exactly, ties everywhere
        equity = cap + rng.choice([-2.0, -1.0, 0.0, 1.0, 2.0], n).cumsum()
    elif shape == "flat":
        equity = np.full(n, cap)
    elif shape == "wiped":
        equity = cap * np.exp(np.cumsum(rng.normal(0, 0.05, n)))
        equity[int(rng.integers(0, n)):] = 0.0
    elif shape == "negative":  # accounts that went below zero (the engine's curve can, between fills)
        equity = cap - np.abs(rng.normal(0, abs(cap), n)).cumsum()
    else:
        equity = rng.choice([cap * 0.5, cap, cap * 1.5, cap * 2.0], n)
    steps = rng.choice([1, 1, 1, 2, 5], n) if draw(st.booleans()) else np.ones(n, dtype=np.int64)
    ts = JAN_1 + int(rng.integers(0, 86_400)) * 1000 // bar_ms * bar_ms + bar_ms * np.cumsum(steps).astype(np.int64)
    first = draw(st.integers(0, max(n - 1, 0))) if draw(st.booleans()) else 0
    trades = TradeTable(net_pnl=[Decimal(1)], fees=[Decimal(0)])
    return Outcome(ts=ts, close=equity.copy(), bar_ms=bar_ms, first_bar=first, equity=equity,
                   capital=Decimal(capital), final_equity=Decimal(repr(float(equity[-1]))), trades=trades,
                   exposure_bars=0)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(outcomes())
def test_the_vectorised_curve_statistics_equal_the_straightforward_ones(o):
    expected = stats_oracle.curve_stats(o)

    got = compute_stats(o)

    assert {key: got[key] for key in CURVE_KEYS} == {key: expected[key] for key in CURVE_KEYS}
    for key in ("sharpe", "sortino"):
        assert got["notes"].get(key) == expected["notes"].get(key)


def test_a_drawdown_back_to_the_exact_peak_counts_as_recovered_at_that_close():
    # capital 1000, then 1200 (peak), 900 (trough), 1200 (back exactly at the peak), 1100
    o = Outcome(ts=JAN_1 + 86_400_000 * np.arange(4, dtype=np.int64), close=np.zeros(4), bar_ms=86_400_000,
                first_bar=0, equity=np.array([1200.0, 900.0, 1200.0, 1100.0]), capital=Decimal(1000),
                final_equity=Decimal(1100), trades=TradeTable(), exposure_bars=0)

    s = compute_stats(o)

    assert s["max_drawdown_pct"] == 25.0
    assert s["max_drawdown_peak_at"] == "2025-01-02T00:00:00+00:00"
    assert s["max_drawdown_trough_at"] == "2025-01-03T00:00:00+00:00"
    assert s["max_drawdown_recovered_at"] == "2025-01-04T00:00:00+00:00"
    assert s["max_drawdown_duration_s"] == 2 * 86_400
    assert s["longest_drawdown_s"] == 2 * 86_400  # the dip to 1100 lasts one day so far
    assert s == {**s, **stats_oracle.curve_stats(o), "notes": s["notes"]}


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-10**12, 10**12) | st.integers(-10**25, 10**25), min_size=1, max_size=200),
       st.integers(0, 8))
def test_trade_figures_from_an_exact_integer_column_equal_those_from_decimals(ints, places):
    """Summed in int64 when it holds them, in Python integers when not (values past 2 ** 63 or sums that could be)."""
    from hypothesis import assume

    from riskmgr.backtest.outcome import ExactColumn

    assume(max(abs(v) for v in ints) < 10 ** (17 + places))  # averages are shown to 8 places of 28 digits

    def run(net):
        n = len(ints)
        trades = TradeTable(net_pnl=net, fees=[Decimal(0)] * n)
        return compute_stats(Outcome(ts=JAN_1 + 60_000 * np.arange(3, dtype=np.int64), close=np.ones(3),
                                     bar_ms=60_000, first_bar=0, equity=np.full(3, 1000.0), capital=Decimal(1000),
                                     final_equity=Decimal(1000), trades=trades, exposure_bars=0))

    exact = run(ExactColumn(list(ints), places))
    decimals = run([Decimal(v).scaleb(-places) for v in ints])

    keys = ("trades", "win_rate_pct", "profit_factor", "expectancy", "average_win", "average_loss", "best_trade",
            "worst_trade", "longest_losing_streak")
    assert {k: exact[k] for k in keys} == {k: decimals[k] for k in keys}
