"""The emergency stop's batched closes keep its crash safety: a restart between the batched intent write and the
venue calls resumes, sends nothing twice, and still ends verified flat with every close audited once.
"""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from riskmgr.models import OrderIntent
from riskmgr.risk import gateway_batch
from riskmgr.risk.emergency import service
from tests.risk.test_emergency import ACCOUNTS, FAST, SYMBOLS, SimulatedCrash, _dispose, _positions, build_world


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
