"""The live gateway and the backtest decide an entry with one execution core: same account, same decision.

Each case builds one account twice: live (the app's own gateway and pre-trade reads on a recording venue, after a
real poll) and in the backtest (a ``SimAccount`` after a real bar step), with the same equity, day's opening and
peak equity, recent closes, trading state, automatic entries today, costs, contract, leverage, price, stop and
target. Both must give the same verdicts (rule, allowed, reason, until) in the same order and the same quantity;
the gateway must then send exactly what the backtest places, or deny with the backtest's denials.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from riskmgr.accounts.monitor import poll_cycle
from riskmgr.backtest.account import SimAccount
from riskmgr.backtest.decisions import ACCOUNT_GATES, _intent, decide, entry_context
from riskmgr.backtest.engine import EngineInput, build_series
from riskmgr.backtest.polling import step
from riskmgr.core.clock import to_ms
from riskmgr.core.domain import OrderRequest, OrderSide, OrderType, PositionSide, TradingState
from riskmgr.exchanges.fills import FillModel
from riskmgr.persistence.models import AccountState
from riskmgr.risk.context import ClosedTrade
from riskmgr.risk.decision import EntryDecision, decide_entry
from riskmgr.risk.state import escalate
from tests.backtest.helpers import candles, config, signals
from tests.conftest import T0
from tests.fakes import BTC
from tests.risk.test_gateway import RecordingAdapter

D = Decimal
HOUR = timedelta(hours=1)
BARS = 3  # the decision is taken at the close of the last bar, which is the live clock's now (T0)
LEVERAGE = 3


@dataclass(frozen=True)
class Case:
    """One account and one signal, as both sides are given them."""

    side: PositionSide = PositionSide.LONG
    stop: str = "49500"
    target: str = "51500"
    state: TradingState = TradingState.ACTIVE
    automatic_entries: int = 0
    losses: int = 0  # losing closes in a row, the newest 10 minutes ago
    day_start: str | None = None  # the day's opening equity, when not the equity itself
    peak: str | None = None


CASES = {
    "every rule allows a long": Case(),
    "every rule allows a short": Case(side=PositionSide.SHORT, stop="50500", target="48500"),
    "halted": Case(state=TradingState.HALTED),
    "reducing": Case(state=TradingState.REDUCING),
    "the daily cap of automatic entries is reached": Case(automatic_entries=10),
    "one entry under the daily cap": Case(automatic_entries=9),
    "a losing streak cools down": Case(losses=3),
    "a target too near for the reward to risk": Case(target="50400"),
    "a stop inside the round-trip costs": Case(stop="49950", target="50500"),
    "the day's loss is past its limit": Case(day_start="10400"),
    "the drawdown from the peak is past its limit": Case(peak="10600"),
    "a stop so far its risk budget sizes below the exchange minimum": Case(side=PositionSide.SHORT, stop="250000",
                                                                            target="1000"),
}


def _closes(case: Case) -> list[ClosedTrade]:
    """Losing closes, newest first, the newest 10 minutes before the decision."""
    return [ClosedTrade(T0 - timedelta(minutes=10 + 5 * i), D("-12.5"), BTC, PositionSide.LONG)
            for i in range(case.losses)]


@pytest.fixture
def venue(clock) -> RecordingAdapter:
    return RecordingAdapter("acct", equity="10000", now=clock.now)


def _live_world(rt, venue, case: Case) -> OrderRequest:
    """Set the live account up as the case says; return the unsized market entry the signal makes."""
    venue.closed = _closes(case)
    poll_cycle(rt)  # a real poll: the snapshot, the day's opening equity and the peak
    if case.day_start is not None or case.peak is not None:
        with Session(rt.engine) as session, session.begin():
            row = session.get(AccountState, "acct")
            row.day_start_equity = D(case.day_start) if case.day_start else row.day_start_equity
            row.peak_equity = D(case.peak) if case.peak else row.peak_equity
    if case.state is not TradingState.ACTIVE:
        rt.trading.escalate(case.state, "the case's trading state", "test")
    side = OrderSide.BUY if case.side is PositionSide.LONG else OrderSide.SELL
    request = OrderRequest(BTC, side, OrderType.MARKET, D(0), leverage=LEVERAGE, stop_loss=D(case.stop),
                           take_profit=D(case.target))
    return rt.gateway.rounded("acct", request)


def _backtest_world(rt, case: Case) -> tuple[SimAccount, object]:
    """The same account in the backtest, at the close of its last bar (the live clock's now)."""
    limits = rt.limits()
    spec = rt.gateway.spec("acct", BTC)  # the venue's own contract
    fill = FillModel(limits.taker_fee_estimate_pct / 100, D(0), limits.slippage_estimate_pct * 100)  # the estimates
    cfg = config(symbol=BTC, limits=limits, fill=fill, capital=D(10000), leverage=LEVERAGE)
    bars = candles([(50000, 50000, 50000, 50000)] * BARS, start=T0 - BARS * HOUR)
    acct = SimAccount(build_series(EngineInput(bars, spec, cfg)), spec, cfg, 0)
    j = BARS - 1
    step(acct, j)  # a real bar: the risk day, its opening equity and the peak
    assert acct.s.close_ms(j) == to_ms(T0)
    acct.recent = _closes(case)
    acct.day_start = D(case.day_start) if case.day_start else acct.day_start
    acct.peak = D(case.peak) if case.peak else acct.peak
    if case.state is not TradingState.ACTIVE:
        acct.status = escalate(acct.status, case.state, "the case's trading state", T0, "test") or acct.status
    acct.entries_day, acct.entries_today = acct.day, case.automatic_entries
    direction = 1 if case.side is PositionSide.LONG else -1
    return acct, signals(BARS, {j: (direction, float(case.stop), float(case.target))})


def _live_decision(rt, request: OrderRequest, case: Case) -> EntryDecision:
    prepared = rt.pretrade.prepare("acct", request, size=True)  # sized from the risk budget, as the backtest sizes
    in_flight = rt.pretrade.in_flight("acct", prepared)
    return prepared.decide(in_flight, rt.trading.current().state, gates=rt.gateway.entry_verdicts("acct"),
                           automatic_entries=case.automatic_entries)


def _seen(decision: EntryDecision) -> list[tuple]:
    """The verdicts as compared. The cost figures are the same on both sides; only where they come from is named
    differently ("estimate RISK_TAKER_FEE_ESTIMATE_PCT setting" live, "backtest setting" in a run), so the source
    names are blanked."""
    costs = decision.context.costs if decision.context is not None else None
    sources = [costs.fee_source, costs.slippage_source] if costs is not None else []

    def plain(reason: str) -> str:
        for source in sources:
            reason = reason.replace(source, "<source>")
        return reason

    return [(v.rule, v.allowed, plain(v.reason), v.until) for v in decision.verdicts]


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_the_live_gate_and_the_backtest_take_the_same_decision_on_the_same_account(rt, venue, case):
    request = _live_world(rt, venue, case)
    acct, sig = _backtest_world(rt, case)

    live = _live_decision(rt, request, case)
    backtest = decide_entry(entry_context(acct, T0, _intent(acct, case.side, BARS - 1, sig)))

    assert _seen(live) == _seen(backtest)
    assert live.qty == backtest.qty
    assert live.allowed == backtest.allowed


def test_the_cases_cover_an_allowed_entry_and_a_denial_by_every_kind_of_gate(rt, venue):
    poll_cycle(rt)
    denied_by, allowed = set(), 0
    for case in CASES.values():
        acct, sig = _backtest_world(rt, case)
        decision = decide_entry(entry_context(acct, T0, _intent(acct, case.side, BARS - 1, sig)))
        denied_by |= {v.rule for v in decision.denials}
        allowed += decision.allowed

    assert allowed == 3
    assert {"trading_state", "auto_trade_daily_cap", "consecutive_losses", "reward_risk", "min_stop_distance",
            "daily_loss", "drawdown", "risk_per_trade"} <= denied_by


@pytest.mark.parametrize("name", ["every rule allows a long", "every rule allows a short",
                                  "the daily cap of automatic entries is reached", "a losing streak cools down",
                                  "halted", "the day's loss is past its limit"])
def test_the_gateway_sends_what_the_backtest_places_or_denies_what_it_denies(rt, venue, name):
    case = CASES[name]
    request = _live_world(rt, venue, case)
    acct, sig = _backtest_world(rt, case)
    sized = _live_decision(rt, request, case).qty

    decide(acct, BARS - 1, sig)
    result = rt.gateway.submit("acct", replace(request, qty=sized or D("0.01")), actor="auto-trader",
                               intent_id=f"signal:{name}", purpose="signal",
                               automatic_entries=case.automatic_entries)

    if acct.pending is not None:
        assert result.accepted
        entry = [payload for what, payload in venue.sent if what == "place_order"]
        assert [(o.qty, o.side) for o in entry] == [(acct.pending.qty, request.side)]
        assert (acct.pending.stop, acct.pending.target) == (request.stop_loss, request.take_profit)
    else:
        assert not result.accepted and venue.sent == []
        denied = {(v.rule, v.reason) for v in result.denials}
        counted = {(rule, count.first_reason) for rule, count in acct.denials.items()}
        # while an account-level gate is shut the backtest counts the signal against the shut gates only
        assert counted and counted <= denied
        assert {rule for rule, _ in denied if rule in ACCOUNT_GATES} == {rule for rule, _ in counted}
