"""Alert state shared by every process and worker through the database: de-duplication and the rate limit.

The producer side (the event subscriber) keeps its cheap in-process fold; the delivery side asks here, under a
row lock, whether an identical alert went out within the window from ANY process, and whether the rate limit
still admits one more. SQLite serialises on its write lock (the first statement writes), PostgreSQL on the row.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from riskmgr.alerts.channels import Alert
from riskmgr.alerts.models import AlertGate

RATE_KEY = "__rate__"


def _key(alert: Alert) -> str:
    return hashlib.sha256(f"{alert.kind}\x1f{alert.account or ''}\x1f{alert.message}".encode()).hexdigest()


def _locked_row(session: Session, key: str) -> AlertGate:
    maker = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(maker(AlertGate).values(key=key, held=0).on_conflict_do_nothing())
    return session.scalars(select(AlertGate).where(AlertGate.key == key).with_for_update()).one()


def first_within_window(engine: Engine, alert: Alert, window_seconds: int) -> int | None:
    """Return the copies held back since the last send when ``alert`` may go out now; None when an identical one
    went out within the window (anywhere) — it is then counted as held back."""
    if window_seconds <= 0:
        return alert.repeats
    with Session(engine) as session, session.begin():
        row = _locked_row(session, _key(alert))
        if row.sent_at is not None and (alert.ts - row.sent_at).total_seconds() < window_seconds:
            row.held = (row.held or 0) + 1 + alert.repeats
            return None
        repeats = (row.held or 0) + alert.repeats
        row.sent_at, row.held = alert.ts, 0
        return repeats


def admit(engine: Engine, now: datetime, limit: int, window_seconds: int, critical: bool) -> bool:
    """Count one send against the shared rate limit; False when ``limit`` sends fall within the window.

    Critical alerts are always admitted (and counted)."""
    with Session(engine) as session, session.begin():
        row = _locked_row(session, RATE_KEY)
        horizon = now - timedelta(seconds=window_seconds)
        recent = [t for t in (row.recent or []) if datetime.fromisoformat(t) > horizon]
        if len(recent) >= limit and not critical:
            row.recent = recent
            return False
        row.recent = [*recent, now.isoformat()][-max(limit, 1) * 2:]
        return True
