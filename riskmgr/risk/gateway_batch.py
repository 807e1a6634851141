"""Closing many positions through the gate at once: two database transactions per batch instead of three per close.

``OrderGateway.close_positions`` lands here; this module is part of the gateway (it uses the gateway's adapters,
database and audit log). What one close guarantees (``OrderGateway.close_position``) holds for every close of
the batch:

- every intent is recorded (``pending``) before any order is sent: one transaction claims them all, and the sends
  start only once it has committed; an intent seen before (a resumed sequence) is not sent again, its earlier
  outcome is returned instead;
- every answer is recorded with the audit line a single close writes (``order.sent`` / ``order.rejected``): one
  transaction writes every outcome and every audit line of the batch, once the sends have returned;
- a send that has not answered when the caller stops waiting (a hung venue) stays ``pending``, in flight, and
  records its own outcome and audit line whenever its answer comes.

A crash after the claim and before the outcomes are written leaves the intents ``pending``: a resumed sequence
finds them, does not send them again, and re-reads the venue to see what became of them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from riskmgr.core.domain import Order, OrderRequest, OrderType, PositionSide, Verdict
from riskmgr.core.errors import DuplicateClientIdError, ExchangeError
from riskmgr.persistence.models import OrderIntent
from riskmgr.risk.gate_records import GatewayResult, client_id_for
from riskmgr.risk.gate_records import describe as _describe
from riskmgr.risk.gate_records import request_dict as _request_dict
from riskmgr.risk.gateway import OrderGateway

log = logging.getLogger(__name__)
Outcome = Any  # an Order, or the exception the send raised
RunAll = Callable[[Mapping[int, Callable[[], Outcome]]], Mapping[int, Outcome]]
CLOSE_VERDICT = Verdict.allow("trading_state", "closing orders are always admitted")


@dataclass(frozen=True)
class CloseOrder:
    """One position to close with a reduce-only market order, under its own intent id."""

    account: str
    symbol: str
    side: PositionSide
    intent_id: str


@dataclass(frozen=True)
class _Send:
    close: CloseOrder
    request: OrderRequest

    @property
    def client_id(self) -> str:
        return self.request.client_id or ""


def close_many(
    gateway: OrderGateway, closes: Sequence[CloseOrder], *, actor: str, purpose: str, run_all: RunAll
) -> list[GatewayResult | BaseException]:
    """Claim every intent in one transaction, send them with ``run_all``, record every outcome in one transaction.

    Returns, in the order of ``closes``, each close's result, or the exception of a send that raised something
    other than an exchange's answer (a send that had not answered: ``run_all``'s TimeoutError).
    """
    sends = [
        _Send(c, OrderRequest(c.symbol, c.side.close_order_side, OrderType.MARKET, Decimal(0), reduce_only=True,
                              client_id=client_id_for(c.account, c.intent_id)))
        for c in closes
    ]
    seen = _claim_all(gateway, sends, purpose, actor)
    answers: dict[int, Outcome] = {}
    lock = threading.Lock()
    written = False  # once the batch's outcomes are written, a late answer records itself

    def send(index: int) -> Outcome:
        item = sends[index]
        try:
            outcome: Outcome = gateway._adapter(item.close.account).close_position(
                item.close.symbol, item.close.side, item.client_id
            )
        except BaseException as exc:  # recorded below, as the single close records it
            outcome = exc
        with lock:
            late = written
            if not late:
                answers[index] = outcome
        if late:
            try:
                _record(gateway, [(item, outcome)], purpose, actor)
            except Exception:  # nobody waits on this thread any more: leave a trace
                log.exception("close %s on %s answered late and could not be recorded", item.client_id,
                              item.close.account)
        return outcome

    to_send = [i for i, item in enumerate(sends) if item.client_id not in seen]
    reported = run_all({i: partial(send, i) for i in to_send})
    with lock:
        answered = dict(answers)
        written = True
    results = _record(gateway, [(sends[i], answered[i]) for i in to_send if i in answered], purpose, actor)
    out: list[GatewayResult | BaseException] = []
    for i, item in enumerate(sends):
        if item.client_id in seen:
            out.append(seen[item.client_id])
        elif i in answered:
            outcome = answered[i]
            out.append(results.get(item.client_id, outcome))
        else:  # no answer yet: the intent stays pending (in flight) and records itself when the answer comes
            missing = reported.get(i)
            out.append(missing if isinstance(missing, BaseException) else TimeoutError("the close has not answered"))
    return out


def _claim_all(gateway: OrderGateway, sends: list[_Send], purpose: str, actor: str) -> dict[str, GatewayResult]:
    """Record every intent as pending in one transaction; return the earlier outcome of each one seen before."""
    if not sends:
        return {}
    now = gateway._clock.now()
    try:
        with Session(gateway._engine) as session, session.begin():
            known = {row.client_id: row for row in session.scalars(
                select(OrderIntent).where(OrderIntent.client_id.in_([s.client_id for s in sends])))}
            session.add_all([
                OrderIntent(client_id=s.client_id, account=s.close.account, created_at=now, updated_at=now,
                            purpose=purpose, actor=actor, status="pending", request=_request_dict(s.request),
                            gate_seq=None)
                for s in sends if s.client_id not in known
            ])
            return {
                cid: GatewayResult(row.status == "accepted", cid, None, (),
                                   f"intent already {row.status}: {row.result or {}}", duplicate=True)
                for cid, row in known.items()
            }
    except IntegrityError:  # another process claimed one of them meanwhile: claim one by one, as a single close does
        seen = {}
        for s in sends:
            previous = gateway._claim(s.close.account, s.request, purpose, actor)
            if previous is not None:
                seen[s.client_id] = previous
        return seen


def _record(
    gateway: OrderGateway, answered: list[tuple[_Send, Outcome]], purpose: str, actor: str
) -> dict[str, GatewayResult]:
    """Write every outcome and its audit line in one transaction; return the result of each answer by client id.

    An outcome that is not an answer (a bug, an interrupt) marks its intent failed and gets no result: the caller
    hands on the exception itself.
    """
    results: dict[str, GatewayResult] = {}
    if not answered:
        return results
    now = gateway._clock.now()
    with Session(gateway._engine) as session, session.begin():
        rows = {row.client_id: row for row in session.scalars(
            select(OrderIntent).where(OrderIntent.client_id.in_([s.client_id for s, _ in answered])))}
        for item, outcome in answered:
            status, result, event = _classify(outcome, purpose, item.request)
            row = rows.get(item.client_id)
            if row is not None:
                row.status, row.result, row.updated_at = status, result, now
            if event is not None:
                kind, message, data = event
                gateway._audit.stage(session, kind, actor, message, account=item.close.account,
                                    data={"request": _request_dict(item.request), **data})
            if status != "failed":
                results[item.client_id] = _result(item.client_id, outcome, status, result)
    return results


def _result(client_id: str, outcome: Outcome, status: str, result: dict[str, Any]) -> GatewayResult:
    if isinstance(outcome, Order):
        return GatewayResult(True, client_id, outcome, (CLOSE_VERDICT,), "accepted")
    if status == "accepted":  # the duplicate client id: the exchange holds exactly one such order
        return GatewayResult(True, client_id, None, (CLOSE_VERDICT,), "already placed", duplicate=True)
    return GatewayResult(False, client_id, None, (CLOSE_VERDICT,), str(result["error"]))


def _classify(
    outcome: Outcome, purpose: str, request: OrderRequest
) -> tuple[str, dict[str, Any], tuple[str, str, dict[str, Any]] | None]:
    """Return (intent status, intent result, audit event or None) for one send's outcome, as ``_send`` records it."""
    if isinstance(outcome, Order):
        message = f"{purpose} {_describe(request, outcome)} accepted as {outcome.id} ({outcome.status})"
        return ("accepted", {"order_id": outcome.id, "status": outcome.status.value},
                ("order.sent", message, {"order_id": outcome.id, "status": outcome.status}))
    if isinstance(outcome, DuplicateClientIdError):  # another process sent this very intent first
        return "accepted", {"message": "already on the exchange (duplicate client id)"}, None
    if isinstance(outcome, ExchangeError):
        message = f"{purpose} {_describe(request)} rejected by the exchange: {outcome.describe()}"
        return "rejected", {"error": outcome.describe()}, ("order.rejected", message, {"error": outcome.describe()})
    # not an answer from the venue (a bug, an interrupt): the order may or may not be out
    return "failed", {"error": f"{type(outcome).__name__}: {outcome}"}, None
