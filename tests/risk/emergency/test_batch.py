"""The emergency stop's batched closes keep its crash safety: a restart between the batched intent write and the
venue calls resumes, sends nothing twice, and still ends verified flat with every close audited once.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import replace

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from riskmgr.persistence.models import OrderIntent
from riskmgr.risk import gateway_batch
from riskmgr.risk.emergency.feature import service
from riskmgr.risk.emergency.service import EmergencyService
from tests.risk.emergency.test_sequence import (
    ACCOUNTS,
    FAST,
    SYMBOLS,
    SimulatedCrash,
    _dispose,
    _positions,
    build_world,
)


def _emergency_intents(w) -> Counter[str]:  # type: ignore[no-untyped-def]
    with Session(w.engine) as session:
        return Counter(row.status for row in session.scalars(
            select(OrderIntent).where(OrderIntent.purpose == "emergency-close")))


def test_a_crash_between_the_batched_intent_write_and_the_closes_resumes_flat_without_a_double_send(
        tmp_path, clock, monkeypatch):
    w = build_world(tmp_path, clock, rate=0.0)
    try:
        svc = service(w.rt)
        seq = svc.begin("crash after the claim", actor="tester", trigger="test")
        claim = gateway_batch._claim_all

        def claim_then_die(*args):  # type: ignore[no-untyped-def]
            claim(*args)
            raise SimulatedCrash()  # the intents are committed; the process dies before any close leaves

        monkeypatch.setattr(gateway_batch, "_claim_all", claim_then_die)
        with pytest.raises(SimulatedCrash):
            svc.run(seq.id)
        monkeypatch.undo()
        positions = len(ACCOUNTS) * len(SYMBOLS)
        assert svc.store.info(seq.id).steps_done == 2
        assert _emergency_intents(w) == Counter({"pending": positions})  # recorded before the venue was called
        assert sum(a.closed for a in w.adapters.values()) == 0 and len(_positions(w)) == positions
        clock.advance(FAST.lease_seconds + 1)  # the dead runner's heartbeat has lapsed

        view = service(w.new_app()).wait(seq.id, timeout=60)

        assert view["status"] == "flat" and view["resumed"] == 1 and _positions(w) == []
        assert sum(a.closed for a in w.adapters.values()) == positions  # every position closed exactly once
        step3 = [o for o in view["orders"] if o["action"] == "close" and o["step"] == 3]
        assert len(step3) == positions and not any(o["ok"] for o in step3)
        assert all(o["message"].startswith("intent already pending") for o in step3)  # never sent twice
        assert _emergency_intents(w) == Counter({"pending": positions, "accepted": positions})
        sent = [e for e in w.rt.audit.query(kind="order.sent", limit=1000)
                if e["message"].startswith("emergency-close")]
        assert len(sent) == positions
    finally:
        _dispose(w)


def test_the_sequence_claims_all_closes_of_a_step_in_one_transaction_and_records_them_in_one(
        tmp_path, clock, monkeypatch):
    w = build_world(tmp_path, clock, rate=0.0)
    try:
        calls: list[tuple[str, int]] = []
        claim, record = gateway_batch._claim_all, gateway_batch._record

        def counting_claim(gateway, sends, *args):  # type: ignore[no-untyped-def]
            calls.append(("claim", len(sends)))
            return claim(gateway, sends, *args)

        def counting_record(gateway, answered, *args):  # type: ignore[no-untyped-def]
            calls.append(("record", len(answered)))
            return record(gateway, answered, *args)

        monkeypatch.setattr(gateway_batch, "_claim_all", counting_claim)
        monkeypatch.setattr(gateway_batch, "_record", counting_record)
        svc = service(w.rt)

        view = svc.wait(svc.start("one write each way", actor="tester", trigger="test").id, timeout=60)

        positions = len(ACCOUNTS) * len(SYMBOLS)
        assert view["status"] == "flat"
        assert calls[:2] == [("claim", positions), ("record", positions)]  # step 3: one claim, one record
    finally:
        _dispose(w)


# -- step 4's first re-read, account by account ------------------------------------------------------------------
class Log:
    """What happened, in order, across threads."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.all_read_after_closes = threading.Event()  # every account read after its last close answered
        self._lock = threading.Lock()

    def add(self, what: str, account: str) -> None:
        with self._lock:
            self.events.append((what, account))
            if all(self._read_after_closes(a) for a in ACCOUNTS):
                self.all_read_after_closes.set()

    def _read_after_closes(self, account: str) -> bool:
        answers = [i for i, e in enumerate(self.events) if e == ("close answered", account)]
        return len(answers) == len(SYMBOLS) and ("read", account) in self.events[max(answers):]


def _logging(w, log: Log, monkeypatch, *, break_first_early_read_of: str | None = None,  # type: ignore[no-untyped-def]
             wait_for_early_reads: bool = False) -> None:
    broken = {break_first_early_read_of} if break_first_early_read_of else set()
    for name, adapter in w.adapters.items():
        close, read = adapter.close_position, adapter.fetch_positions

        def logged_close(symbol, side, client_id=None, name=name, close=close):  # type: ignore[no-untyped-def]
            try:
                return close(symbol, side, client_id)
            finally:
                log.add("close answered", name)

        def logged_read(name=name, read=read):  # type: ignore[no-untyped-def]
            if name in broken and ("close answered", name) in log.events:
                broken.discard(name)
                raise RuntimeError("reply could not be parsed")  # not temporary: the early read gives up
            log.add("read", name)
            return read()

        monkeypatch.setattr(adapter, "close_position", logged_close)
        monkeypatch.setattr(adapter, "fetch_positions", logged_read)
    finished = w.rt.feature(EmergencyService).store.step_finished

    def logged_finish(seq_id, number, *args, **kwargs):  # type: ignore[no-untyped-def]
        if number == 3 and wait_for_early_reads:  # they run in the background: time for them on a busy machine
            log.all_read_after_closes.wait(timeout=5)
        finished(seq_id, number, *args, **kwargs)
        log.add(f"step {number} done", "")

    monkeypatch.setattr(w.rt.feature(EmergencyService).store, "step_finished", logged_finish)


def test_each_account_is_re_read_as_soon_as_its_own_closes_answered_and_step_four_uses_that_read(
        tmp_path, clock, monkeypatch):
    w = build_world(tmp_path, clock, rate=0.0)
    try:
        log = Log()
        _logging(w, log, monkeypatch, wait_for_early_reads=True)
        svc = service(w.rt)

        view = svc.wait(svc.start("early reads", actor="tester", trigger="test").id, timeout=60)

        assert view["status"] == "flat" and _positions(w) == []
        step3_done = log.events.index(("step 3 done", ""))
        for account in ACCOUNTS:
            answers = [i for i, e in enumerate(log.events) if e == ("close answered", account)]
            reads = [i for i, e in enumerate(log.events) if e == ("read", account)]
            assert len(answers) == len(SYMBOLS)
            # read after the last close of the account answered, before step 3 was even recorded
            assert [i for i in reads if i > max(answers)] != []
            assert min(i for i in reads if i > max(answers)) < step3_done
            assert [i for i in reads if i > step3_done] == []  # step 4 read nothing more: it was flat
    finally:
        _dispose(w)


def test_an_early_read_that_broke_is_made_again_by_step_four(tmp_path, clock, monkeypatch):
    w = build_world(tmp_path, clock, rate=0.0)
    try:
        log = Log()
        _logging(w, log, monkeypatch, break_first_early_read_of="beta")
        svc = service(w.rt)

        view = svc.wait(svc.start("early read broke", actor="tester", trigger="test").id, timeout=60)

        assert view["status"] == "flat" and _positions(w) == []
        step3_done = log.events.index(("step 3 done", ""))
        late = [account for i, (what, account) in enumerate(log.events) if what == "read" and i > step3_done]
        assert late == ["beta"]  # read again by step 4, and only the account whose early read broke
        assert view["steps"][3]["detail"].startswith("verified flat")
    finally:
        _dispose(w)


def test_a_close_that_has_not_answered_keeps_its_account_out_of_the_early_reads(tmp_path, clock, monkeypatch):
    # gamma's closes hang until step 3 gives up on them (the call timeout); alpha's and beta's must answer within it,
    # so it is long enough for a loaded machine (5 s), not the tightest that passes on a quiet one
    w = build_world(tmp_path, clock, rate=0.0, settings=replace(FAST, call_timeout_seconds=5))
    try:
        log = Log()
        _logging(w, log, monkeypatch)
        gate = threading.Event()
        w.adapters["gamma"].gate = gate  # gamma's closes wait until step 3 has been recorded
        finished = w.rt.feature(EmergencyService).store.step_finished

        def release_after_step_three(seq_id, number, *args, **kwargs):  # type: ignore[no-untyped-def]
            finished(seq_id, number, *args, **kwargs)
            if number == 3:
                gate.set()

        monkeypatch.setattr(w.rt.feature(EmergencyService).store, "step_finished", release_after_step_three)
        svc = service(w.rt)

        view = svc.wait(svc.start("slow account", actor="tester", trigger="test").id, timeout=60)

        assert view["status"] == "flat" and _positions(w) == []
        step2_done, step3_done = log.events.index(("step 2 done", "")), log.events.index(("step 3 done", ""))
        answers = [i for i, e in enumerate(log.events) if e == ("close answered", "gamma")]
        early = {account for what, account in log.events[step2_done:step3_done] if what == "read"}
        assert min(answers) > step3_done  # gamma's closes had not answered when step 3 gave up on them
        assert early == {"alpha", "beta"}  # so gamma was not read early; the others were
    finally:
        _dispose(w)


def test_an_account_the_read_during_step_two_missed_does_not_hold_up_the_others_and_is_closed_in_step_four(
        tmp_path, clock, monkeypatch):
    w = build_world(tmp_path, clock, rate=0.0)
    try:
        beta = w.adapters["beta"]
        read, calls = beta.fetch_positions, []

        def first_read_breaks():  # type: ignore[no-untyped-def]
            calls.append(1)
            if len(calls) == 1:  # step 3's read, taken while step 2 cancels
                raise RuntimeError("reply could not be parsed")  # not temporary: no retry inside the call
            return read()

        monkeypatch.setattr(beta, "fetch_positions", first_read_breaks)
        svc = service(w.rt)

        view = svc.wait(svc.start("broken read", actor="tester", trigger="test").id, timeout=60)

        assert view["status"] == "flat" and _positions(w) == []
        closes = [o for o in view["orders"] if o["action"] == "close"]
        assert {o["account"] for o in closes if o["step"] == 3} == {"alpha", "gamma"}  # sent without waiting
        assert sorted(o["symbol"] for o in closes if o["account"] == "beta") == sorted(SYMBOLS)
        assert all(o["step"] == 4 and o["ok"] for o in closes if o["account"] == "beta")  # step 4 read and closed
        assert "positions unreadable on beta" in view["steps"][2]["detail"]
        assert view["steps"][3]["detail"].startswith("verified flat")
    finally:
        _dispose(w)
