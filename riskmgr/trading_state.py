"""The persisted trading state (ACTIVE / REDUCING / HALTED) and its audited changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from riskmgr.audit import AuditLog
from riskmgr.clock import Clock
from riskmgr.domain import TradingState
from riskmgr.errors import ValidationError
from riskmgr.models import TradingStateRecord

_ROW_ID = 1


@dataclass(frozen=True)
class TradingStatus:
    state: TradingState
    reason: str
    changed_at: datetime | None
    changed_by: str


class TradingStateStore:
    """Read and change the trading state. Automatic changes only go down; going up is a re-arm."""

    def __init__(self, engine: Engine, clock: Clock, audit: AuditLog):
        self._engine = engine
        self._clock = clock
        self._audit = audit

    def current(self) -> TradingStatus:
        """Return the state in force (ACTIVE when never changed)."""
        with Session(self._engine) as session:
            row = session.get(TradingStateRecord, _ROW_ID)
            if row is None:
                return TradingStatus(TradingState.ACTIVE, "never changed", None, "system")
            return TradingStatus(TradingState(row.state), row.reason, row.changed_at, row.changed_by)

    def escalate(self, state: TradingState, reason: str, by: str) -> bool:
        """Move down to ``state`` if it is more restrictive than the current one; return whether it moved."""
        with Session(self._engine) as session, session.begin():
            row = session.get(TradingStateRecord, _ROW_ID, with_for_update=True)
            current = TradingState(row.state) if row else TradingState.ACTIVE
            if state.severity <= current.severity:
                return False
            self._write(session, row, state, reason, by)
        self._audit.record("state.change", by, f"{current} -> {state}: {reason}", data={"from": current, "to": state})
        return True

    def rearm(self, reason: str, by: str) -> TradingState:
        """Return to ACTIVE by the operator's deliberate action; the reason is required and audited."""
        reason = (reason or "").strip()
        if len(reason) < 3:
            raise ValidationError("reason", "a re-arm needs a reason of at least 3 characters")
        with Session(self._engine) as session, session.begin():
            row = session.get(TradingStateRecord, _ROW_ID, with_for_update=True)
            previous = TradingState(row.state) if row else TradingState.ACTIVE
            self._write(session, row, TradingState.ACTIVE, reason, by)
        self._audit.record("state.rearm", by, f"{previous} -> ACTIVE: {reason}", data={"from": previous})
        return previous

    def _write(
        self, session: Session, row: TradingStateRecord | None, state: TradingState, reason: str, by: str
    ) -> None:
        now = self._clock.now()
        if row is None:
            session.add(TradingStateRecord(id=_ROW_ID, state=state.value, reason=reason, changed_at=now, changed_by=by))
        else:
            row.state, row.reason, row.changed_at, row.changed_by = state.value, reason, now, by
