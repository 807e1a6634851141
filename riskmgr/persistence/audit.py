"""The append-only audit log: every limit change, denial, state change, order and emergency step."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from riskmgr.core.clock import Clock
from riskmgr.persistence.models import AuditEvent

log = logging.getLogger(__name__)


class AuditLog:
    """Write and read audit events. The app never updates or deletes one."""

    def __init__(self, engine: Engine, clock: Clock):
        self._engine = engine
        self._clock = clock

    def record(
        self, kind: str, actor: str, message: str, *, account: str | None = None, data: dict[str, Any] | None = None
    ) -> None:
        """Append one event (committed at once, in its own transaction)."""
        with Session(self._engine) as session, session.begin():
            session.add(
                AuditEvent(
                    ts=self._clock.now(), kind=kind, actor=actor, account=account, message=message, data=data or None
                )
            )
        log.info("audit %s by %s%s: %s", kind, actor, f" on {account}" if account else "", message)

    def stage(
        self, session: Session, kind: str, actor: str, message: str, *, account: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Append one event inside the caller's transaction: written when, and only if, that transaction commits.

        For a batch that records many facts together with their audit lines (one commit instead of one each).
        """
        session.add(AuditEvent(ts=self._clock.now(), kind=kind, actor=actor, account=account, message=message,
                               data=data or None))
        log.info("audit %s by %s%s: %s", kind, actor, f" on {account}" if account else "", message)

    def query(
        self,
        *,
        since: datetime | None = None,
        kind: str | None = None,
        account: str | None = None,
        limit: int = 500,
    ) -> list[dict[str, Any]]:
        """Return events newest first, filtered."""
        stmt = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
        if since is not None:
            stmt = stmt.where(AuditEvent.ts >= since)
        if kind:
            stmt = stmt.where(AuditEvent.kind.startswith(kind))
        if account:
            stmt = stmt.where(AuditEvent.account == account)
        with Session(self._engine) as session:
            return [_as_dict(e) for e in session.scalars(stmt)]

    def kinds(self) -> list[str]:
        """Return every event kind recorded so far."""
        with Session(self._engine) as session:
            return sorted(session.scalars(select(AuditEvent.kind).distinct()))


def _as_dict(e: AuditEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "ts": e.ts.isoformat(),
        "kind": e.kind,
        "actor": e.actor,
        "account": e.account,
        "message": e.message,
        "data": e.data,
    }
