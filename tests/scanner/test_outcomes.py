"""Outcomes of auto-traded signals on a live venue: the venue's closed trades on the same symbol and side."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from riskmgr.core.domain import AccountSnapshot, AccountStatus, PositionSide
from riskmgr.core.errors import TemporaryError
from riskmgr.exchanges.reader import AccountReader
from riskmgr.risk.context import ClosedTrade
from riskmgr.scanner.auto import LIVE_CLOSE_GRACE, NO_CLOSE, closes_of
from riskmgr.scanner.core import Scanner
from riskmgr.scanner.history import OpenTrade, Outcome
from riskmgr.scanner.models import SignalDecision
from riskmgr.signals.conservative import Signal
from riskmgr.signals.quality import quality_score
from tests.conftest import T0
from tests.fakes import BTC, ReadOnlyFake, long_btc

ETH = "ETH/USDT:USDT"
LONG, SHORT = PositionSide.LONG, PositionSide.SHORT
D = Decimal


class LiveWithHistory(ReadOnlyFake):
    """A live venue that reports the closed trades the test sets (or fails as told)."""

    exchange = "fakex"

    def __init__(self, account: str):
        super().__init__(account)
        self.closed: list[ClosedTrade] = []
        self.closed_error: Exception | None = None
        self.asked_since: list[datetime] = []

    def fetch_closed_trades(self, since: datetime) -> list[ClosedTrade]:
        self.asked_since.append(since)
        if self.closed_error is not None:
            raise self.closed_error
        return sorted((t for t in self.closed if t.closed_at >= since), key=lambda t: t.closed_at, reverse=True)


@pytest.fixture
def auto(runtime):
    return runtime.feature(Scanner).auto


def _signal(side: PositionSide = LONG, minutes: int = 0) -> Signal:
    at = T0 + timedelta(minutes=minutes)
    stop, target = (D(49000), D(52000)) if side is LONG else (D(51000), D(48000))
    return Signal(BTC, "15m", side, D(50000), stop, target, D(2), 80, {"trend": 80}, at, at + timedelta(minutes=15),
                  ("test",), 60, D(500))


def _taken(runtime, account: str, side: PositionSide = LONG, minutes: int = 0) -> int:
    """Record a signal taken on ``account`` at T0 + ``minutes``; return its decision id."""
    history = runtime.feature(Scanner).history
    runtime.clock.set(T0 + timedelta(minutes=minutes))
    signal = _signal(side, minutes)
    record = history.record("conservative", "fakex", signal, quality_score(signal, None), "active", "ok")
    history.claim(record.id, account)
    history.finish(record.id, account, Outcome("taken", "order 1 accepted", "1"))
    now = runtime.clock.now()
    return next(t.decision_id for t in history.open_trades() if t.account == account and t.taken_at == now)


def _live(runtime, adapter: ReadOnlyFake, *, minutes: int, positions=()) -> None:
    """Make ``adapter`` an account of the runtime, freshly read at T0 + ``minutes`` with these positions."""
    runtime.accounts[adapter.account] = AccountReader(adapter)
    at = T0 + timedelta(minutes=minutes)
    runtime.clock.set(at)
    runtime.snapshots.save([AccountSnapshot(adapter.account, adapter.exchange, "live", AccountStatus.OK, at, at,
                                            positions=tuple(positions))])


def _decision(runtime, ident: int) -> SignalDecision:
    with Session(runtime.engine) as session:
        return session.scalars(select(SignalDecision).where(SignalDecision.id == ident)).one()


def test_a_live_outcome_is_the_sum_of_the_closes_on_the_same_symbol_and_side_after_the_entry(runtime, auto):
    venue = LiveWithHistory("live")
    ident = _taken(runtime, "live", LONG)
    venue.closed = [
        ClosedTrade(T0 - timedelta(minutes=1), D(500), BTC, LONG),  # before the entry: another trade
        ClosedTrade(T0 + timedelta(minutes=5), D("30.5"), BTC, LONG),  # partial take-profit
        ClosedTrade(T0 + timedelta(minutes=9), D("-10.25"), BTC, LONG),  # the rest
        ClosedTrade(T0 + timedelta(minutes=7), D(-40), BTC, SHORT),  # a hedge on the other side
        ClosedTrade(T0 + timedelta(minutes=8), D(-70), ETH, LONG),  # another contract
    ]
    _live(runtime, venue, minutes=10)

    assert auto.resolve_outcomes() == 1

    row = _decision(runtime, ident)
    assert (row.outcome, row.outcome_pnl, row.outcome_at) == ("win", D("20.25"), T0 + timedelta(minutes=9))
    assert row.outcome_note == "realized P&L reported by fakex (2 closes)"
    assert venue.asked_since == [T0]


def test_closes_without_a_side_match_by_symbol_alone(runtime, auto):
    venue = LiveWithHistory("live")
    ident = _taken(runtime, "live", SHORT)
    venue.closed = [ClosedTrade(T0 + timedelta(minutes=3), D("-12.5"), BTC, None),
                    ClosedTrade(T0 + timedelta(minutes=4), D(99), ETH, None)]
    _live(runtime, venue, minutes=5)

    auto.resolve_outcomes()

    row = _decision(runtime, ident)
    assert (row.outcome, row.outcome_pnl, row.outcome_note) == ("loss", D("-12.5"),
                                                                 "realized P&L reported by fakex (1 close)")


def test_a_venue_that_cannot_report_closed_trades_is_recorded_as_unknown_and_says_why(runtime, auto):
    ident = _taken(runtime, "live")
    _live(runtime, ReadOnlyFake("live"), minutes=5)  # no fetch_closed_trades at all

    auto.resolve_outcomes()

    row = _decision(runtime, ident)
    assert (row.outcome, row.outcome_pnl, row.outcome_at) == ("unknown", None, None)
    assert row.outcome_note == "closed trades cannot be read from fake: the fake adapter cannot report closed trades"


def test_a_close_not_listed_yet_is_waited_for_before_the_outcome_is_unknown(runtime, auto):
    venue = LiveWithHistory("live")
    ident = _taken(runtime, "live")
    _live(runtime, venue, minutes=5)

    assert auto.resolve_outcomes() == 0
    assert _decision(runtime, ident).outcome is None
    runtime.clock.advance(seconds=LIVE_CLOSE_GRACE.total_seconds() - 1)
    assert auto.resolve_outcomes() == 0
    runtime.clock.advance(seconds=1)

    assert auto.resolve_outcomes() == 1
    row = _decision(runtime, ident)
    assert (row.outcome, row.outcome_pnl, row.outcome_note) == ("unknown", None, NO_CLOSE)


def test_a_close_listed_within_the_grace_is_recorded(runtime, auto):
    venue = LiveWithHistory("live")
    ident = _taken(runtime, "live")
    _live(runtime, venue, minutes=5)
    auto.resolve_outcomes()
    venue.closed = [ClosedTrade(T0 + timedelta(minutes=4), D(0), BTC, LONG)]
    runtime.clock.advance(seconds=30)

    assert auto.resolve_outcomes() == 1

    assert (_decision(runtime, ident).outcome, _decision(runtime, ident).outcome_pnl) == ("flat", D(0))


def test_closes_on_contracts_the_venue_could_not_name_are_mentioned_when_giving_up(runtime, auto):
    venue = LiveWithHistory("live")
    ident = _taken(runtime, "live")
    venue.closed = [ClosedTrade(T0 + timedelta(minutes=2), D(-3), None, LONG)]
    _live(runtime, venue, minutes=5)
    auto.resolve_outcomes()
    runtime.clock.advance(seconds=LIVE_CLOSE_GRACE.total_seconds())

    auto.resolve_outcomes()

    assert _decision(runtime, ident).outcome_note == (
        f"{NO_CLOSE}; fakex reported 1 close(s) on contracts outside its markets")


def test_a_failed_read_of_closed_trades_leaves_the_trade_open_for_the_next_scan(runtime, auto):
    venue = LiveWithHistory("live")
    ident = _taken(runtime, "live")
    venue.closed = [ClosedTrade(T0 + timedelta(minutes=2), D(15), BTC, LONG)]
    venue.closed_error = TemporaryError("timeout", account="live", operation="fetch_closed_trades")
    _live(runtime, venue, minutes=5)

    assert auto.resolve_outcomes() == 0
    assert _decision(runtime, ident).outcome is None
    venue.closed_error = None

    assert auto.resolve_outcomes() == 1
    assert (_decision(runtime, ident).outcome, _decision(runtime, ident).outcome_pnl) == ("win", D(15))


def test_a_position_still_open_on_the_symbol_is_not_resolved(runtime, auto):
    venue = LiveWithHistory("live")
    ident = _taken(runtime, "live")
    venue.closed = [ClosedTrade(T0 + timedelta(minutes=2), D(15), BTC, LONG)]  # a partial close
    _live(runtime, venue, minutes=5, positions=[long_btc()])

    assert auto.resolve_outcomes() == 0
    assert _decision(runtime, ident).outcome is None and venue.asked_since == []


def test_the_next_entry_on_the_symbol_ends_the_window_of_the_one_before(runtime, auto):
    venue = LiveWithHistory("live")
    first = _taken(runtime, "live", minutes=0)
    second = _taken(runtime, "live", minutes=20)
    venue.closed = [ClosedTrade(T0 + timedelta(minutes=10), D(8), BTC, LONG),
                    ClosedTrade(T0 + timedelta(minutes=30), D(-6), BTC, LONG)]
    _live(runtime, venue, minutes=40)

    assert auto.resolve_outcomes() == 2

    assert (_decision(runtime, first).outcome, _decision(runtime, first).outcome_pnl) == ("win", D(8))
    assert (_decision(runtime, second).outcome, _decision(runtime, second).outcome_pnl) == ("loss", D(-6))


def test_closes_of_keeps_the_window_symbol_and_side_of_the_trade():
    trade = OpenTrade(1, "live", BTC, SHORT, T0, T0 + timedelta(hours=1))
    inside = ClosedTrade(T0, D(1), BTC, SHORT)
    reported = [
        inside,
        ClosedTrade(T0 + timedelta(hours=1), D(2), BTC, SHORT),  # at the next entry: that one's close
        ClosedTrade(T0 - timedelta(seconds=1), D(3), BTC, SHORT),
        ClosedTrade(T0 + timedelta(minutes=1), D(4), BTC, LONG),
        ClosedTrade(T0 + timedelta(minutes=1), D(5), None, SHORT),
    ]

    assert closes_of(trade, reported) == [inside]
