"""What riskmgr's own records say about an order: the gate's intent (why it was sent) and the signal behind it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from riskmgr.journal.trades import SignalRef, reason_of_purpose
from riskmgr.persistence.models import OrderIntent
from riskmgr.scanner.models import SignalDecision, SignalRecord

CLOSE_PURPOSES = ("emergency-close", "close", "manual", "partial-close", "partial-take-profit", "monitor-close",
                  "watchdog-close", "unwind-unprotected")
# a venue close is tied to our closing intent when it happened this long after the intent at most
MATCH_WINDOW = timedelta(minutes=2)


@dataclass(frozen=True)
class IntentInfo:
    client_id: str
    purpose: str
    actor: str
    created_at: datetime
    symbol: str | None
    side: str | None  # the order side of the request


def intents(engine: Engine, client_ids: Iterable[str]) -> dict[str, IntentInfo]:
    """Return the gate's intent of each client id it knows."""
    ids = sorted({c for c in client_ids if c})
    if not ids:
        return {}
    with Session(engine) as session:
        rows = session.scalars(select(OrderIntent).where(OrderIntent.client_id.in_(ids)))
        return {r.client_id: info_of(r) for r in rows}


def signals(engine: Engine, client_ids: Iterable[str]) -> dict[str, SignalRef]:
    """Return the signal whose auto-trade decision sent each client id, where one did."""
    ids = sorted({c for c in client_ids if c})
    if not ids:
        return {}
    query = (select(SignalDecision.client_id, SignalRecord)
             .join(SignalRecord, SignalRecord.id == SignalDecision.signal_id)
             .where(SignalDecision.client_id.in_(ids)))
    with Session(engine) as session:
        return {cid: SignalRef(r.id, r.key, r.rule, r.timeframe, r.confidence)
                for cid, r in session.execute(query).all() if cid}


def closing_intents(engine: Engine, account: str, since: datetime) -> list[IntentInfo]:
    """Return the accepted closing intents of ``account`` since ``since``, oldest first."""
    query = (select(OrderIntent)
             .where(OrderIntent.account == account, OrderIntent.status == "accepted",
                    OrderIntent.purpose.in_(CLOSE_PURPOSES), OrderIntent.created_at >= since - MATCH_WINDOW)
             .order_by(OrderIntent.created_at))
    with Session(engine) as session:
        return [info_of(r) for r in session.scalars(query)]


def match_close(candidates: list[IntentInfo], symbol: str | None, closed_at: datetime) -> IntentInfo | None:
    """Return the newest closing intent on ``symbol`` sent at most ``MATCH_WINDOW`` before ``closed_at``."""
    if symbol is None:
        return None
    found = [c for c in candidates
             if c.symbol == symbol and closed_at - MATCH_WINDOW <= c.created_at <= closed_at + timedelta(seconds=5)]
    return found[-1] if found else None


def describe(info: IntentInfo | None) -> tuple[str, str]:
    """Return the exit reason and a short detail ("emergency-close by operator") for a closing intent."""
    if info is None:
        return reason_of_purpose(None), ""
    return reason_of_purpose(info.purpose), f"{info.purpose} by {info.actor}"


def info_of(row: OrderIntent) -> IntentInfo:
    """Return the parts of a gate intent the journal reads."""
    request = row.request or {}
    return IntentInfo(row.client_id, row.purpose, row.actor, row.created_at, request.get("symbol"),
                      request.get("side"))
