"""Closing many positions at once through the gate: the same records as one close at a time, in two transactions.

Every intent is recorded before any close is sent; every outcome and audit line is written as a single close
writes it; an intent seen before is not sent again; a close that answers after the caller stopped waiting records
itself; a crash between the claim and the sends leaves the intents pending, and nothing is sent twice afterwards.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from riskmgr.core.domain import Order, OrderStatus, OrderType, PositionSide
from riskmgr.core.errors import DuplicateClientIdError, InvalidOrderError
from riskmgr.persistence.models import OrderIntent
from riskmgr.risk.emergency.pool import in_parallel
from riskmgr.risk.gateway import GatewayResult, client_id_for
from riskmgr.risk.gateway_batch import CloseOrder
from tests.fakes import ReadOnlyFake
from tests.support.apps import runtime_on

SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "XRP/USDT:USDT")


class ClosingVenue(ReadOnlyFake):
    """A venue whose closes answer as told per symbol; ``before_close`` runs first (to look at the database)."""

    def __init__(self, account: str):
        super().__init__(account)
        self.answers: dict[str, Exception] = {}
        self.sent: list[tuple[str, str | None]] = []
        self.before_close: Callable[[str], None] | None = None
        self.hold: threading.Event | None = None  # when set, closes of XRP wait for it (a hung venue)
        self._sent_lock = threading.Lock()

    def close_position(self, symbol, side, client_id=None):  # type: ignore[no-untyped-def]
        if self.before_close is not None:
            self.before_close(client_id)
        if self.hold is not None and symbol == SYMBOLS[3]:
            self.hold.wait(timeout=10)
        with self._sent_lock:
            self.sent.append((symbol, client_id))
        if symbol in self.answers:
            raise self.answers[symbol]
        return Order(f"c-{symbol}", symbol, side.close_order_side, OrderType.MARKET, OrderStatus.FILLED,
                     Decimal("0.01"), reduce_only=True, client_id=client_id)


@pytest.fixture
def venues() -> dict[str, ClosingVenue]:
    return {name: ClosingVenue(name) for name in ("one", "two")}


@pytest.fixture
def rt(tmp_path, clock, venues):
    with runtime_on(tmp_path, clock, adapters=venues, paper_accounts=()) as runtime:
        yield runtime


def closes(tag: str, accounts: tuple[str, ...] = ("one", "two")) -> list[CloseOrder]:
    return [CloseOrder(a, s, PositionSide.LONG if i % 2 == 0 else PositionSide.SHORT, f"{tag}:{a}:{s}")
            for a in accounts for i, s in enumerate(SYMBOLS)]


def run_all(calls: Mapping[int, Callable[[], Any]]) -> dict[int, Any]:
    return in_parallel(calls, 8, 5)


def intents(rt) -> dict[str, OrderIntent]:
    with Session(rt.engine) as session:
        return {row.client_id: row for row in session.scalars(select(OrderIntent))}


def comparable_audit(rt, tag: str) -> list[tuple[Any, ...]]:
    """The audit lines of one tag's closes, without what differs between two runs (the client ids)."""
    ids = {client_id_for(c.account, c.intent_id) for c in closes(tag)}
    out = []
    for e in rt.audit.query(limit=1000):
        if not e["kind"].startswith("order.") or e["data"]["request"]["client_id"] not in ids:
            continue
        data = {k: str(v) for k, v in e["data"].items() if k != "request"}
        request = {k: v for k, v in e["data"]["request"].items() if k != "client_id"}
        out.append((e["kind"], e["actor"], e["account"], e["message"], sorted(request.items()), sorted(data.items())))
    return sorted(out)


def test_every_intent_is_recorded_pending_before_any_close_is_sent(rt, venues):
    batch = closes("batch")
    expected = {client_id_for(c.account, c.intent_id) for c in batch}
    seen_at_send: list[set[str]] = []

    def look(client_id: str) -> None:
        rows = intents(rt)
        seen_at_send.append({cid for cid in expected if cid in rows})
        assert rows[client_id].status in ("pending", "accepted")

    for venue in venues.values():
        venue.before_close = look

    results = rt.gateway.close_positions(batch, actor="tester", purpose="emergency-close", run_all=run_all)

    assert len(seen_at_send) == len(batch)
    assert all(seen == expected for seen in seen_at_send)  # every send saw the whole batch already claimed
    assert all(isinstance(r, GatewayResult) and r.accepted for r in results)
    rows = intents(rt)
    assert {cid: rows[cid].status for cid in expected} == dict.fromkeys(expected, "accepted")


def test_a_batch_records_exactly_what_closing_one_by_one_records(rt, venues):
    venues["two"].answers[SYMBOLS[1]] = InvalidOrderError("no position to close")
    venues["one"].answers[SYMBOLS[2]] = DuplicateClientIdError("client id exists")

    singles = [rt.gateway.close_position(c.account, c.symbol, c.side, actor="tester", intent_id=c.intent_id,
                                         purpose="emergency-close") for c in closes("single")]
    batched = rt.gateway.close_positions(closes("batch"), actor="tester", purpose="emergency-close", run_all=run_all)

    def shape(r: GatewayResult) -> tuple[Any, ...]:
        return r.accepted, r.message, r.duplicate, r.order.id if r.order else None, r.verdicts

    assert [shape(r) for r in batched] == [shape(r) for r in singles]  # type: ignore[arg-type]
    assert comparable_audit(rt, "batch") == comparable_audit(rt, "single")
    assert len(comparable_audit(rt, "batch")) == 7  # six sent, one rejected; the duplicate id is not a new line
    rows = intents(rt)
    for single, batch in zip(closes("single"), closes("batch"), strict=True):
        one, many = rows[client_id_for(single.account, single.intent_id)], rows[
            client_id_for(batch.account, batch.intent_id)]
        assert (one.status, one.result, one.purpose, one.actor, one.account) == (
            many.status, many.result, many.purpose, many.actor, many.account)


def test_an_answer_that_is_not_the_venues_marks_the_intent_failed_and_comes_back_as_the_error(rt, venues):
    venues["one"].answers[SYMBOLS[0]] = RuntimeError("adapter bug")

    results = rt.gateway.close_positions(closes("bug"), actor="tester", purpose="emergency-close", run_all=run_all)

    assert isinstance(results[0], RuntimeError)
    assert all(isinstance(r, GatewayResult) and r.accepted for r in results[1:])
    row = intents(rt)[client_id_for("one", f"bug:one:{SYMBOLS[0]}")]
    assert row.status == "failed" and row.result == {"error": "RuntimeError: adapter bug"}


def test_intents_seen_before_are_not_sent_again_and_return_their_earlier_outcome(rt, venues):
    first = rt.gateway.close_positions(closes("again"), actor="tester", purpose="emergency-close", run_all=run_all)
    sent_before = sum(len(v.sent) for v in venues.values())

    second = rt.gateway.close_positions(closes("again"), actor="tester", purpose="emergency-close", run_all=run_all)

    assert sum(len(v.sent) for v in venues.values()) == sent_before == len(first)
    assert all(isinstance(r, GatewayResult) and r.duplicate and r.accepted for r in second)
    assert all(r.message.startswith("intent already accepted") for r in second)  # type: ignore[union-attr]


def test_a_crash_after_the_claim_leaves_every_intent_pending_and_none_is_ever_sent_twice(rt, venues):
    class Crash(BaseException):
        pass

    def crash(calls):  # type: ignore[no-untyped-def]
        raise Crash()  # the process dies after the claim committed, before any send

    with pytest.raises(Crash):
        rt.gateway.close_positions(closes("crash"), actor="tester", purpose="emergency-close", run_all=crash)
    rows = intents(rt)
    assert sorted(r.status for r in rows.values()) == ["pending"] * 8
    assert all(v.sent == [] for v in venues.values())

    resumed = rt.gateway.close_positions(closes("crash"), actor="tester", purpose="emergency-close", run_all=run_all)

    assert all(v.sent == [] for v in venues.values())  # pending: it may be out; a new attempt is a new intent
    assert all(isinstance(r, GatewayResult) and not r.accepted and r.duplicate for r in resumed)
    assert all(r.message.startswith("intent already pending") for r in resumed)  # type: ignore[union-attr]


def test_a_close_that_answers_after_the_caller_stopped_waiting_records_itself(rt, venues):
    hold = threading.Event()
    venues["two"].hold = hold
    hung = client_id_for("two", f"late:two:{SYMBOLS[3]}")

    def impatient(calls):  # type: ignore[no-untyped-def]
        return in_parallel(calls, 8, 0.3)  # gives up on the held close after 0.3 s

    results = rt.gateway.close_positions(closes("late"), actor="tester", purpose="emergency-close", run_all=impatient)

    assert isinstance(results[-1], TimeoutError)
    assert intents(rt)[hung].status == "pending"  # in flight: it may still be out
    hold.set()
    for _ in range(200):
        if intents(rt)[hung].status != "pending":
            break
        threading.Event().wait(0.02)
    assert intents(rt)[hung].status == "accepted"
    lines = [e for e in rt.audit.query(kind="order.sent") if e["data"]["request"]["client_id"] == hung]
    assert len(lines) == 1 and lines[0]["message"].startswith("emergency-close")
