"""The engine's fast paths decide exactly as the full rule path: same entries, same denials and reasons, same steps.

The bar-by-bar loop of the tests runs only the full path (``decisions.decide``, ``polling.step``): every
comparison with it checks the fast paths. Here each decision is also checked on its own, against the full path
on a twin of the same account, so a fast path that drifts from the live rules is caught at the decision it gets
wrong.
"""

from __future__ import annotations

import copy
import tempfile
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from riskmgr.app.config import Settings
from riskmgr.backtest import fastpath, fastpoll
from riskmgr.backtest.account import Holding, SimAccount
from riskmgr.backtest.decisions import EntrySignals, decide
from riskmgr.backtest.engine import EngineInput, build_series, run_events
from riskmgr.backtest.fastpath import DecisionPlan, try_place, try_shut
from riskmgr.backtest.params import merge, parse_params
from riskmgr.backtest.polling import step
from riskmgr.backtest.presets import BUILTIN, defaults
from riskmgr.backtest.screening import _Levels
from riskmgr.core.clock import from_ms
from riskmgr.core.domain import MarginMode, Position, PositionSide, TradingState
from riskmgr.core.errors import ValidationError
from riskmgr.exchanges.fills import FillModel
from riskmgr.market.base import CandleArrays
from riskmgr.market.sim.specs import SIM_BY_SYMBOL
from riskmgr.risk.config import RiskLimits
from riskmgr.risk.levels import position_actions
from riskmgr.risk.state import evaluate_account_tiers
from riskmgr.signals.rules import evaluate_series
from tests.backtest.helpers import SPEC, bar_by_bar, candles, config, signals

# hypothesis keeps a cache directory; keep it out of the working tree, as test_property does
set_hypothesis_home_dir(tempfile.mkdtemp(prefix="riskmgr-hypothesis-"))
D = Decimal
START_MS = 1_704_067_200_000  # 2024-01-01 00:00 UTC
SYMBOL = "BTC/USDT:USDT"


def walk(n: int, seed: int, vol: float = 0.0025) -> CandleArrays:
    """Fifteen-minute bars of a seeded random walk with wicks, prices on a 0.1 tick."""
    rng = np.random.default_rng(seed)
    close = np.round(40000.0 * np.exp(np.cumsum(rng.normal(0, vol, n))), 1)
    open_ = np.concatenate(([40000.0], close[:-1]))
    wick = np.abs(rng.normal(0, vol / 2, (2, n)))
    high = np.maximum(np.round(np.maximum(open_, close) * (1 + wick[0]), 1), np.maximum(open_, close))
    low = np.minimum(np.round(np.minimum(open_, close) * (1 - wick[1]), 1), np.minimum(open_, close))
    ts = START_MS + 900_000 * np.arange(n, dtype=np.int64)
    return CandleArrays(ts, open_, high, low, close, rng.lognormal(7, 0.4, n))


def conservative(n: int, seed: int, rearm: bool, **changes: object) -> tuple[EngineInput, EntrySignals]:
    """The Conservative preset on ``n`` bars (re-armed daily or not), optionally with changed engine settings."""
    runtime = SimpleNamespace(settings=Settings())
    end = from_ms(START_MS + 900_000 * n)
    extra = {"start": from_ms(START_MS).isoformat(), "end": end.isoformat(), "rearm": "next_day" if rearm else "never"}
    p = parse_params(merge(merge(defaults(runtime), BUILTIN["conservative"].params), extra), end)  # type: ignore[arg-type]
    cfg = p.engine_config()
    if changes:
        from dataclasses import replace

        cfg = replace(cfg, **changes)
    bars = walk(n, seed)
    sig = EntrySignals.from_arrays(evaluate_series(bars, p.signal), cfg.limits.min_signal_confidence)
    return EngineInput(bars, SIM_BY_SYMBOL[SYMBOL].spec, cfg), sig


def _decision_state(acct: SimAccount) -> tuple:
    return (acct.pending, acct.signals, acct.block, acct.last_taken, acct.entries_day, acct.entries_today,
            {k: (v.count, v.first_reason, v.first_ms) for k, v in acct.denials.items()})


def _twin(acct: SimAccount) -> SimAccount:
    twin = copy.copy(acct)
    twin.denials, twin.recent, twin.events = copy.deepcopy(acct.denials), list(acct.recent), list(acct.events)
    return twin


def _check_every_decision(inp: EngineInput, sig: EntrySignals) -> dict[str, int]:
    """Walk every bar with the full step; at each signal decide on a twin in full and here on the fast paths."""
    acct = SimAccount(build_series(inp), inp.spec, inp.config, inp.first_bar)
    plan = DecisionPlan.of(acct)
    paths = {"placed": 0, "repeated": 0, "shut": 0, "full": 0}
    for j in range(inp.first_bar, len(inp.candles)):
        step(acct, j)
        if acct.idle and sig.side[j] != 0:
            twin = _twin(acct)
            decide(twin, j, sig)
            if try_place(acct, j, sig, plan):
                paths["placed" if acct.pending is not None else "repeated"] += 1
            elif try_shut(acct, j, sig, plan):
                paths["shut"] += 1
            else:
                paths["full"] += 1
                decide(acct, j, sig)
            assert _decision_state(acct) == _decision_state(twin), f"bar {j}"
        acct.mark_range(j, j + 1)
    return paths


@pytest.mark.parametrize("seed", [1, 2])
def test_each_fast_decision_equals_the_full_rule_path_on_the_same_account_re_armed_daily(seed):
    inp, sig = conservative(6000, seed, rearm=True)

    paths = _check_every_decision(inp, sig)

    assert paths["placed"] > 50 and paths["shut"] > 5  # both fast paths were exercised, and checked


@pytest.mark.parametrize("changes", [
    # the liquidation sits near the stop: liquidation_beyond_stop decides, the per-unit shortcut is often unsure
    {"leverage": 100, "limits": RiskLimits().with_changes(max_leverage=100)},
    {"fill": FillModel(D("0.0008"), D("0.0005"), D(3))},  # costs near the stop distance: min_stop_distance decides
    {"limits": RiskLimits().with_changes(max_position_notional=D(300), risk_per_trade_pct=D("3"),
                                         auto_trade_daily_cap=3, max_consecutive_losses=2,
                                         signal_cooldown_minutes=120)},
    {"limits": RiskLimits().with_changes(min_reward_risk=D("2.5"), default_target_pct=D(4), daily_loss_limit_pct=D(1),
                                         risk_per_trade_pct=D(1), drawdown_reducing_pct=D(2), drawdown_warn_pct=D(1))},
    {"limits": RiskLimits().with_changes(max_position_notional=D(45))},  # 0.001 BTC or nothing: risk_per_trade
    {"capital": D(30)},  # a small account: the drawdown tiers set REDUCING, trading_state and drawdown decide
    {"limit_entries": True, "validity_bars": 3},
])
def test_each_fast_decision_equals_the_full_rule_path_under_other_settings(changes):
    inp, sig = conservative(4000, 3, rearm=True, **changes)

    paths = _check_every_decision(inp, sig)

    assert sum(paths.values()) > 20


@pytest.mark.parametrize(("seed", "changes"), [
    (1, {}),
    # tight daily loss and drawdown tiers: the streak is often shut together with other gates, which the live
    # rules must then judge (and word) in full
    (3, {"limits": RiskLimits().with_changes(daily_loss_limit_pct=D(1), risk_per_trade_pct=D(1),
                                             drawdown_reducing_pct=D(2), drawdown_warn_pct=D(1),
                                             max_consecutive_losses=2)}),
])
def test_a_repeated_loss_streak_denial_alone_is_counted_without_the_live_rules_and_equals_them(seed, changes,
                                                                                              monkeypatch):
    found: list[bool] = []
    original = fastpath._streak_only

    def spy(acct, now, plan):
        verdict = original(acct, now, plan)
        found.append(verdict is not None)
        return verdict

    monkeypatch.setattr(fastpath, "_streak_only", spy)
    inp, sig = conservative(6000, seed, rearm=True, **changes)

    _check_every_decision(inp, sig)  # every decision equal to decide's on a twin account

    assert sum(found) > 10  # the shortcut counted many repeated streak denials
    assert not all(found)  # and left others (a first denial, another gate shut too) to the live rules


@pytest.mark.parametrize("other", ["none", "daily_loss", "drawdown", "daily_cap", "streak_over", "halted"])
def test_a_repeated_loss_streak_denial_is_counted_like_decide_whichever_other_gate_is_shut(other):
    inp, sig = conservative(3000, 4, rearm=True)
    acct = SimAccount(build_series(inp), inp.spec, inp.config, inp.first_bar)
    plan = DecisionPlan.of(acct)
    j = int(np.flatnonzero(sig.side)[0])
    now = from_ms(acct.s.close_ms(j))
    acct.day = acct.entries_day = int(acct.s.day[j])
    for _ in range(3):  # three losing closes in a row, the last a minute ago: the breaker is shut
        acct.recent.insert(0, SimpleNamespace(closed_at=now - timedelta(minutes=1), realized_pnl=D(-5)))
    twin = _twin(acct)
    decide(twin, j, sig)  # the streak's first denial, worded by the live rule
    acct.denials, acct.signals, acct.block = copy.deepcopy(twin.denials), twin.signals, twin.block
    if other == "daily_loss":
        acct.wallet = acct.day_start * D("0.95")
    elif other == "drawdown":
        acct.peak = acct.wallet * D("1.06")
    elif other == "daily_cap":
        acct.entries_today = acct.limits.auto_trade_daily_cap
    elif other == "halted":
        acct.status = replace(acct.status, state=TradingState.HALTED)
    elif other == "streak_over":  # the same streak a day ago: the breaker is open again
        acct.recent = [SimpleNamespace(closed_at=now - timedelta(days=1), realized_pnl=D(-5))] * 3
    twin = _twin(acct)

    expected_fast = other == "none"
    assert (fastpath._streak_only(acct, now, plan) is not None) == expected_fast
    if not try_place(acct, j, sig, plan) and not try_shut(acct, j, sig, plan):  # as the engine decides
        decide(acct, j, sig)
    decide(twin, j, sig)

    assert _decision_state(acct) == _decision_state(twin)
    assert acct.denials["consecutive_losses"].count == (1 if other == "streak_over" else 2)


def test_a_repeated_order_rule_denial_is_counted_on_the_fast_path_with_the_first_reason_kept():
    # at 100x the liquidation often lies inside the stop: liquidation_beyond_stop denies again and again
    inp, sig = conservative(4000, 3, rearm=True, leverage=100, limits=RiskLimits().with_changes(max_leverage=100))

    paths = _check_every_decision(inp, sig)

    assert paths["repeated"] > 100 and paths["full"] < paths["repeated"] / 10


def _same(a, b) -> None:
    assert a.trades.rows() == b.trades.rows()
    assert a.final_equity == b.final_equity
    assert np.array_equal(a.equity, b.equity)
    assert {k: (v.count, v.first_reason, v.first_ms) for k, v in a.denials.items()} == \
        {k: (v.count, v.first_reason, v.first_ms) for k, v in b.denials.items()}
    assert a.events == b.events
    assert (a.signals, a.exposure_bars, a.funding) == (b.signals, b.exposure_bars, b.funding)


@pytest.mark.parametrize("rearm", [True, False])
def test_engine_with_fast_paths_equals_the_full_bar_by_bar_loop_on_the_conservative_preset(rearm):
    inp, sig = conservative(8000, 5, rearm=rearm)

    fast, full = run_events(inp, sig), bar_by_bar(inp, sig)

    assert len(fast.trades) > 20
    _same(fast, full)


@pytest.mark.parametrize("rate", ["0.0001", "-0.002", "0.004"])
def test_funding_paid_ahead_of_a_quiet_held_bar_equals_the_full_loop_and_is_paid_once(rate, monkeypatch):
    # the preset re-armed daily holds over many 8-hour funding instants; a large rate moves the wallet enough to
    # change later sizing, tiers and stops, so a funding paid twice, late or with a stale wallet would show
    inp, sig = conservative(6000, 7, rearm=True, funding_rate=D(rate))
    prepaid: list[int] = []
    original = fastpoll.prepay_funding

    def spy(acct, j):
        paid = original(acct, j)
        if paid:
            prepaid.append(j)
        return paid

    monkeypatch.setattr(fastpoll, "prepay_funding", spy)
    fast, full = run_events(inp, sig), bar_by_bar(inp, sig)

    assert len(prepaid) > 20 and len(set(prepaid)) == len(prepaid)
    assert fast.funding != 0
    _same(fast, full)


def test_a_bad_bar_where_the_engine_stops_fails_there_as_in_the_full_step():
    # a position is open over the first bar of the next risk day (the engine stops there for the new day), whose
    # high lies below its open: the full step's Bar rejects it, so the engine must not skip building it
    good, bad = (100.0, 100.5, 99.5, 100.0), (100.0, 99.9, 99.5, 100.0)
    rows = [good] * 23 + [bad] + [good] * 6  # bar 23 closes at 00:00, the first close of the next risk day
    inp = EngineInput(candles(rows), SPEC, config())
    sig = signals(len(rows), {20: (1, 98.0, 104.0)})

    assert not fastpoll.bar_valid(build_series(inp), 23) and fastpoll.bar_valid(build_series(inp), 22)
    with pytest.raises(ValueError, match="low <= open, close <= high"):
        bar_by_bar(inp, sig)
    with pytest.raises(ValueError, match="low <= open, close <= high"):
        run_events(inp, sig)


PCT = st.decimals(min_value=D("0.5"), max_value=D("9"), places=1)


def _limits(**changes: object) -> RiskLimits:
    """Return the limits with ``changes``; a mix the limits reject is not a case (hypothesis draws another)."""
    try:
        return RiskLimits().with_changes(**changes)
    except ValidationError:
        assume(False)
        raise


@settings(max_examples=300, deadline=None, database=None)
@given(mark=st.decimals(min_value=D("80"), max_value=D("120"), places=2), long=st.booleans(), critical=PCT,
       emergency=PCT, partial=st.booleans(), trigger=PCT)
def test_monitor_is_quiet_exactly_when_the_live_monitor_has_nothing_to_do(mark, long, critical, emergency,
                                                                          partial, trigger):
    limits = _limits(level_critical_pct=critical, level_high_pct=critical - D("0.1"), emergency_close_pct=emergency,
                     partial_tp_enabled=partial, partial_tp_trigger_pct=trigger, default_stop_pct=D("0.1"))
    side = PositionSide.LONG if long else PositionSide.SHORT
    entry = D(100)
    holding = Holding(side, D(1), D(1), entry, 0, 0, None, None, None, D(20), 5, D(0), 0)
    acct = SimpleNamespace(limits=limits)
    position = Position(symbol=SYMBOL, side=side, size=D(1), entry_price=entry, mark_price=mark, leverage=D(5),
                        margin_mode=MarginMode.ISOLATED, liquidation_price=None, unrealized_pnl=D(0))

    quiet = fastpoll._monitor_quiet(acct, holding, mark)  # type: ignore[arg-type]

    assert quiet == (position_actions(position, limits) == ())


@settings(max_examples=300, deadline=None, database=None)
@given(equity=st.decimals(min_value=D("9000"), max_value=D("10500"), places=2),
       peak=st.decimals(min_value=D("10000"), max_value=D("10600"), places=2),
       day_start=st.decimals(min_value=D("9200"), max_value=D("10400"), places=2),
       loss=PCT, reducing=PCT, max_dd=PCT, flatten=st.booleans())
def test_tiers_are_quiet_exactly_when_the_live_tiers_propose_nothing(equity, peak, day_start, loss, reducing,
                                                                     max_dd, flatten):
    limits = _limits(daily_loss_limit_pct=loss, drawdown_warn_pct=reducing - D("0.1"), drawdown_reducing_pct=reducing,
                     max_drawdown_pct=max_dd, auto_emergency_on_daily_loss=flatten, risk_per_trade_pct=D("0.1"))
    acct = SimpleNamespace(limits=limits, peak=peak, day_start=day_start)

    quiet = fastpoll._tiers_quiet(acct, equity)  # type: ignore[arg-type]

    tiers = evaluate_account_tiers(limits, equity, day_start, peak, from_ms(START_MS))
    assert quiet == (tiers.proposed_state is None and not tiers.daily_loss_hit and not tiers.emergency_stop)


@settings(max_examples=200, deadline=None, database=None)
@given(seed=st.integers(0, 2**32 - 1), long=st.booleans(), stop=st.one_of(st.none(), st.floats(0.9, 0.99)),
       target=st.one_of(st.none(), st.floats(1.01, 1.1)), close_band=st.one_of(st.none(), st.floats(0.9, 0.99)),
       drawdown=st.one_of(st.none(), st.floats(0.5, 5)), loss=st.one_of(st.none(), st.floats(0.5, 5)))
def test_the_bar_by_bar_scan_finds_what_the_array_search_finds(seed, long, stop, target, close_band, drawdown, loss):
    rng = np.random.default_rng(seed)
    n = 60
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    low, high = close * (1 - np.abs(rng.normal(0, 0.005, n))), close * (1 + np.abs(rng.normal(0, 0.005, n)))
    series = SimpleNamespace(low=low, high=high, close=close)
    flip = (lambda x: x) if long else (lambda x: 2 - x)
    levels = _Levels(
        long=long, adverse=None if stop is None else 100 * flip(stop), target=None if target is None else
        100 * flip(target), close_low=None if close_band is None or not long else 100 * close_band,
        close_high=None if close_band is None or long else 100 * (2 - close_band), wallet=10000.0, qty=5.0,
        entry=100.0, drawdown=drawdown, loss=loss, day_start=10050.0,
    )

    for a, b in ((0, n), (7, 30), (20, 21)):
        assert levels.scan(series, a, b, 10100.0) == levels.first(series, a, b, 10100.0)  # type: ignore[arg-type]


def test_a_shut_account_level_gate_is_counted_without_sizing_with_the_live_reasons():
    inp, sig = conservative(3000, 4, rearm=True)
    acct = SimAccount(build_series(inp), inp.spec, inp.config, inp.first_bar)
    plan = DecisionPlan.of(acct)
    j = int(np.flatnonzero(sig.side)[0])
    for _ in range(3):  # three losing closes in a row, the last one just now: the loss-streak breaker is shut
        acct.recent.insert(0, SimpleNamespace(closed_at=from_ms(acct.s.close_ms(j)) - timedelta(minutes=1),
                                              realized_pnl=D(-5)))
    twin = _twin(acct)

    assert not try_place(acct, j, sig, plan)
    assert try_shut(acct, j, sig, plan)

    decide(twin, j, sig)
    assert _decision_state(acct) == _decision_state(twin)
    assert set(acct.denials) == {"consecutive_losses"}
    assert acct.denials["consecutive_losses"].first_reason.startswith("3 losing closes in a row")


def test_the_signal_cooldown_is_judged_by_the_live_filter_first_then_counted_as_decide_counts_it():
    inp, sig = conservative(3000, 4, rearm=True)
    acct = SimAccount(build_series(inp), inp.spec, inp.config, inp.first_bar)
    plan = DecisionPlan.of(acct)
    bars = np.flatnonzero(sig.side)
    j, later = int(bars[0]), int(bars[1])
    acct.last_taken = from_ms(acct.s.close_ms(later)) - timedelta(minutes=1)  # an entry a minute before: cooling
    twin = _twin(acct)

    for k in (j, j, later):  # the first denial words the reason; the repeats only count
        assert not try_place(acct, k, sig, plan)
        assert try_shut(acct, k, sig, plan)
        decide(twin, k, sig)
        assert _decision_state(acct) == _decision_state(twin)
    assert set(acct.denials) == {"signal_cooldown"} and acct.denials["signal_cooldown"].count == 3
    assert acct.denials["signal_cooldown"].first_reason.startswith("cooling down until")

    past = from_ms(acct.s.close_ms(j)) - plan.cooldown - timedelta(minutes=1)  # the cooldown over: not shut by it
    acct.last_taken = twin.last_taken = past
    assert fastpath._cooldown_verdict(acct, from_ms(acct.s.close_ms(j)), PositionSide.LONG, j, sig, plan) is None


@settings(max_examples=400, deadline=None, database=None)
@given(prices=st.lists(st.integers(39_000_0, 41_000_0), min_size=4, max_size=4), long=st.booleans(),
       offsets=st.lists(st.sampled_from([None, -2, -1, 0, 1, 2]), min_size=3, max_size=3),
       nudge=st.sampled_from([D(0), D("1e-20"), D("-1e-20")]), target_later=st.booleans())
def test_the_exit_check_of_a_bar_says_yes_exactly_when_the_fill_model_finds_an_exit(prices, long, offsets, nudge,
                                                                                 target_later):
    from riskmgr.exchanges import fills as fm

    o, c = prices[0] / 10, prices[1] / 10
    lo, hi = min(prices) / 10, max(prices) / 10
    series = SimpleNamespace(low=np.array([lo]), high=np.array([hi]))
    ref = D(repr(lo)) if long else D(repr(hi))  # levels at, or a tick or two around, the bar's extreme (+- a hair)
    levels = [None if k is None else ref + D(k) / 10 + nudge for k in offsets]
    stop, liquidation = levels[0], levels[1]
    target = None if levels[2] is None else (D(repr(hi)) if long else D(repr(lo))) + D(offsets[2]) / 10 + nudge
    side = PositionSide.LONG if long else PositionSide.SHORT
    h = Holding(side, D(1), D(1), D(40000), 0, 0, stop, target, liquidation, D(100), 3, D(0),
                1 if target_later else 0)
    bar = fm.Bar(from_ms(START_MS), *(D(repr(x)) for x in (o, hi, lo, c)))
    expected = fm.position_exit(side, bar, stop=stop, liquidation=liquidation,
                                take_profit=None if target_later else target) is not None

    assert fastpoll._exit_possible(SimpleNamespace(s=series), h, 0) == expected  # type: ignore[arg-type]


@settings(max_examples=500, deadline=None, database=None)
@given(value=st.one_of(st.floats(1e-6, 1e8, allow_nan=False), st.integers(1, 10**8).map(lambda k: k / 10),
                       st.integers(1, 10**6).map(lambda k: k * 0.25)),
       tick=st.sampled_from([D("0.1"), D("0.01"), D("0.5"), D(1), D("0.25"), D("0.001")]), up=st.booleans())
def test_tick_rounding_from_the_float_quotient_equals_the_exact_rounding(value, tick, up):
    # whole quotients (a price already on the tick) and near-whole ones take the exact path; the rest the float one
    expected = fastpath.round_to_tick(fastpath.price_of(value), tick, up=up)

    found = fastpath._on_tick(value, tick, float(tick), up)

    assert found == expected and str(found) == str(expected)


def test_a_flat_bar_skipped_as_quiet_is_one_the_full_step_leaves_unchanged(monkeypatch):
    inp, sig = conservative(5000, 21, rearm=True)
    seen: list[int] = []
    original = fastpoll.flat_quiet

    def spy(acct, j):
        quiet = original(acct, j)
        if quiet:
            twin = _twin(acct)
            before = (twin.wallet, twin.day_start, twin.peak, twin.status, twin.day, twin.halted_day,
                      twin.daily_hit_day, twin.block, len(twin.events), twin.bust, twin.tier_key)
            step(twin, j)
            assert (twin.wallet, twin.day_start, twin.peak, twin.status, twin.day, twin.halted_day,
                    twin.daily_hit_day, twin.block, len(twin.events), twin.bust, twin.tier_key) == before
            seen.append(j)
        return quiet

    monkeypatch.setattr(fastpoll, "flat_quiet", spy)
    fast = run_events(inp, sig)

    assert len(seen) > 50
    _same(fast, bar_by_bar(inp, sig))


def test_the_decisions_loss_and_drawdown_gates_reuse_the_polls_quiet_test_only_on_the_same_figures():
    inp, _ = conservative(200, 3, rearm=False)
    acct = SimAccount(build_series(inp), inp.spec, inp.config, 0)
    acct.wallet, acct.day_start, acct.peak = D("9900"), D("10000"), D("10000")

    assert fastpoll._tiers_quiet(acct, acct.wallet)
    assert acct.quiet_figures == (acct.wallet, acct.day_start, acct.peak)
    assert fastpath._gates_allow(acct, acct.wallet)
    acct.wallet = D("9500")  # a 5 % day loss: another object, so the gates judge it again, and deny
    assert not fastpath._gates_allow(acct, acct.wallet)
    acct.wallet, acct.peak = D("9900"), D("10500")  # same wallet value, another peak: judged again (drawdown 5.7 %)
    assert not fastpath._gates_allow(acct, acct.wallet)


LEVEL = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                  st.sampled_from([0.0, -0.1, 0.05, 0.1, 0.15, 0.2, 0.2000001, 0.19999, 0.25, 40000.0]))


@settings(max_examples=400, deadline=None)
@given(close=LEVEL, stop=LEVEL, target=LEVEL, long=st.booleans())
def test_an_intent_the_float_check_calls_certain_is_always_built_without_a_validation_error(close, stop, target,
                                                                                             long):
    """``try_shut`` skips building the intent (and the full path's fallback on a ValidationError) only where
    ``_intent_certain`` says so: there, building it must never fail."""
    inp, sig = conservative(300, 4, rearm=True)
    acct = SimAccount(build_series(inp), inp.spec, inp.config, inp.first_bar)
    plan = DecisionPlan.of(acct)
    j = 10
    acct.s.close[j], sig.stop[j], sig.target[j] = close, stop, target
    if not fastpath._intent_certain(acct, j, sig, plan):
        return
    side = PositionSide.LONG if long else PositionSide.SHORT
    intent = fastpath._intent(acct, side, j, sig)
    assert intent.entry_price > 0 and intent.stop_loss is not None and intent.take_profit is not None
