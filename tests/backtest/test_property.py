"""Event skipping must change nothing: the engine equals the plain bar-by-bar loop on random data and settings."""

from __future__ import annotations

import tempfile
from decimal import Decimal

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from riskmgr.backtest.engine import EngineInput, run_events
from riskmgr.backtest.outcome import Outcome
from riskmgr.exchanges.fills import FillModel
from riskmgr.risk.config import RiskLimits
from tests.backtest.helpers import SPEC, bar_by_bar, candles, config, signals

# hypothesis keeps a cache directory; keep it out of the working tree (nothing is worth remembering between runs)
set_hypothesis_home_dir(tempfile.mkdtemp(prefix="riskmgr-hypothesis-"))
D = Decimal
TIMEFRAMES = {60_000: "1m", 900_000: "15m", 3_600_000: "1h"}


@st.composite
def cases(draw: st.DrawFn) -> tuple[EngineInput, object]:
    """A random walk with gaps and wicks, random signals and a random mix of risk settings."""
    seed = draw(st.integers(0, 2**32 - 1))
    n = draw(st.integers(20, 400))
    vol = draw(st.sampled_from([0.002, 0.01, 0.03]))
    density = draw(st.sampled_from([0.05, 0.2, 0.5]))
    bar_ms = draw(st.sampled_from(list(TIMEFRAMES)))
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, vol, n)))
    open_ = np.concatenate(([100.0], close[:-1])) * np.exp(rng.normal(0, vol / 3, n))
    wick = np.abs(rng.normal(0, vol / 2, (2, n)))
    o, c = np.round(open_, 2), np.round(close, 2)
    h = np.maximum(np.round(np.maximum(open_, close) * (1 + wick[0]), 2), np.maximum(o, c))
    lo = np.minimum(np.round(np.minimum(open_, close) * (1 - wick[1]), 2), np.minimum(o, c))
    rows = list(zip(o.tolist(), h.tolist(), lo.tolist(), c.tolist(), strict=True))
    entries = {}
    for j in np.flatnonzero(rng.random(n) < density).tolist():
        side = 1 if rng.random() < 0.5 else -1
        distance = rows[j][3] * rng.uniform(0.002, 0.05)
        entries[j] = (side, rows[j][3] - side * distance, rows[j][3] + side * distance * rng.uniform(1.5, 3.5))
    def pick(*choices):  # one of a few values, drawn by hypothesis
        return draw(st.sampled_from(choices))

    limits = RiskLimits().with_changes(
        max_position_notional=D(pick(1000, 100000)), daily_loss_limit_pct=D(pick("1", "3")), drawdown_warn_pct=D(2),
        drawdown_reducing_pct=D(pick("3", "4")), max_drawdown_pct=D(pick("5", "8")),
        risk_per_trade_pct=D(pick("0.5", "1")), max_consecutive_losses=pick(2, 3), loss_cooldown_minutes=pick(30, 300),
        partial_tp_enabled=draw(st.booleans()), partial_tp_trigger_pct=D(pick("1", "3")),
        auto_trade_daily_cap=pick(2, 10), signal_cooldown_minutes=pick(0, 5, 120), level_high_pct=D(2),
        emergency_close_pct=D(pick("3", "5")), level_critical_pct=D(pick("3", "5")),
        auto_emergency_on_drawdown=draw(st.booleans()), auto_emergency_on_daily_loss=draw(st.booleans()),
        auto_close_on_emergency=draw(st.booleans()), min_reward_risk=D("1.5"),
        risk_day_timezone=pick("UTC", "Europe/Berlin", "America/New_York"),
    )
    cfg = config(
        limits=limits, timeframe=TIMEFRAMES[bar_ms], leverage=draw(st.sampled_from([1, 3, 10, 50])),
        fill=FillModel(D(draw(st.sampled_from(["0", "0.0005"]))), D(draw(st.sampled_from(["0", "0.0002"]))),
                       D(draw(st.sampled_from(["0", "2"])))),
        funding_rate=D(draw(st.sampled_from(["0", "0.0001", "-0.0003"]))), limit_entries=draw(st.booleans()),
        validity_bars=draw(st.sampled_from([1, 3])), rearm_next_day=draw(st.booleans()),
    )
    first = draw(st.sampled_from([0, 5]))
    return EngineInput(candles(rows, bar_ms=bar_ms), SPEC, cfg, first), signals(n, entries)


def _same(a: Outcome, b: Outcome) -> None:
    assert a.trades.rows() == b.trades.rows()
    assert a.final_equity == b.final_equity
    assert np.array_equal(a.equity, b.equity)
    assert {k: (v.count, v.first_reason, v.first_ms) for k, v in a.denials.items()} == \
        {k: (v.count, v.first_reason, v.first_ms) for k, v in b.denials.items()}
    assert a.events == b.events
    assert (a.signals, a.exposure_bars, a.funding, a.open_position) == (b.signals, b.exposure_bars, b.funding,
                                                                        b.open_position)


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_event_skipping_gives_exactly_the_result_of_the_bar_by_bar_loop(case):
    inp, sig = case

    _same(run_events(inp, sig), bar_by_bar(inp, sig))
