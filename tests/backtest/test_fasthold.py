"""The fused pass over a held position and the deferred equity curve change nothing: the engine equals the loop."""

from __future__ import annotations

import itertools
from decimal import Decimal

import numpy as np
import pytest

from riskmgr.backtest.account import Holding, SimAccount
from riskmgr.backtest.engine import EngineInput, build_series, run_events
from riskmgr.backtest.fasthold import INF, Marks, Rider, _best, _day_ends, _scan, _scan_each
from riskmgr.core.domain import PositionSide
from tests.backtest.helpers import SPEC, bar_by_bar, candles, config, signals
from tests.backtest.test_fastpath import _same, conservative

D = Decimal


def _holding(side: PositionSide, qty: str, entry: str) -> Holding:
    return Holding(side=side, qty=D(qty), opened_qty=D(qty), entry=D(entry), entry_bar=0, entry_ms=0, stop=None,
                   target=None, liquidation=None, margin=D(1), leverage=2, entry_fee=D(0), target_from=0)


def _columns(rows: list[tuple[float, float, float]]) -> tuple[list[float], list[float], list[float]]:
    """(low, high, close) rows as the scan reads them: a list of each."""
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]


def test_the_curve_of_recorded_stretches_has_the_very_bits_of_marking_each_range_at_once():
    rng = np.random.default_rng(5)
    rows = [(p, p + 0.5, p - 0.5, p + 0.07) for p in np.round(100 + np.cumsum(rng.normal(0, 0.7, 60)), 2).tolist()]
    inp = EngineInput(candles(rows), SPEC, config())
    acct = SimAccount(build_series(inp), inp.spec, inp.config, 0)
    marks = Marks(3)
    states = [(D("10000"), None), (D("9990.123"), _holding(PositionSide.LONG, "1.37", "100.13")),
              (D("9990.123"), None), (D("10011.7"), _holding(PositionSide.SHORT, "2.9", "101.01")),
              (D("10011.7"), _holding(PositionSide.SHORT, "2.9", "101.01"))]
    bounds = [3, 7, 8, 20, 21, 21, 40, 60]
    for k, (a, b) in enumerate(itertools.pairwise(bounds)):
        acct.wallet, acct.holding = states[k % len(states)]
        acct.mark_range(a, b)
        marks.add(acct, a, b)
    expected = acct.curve.copy()
    acct.curve[:] = float(acct.cfg.capital)

    marks.apply(acct.curve, acct.s.close)

    assert acct.curve.tobytes() == expected.tobytes()


def test_recorded_stretches_must_follow_each_other():
    inp = EngineInput(candles([(100.0, 101.0, 99.0, 100.0)] * 10), SPEC, config())
    acct = SimAccount(build_series(inp), inp.spec, inp.config, 0)
    marks = Marks(0)
    marks.add(acct, 0, 4)

    with pytest.raises(RuntimeError, match="bar 5 after bar 4"):
        marks.add(acct, 5, 6)


def test_the_fused_pass_is_used_only_on_bars_the_fill_model_accepts():
    good = [(100.0, 100.5, 99.5, 100.0)] * 30
    bad = [*good[:10], (100.0, 99.9, 99.5, 100.0), *good[11:]]  # a high below the open

    def rider(rows) -> Rider:
        inp = EngineInput(candles(rows), SPEC, config())
        acct = SimAccount(build_series(inp), inp.spec, inp.config, 0)
        return Rider(acct, None, Marks(0))

    assert rider(good).ok and not rider(bad).ok


@pytest.mark.parametrize("rearm", [True, False])
def test_without_the_fused_pass_the_engine_gives_the_same_result_as_with_it_and_as_the_loop(rearm, monkeypatch):
    inp, sig = conservative(6000, 13, rearm=rearm)
    fused = run_events(inp, sig)
    original = Rider.__init__

    def without(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.ok = False  # the event search, skip and full step of the engine for every bar instead

    monkeypatch.setattr(Rider, "__init__", without)
    plain = run_events(inp, sig)

    assert len(plain.trades) > 20
    _same(plain, fused)
    _same(plain, bar_by_bar(inp, sig))


@pytest.mark.parametrize("rate", ["0", "0.0001", "-0.003"])
def test_entry_bars_taken_as_quiet_and_held_stretches_equal_the_full_loop(rate, monkeypatch):
    inp, sig = conservative(6000, 17, rearm=True, funding_rate=D(rate))
    quiet: list[int] = []
    enter = Rider.enter

    def spy(self, acct, c):
        found = enter(self, acct, c)
        if found >= 0:  # -1: the entry bar was not quiet and took its full step
            quiet.append(c)
        return found

    monkeypatch.setattr(Rider, "enter", spy)
    fast = run_events(inp, sig)

    assert 20 < len(quiet) <= len(fast.trades) + 1  # an entry bar at most once per position
    _same(fast, bar_by_bar(inp, sig))


@pytest.mark.parametrize("seed", range(6))
def test_the_scan_with_its_equity_floor_finds_the_bar_every_test_at_every_bar_finds(seed):
    rng = np.random.default_rng(seed)
    for _ in range(400):
        closes = np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.01, 40))), 2).tolist()
        rows = [(c - 0.3, c + 0.3, c) for c in closes]
        qty = float(rng.choice([-30.0, -3.0, 3.0, 30.0]))
        levels = (-INF, INF, -INF, INF, qty, 100.0)  # no price level: the equity tests alone decide
        wallet = float(rng.choice([1000.0, 500.0, 100.0]))
        # the running peak and the opening equity around the wallet; thresholds from tiny (every test) to wide
        running, day_start = wallet * float(rng.uniform(0.95, 1.1)), wallet * float(rng.uniform(0.95, 1.1))
        dd_at = rng.choice([None, 1e-4, 0.5, 2.0, 10.0])
        loss_at = rng.choice([None, 1e-4, 0.5, 3.0])
        args = (levels, wallet, running, day_start, dd_at, loss_at)

        assert _scan(*_columns(rows), *args) == _scan_each(*_columns(rows), *args)


def test_the_scan_stops_at_a_bar_exactly_on_the_drawdown_tier():
    # wallet and peak 1000, 10 units from 100: a drawdown of exactly 10 % at the third close (equity 900)
    rows = [(99.9, 100.1, 100.0), (99.0, 99.2, 99.1), (89.9, 90.1, 90.0), (80.0, 80.2, 80.1)]
    levels = (-INF, INF, -INF, INF, 10.0, 100.0)

    assert _scan(*_columns(rows), levels, 1000.0, 1000.0, 1000.0, 10.0, None) == (2, 1000.0)
    assert _scan_each(*_columns(rows), levels, 1000.0, 1000.0, 1000.0, 10.0, None) == (2, 1000.0)
    # a hair above the tier: neither stops there (the floor lets the bar through to the very same tests)
    assert _scan(*_columns(rows[:3]), levels, 1000.0, 1000.0, 1000.0, 10.000001, None) == (-1, 1000.0)


def test_the_peak_is_lifted_only_where_the_decimal_equity_may_exceed_it():
    inp = EngineInput(candles([(100.0, 101.0, 99.0, 100.0)] * 4), SPEC, config())
    acct = SimAccount(build_series(inp), inp.spec, inp.config, 0)
    acct.holding = _holding(PositionSide.LONG, "10", "100")
    rider = Rider(acct, None, Marks(0))
    acct.wallet, acct.peak = D("9990"), D("10000")

    rider._catch_up(acct, 10.0, 100.0, 100.9)  # equity 9999: below the peak
    assert acct.peak == D("10000")
    rider._catch_up(acct, 10.0, 100.0, 101.0)  # equity exactly the peak: the float test cannot tell, Decimal does
    assert acct.peak == D("10000")
    rider._catch_up(acct, 10.0, 100.0, 101.01)
    assert acct.peak == D("10000.10")


def test_a_signal_bar_is_decided_after_a_position_closed_in_the_fused_pass():
    # a long stopped out at bar 4, a new signal at bar 6: the pass returns the stop bar, the engine decides bar 6
    rows = [(100.0, 100.5, 99.5, 100.0)] * 4 + [(100.0, 100.2, 97.0, 97.5)] + [(97.5, 98.0, 97.0, 97.5)] * 10
    inp = EngineInput(candles(rows), SPEC, config())
    sig = signals(len(rows), {1: (1, 98.0, 104.0), 6: (1, 96.0, 101.0)})

    fast, full = run_events(inp, sig), bar_by_bar(inp, sig)

    assert [t["exit_reason"] for t in fast.trades.rows()] == ["stop_loss"]
    assert fast.trades.entry_bar == [2] and fast.open_position is not None
    _same(fast, full)



@pytest.mark.parametrize("seed", range(6))
def test_the_end_of_each_risk_day_found_in_one_pass_is_the_series_own_answer(seed):
    rng = np.random.default_rng(seed)
    day = np.cumsum(rng.integers(0, 3, 200) * (rng.random(200) < 0.1)).astype(np.int64) + 19_000
    inp = EngineInput(candles([(100.0, 100.5, 99.5, 100.0)] * 200), SPEC, config())
    series = build_series(inp)
    series = type(series)(series.ts, series.open, series.high, series.low, series.close, series.bar_ms, day)

    ends = _day_ends(series.day, len(series))

    assert sorted(ends) == sorted(set(day.tolist()))
    for d, end in ends.items():
        assert end == min(series.day_start_bar(d + 1), len(series))


def test_days_that_go_down_or_are_not_whole_numbers_are_left_to_the_series():
    assert _day_ends(np.array([3, 4, 2], dtype=np.int64), 3) == {}
    assert _day_ends(np.array([1.0, 1.5, 2.0]), 3) == {}
    assert _day_ends(np.array([], dtype=np.int64), 0) == {}
    assert _day_ends(np.array([7, 7, 7], dtype=np.int64), 3) == {7: 3}


@pytest.mark.parametrize("seed", range(20))
def test_the_most_favourable_close_is_max_for_a_long_and_min_for_a_short(seed):
    rng = np.random.default_rng(seed)
    closes = np.round(100 + rng.normal(0, 1, int(rng.integers(1, 50))), 1).tolist()  # ties are likely
    for count in range(len(closes) + 1):
        for sign_qty in (0.5, -0.5):
            found = _best(closes, count, sign_qty)
            if count == 0:
                assert np.isnan(found)
            else:
                assert found == (max(closes[:count]) if sign_qty > 0 else min(closes[:count]))
