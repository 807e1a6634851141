"""The persisted trading state (ACTIVE / REDUCING / HALTED) and its audited changes.

The transition rules are the pure functions of ``risk.state``; this module stores their results.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from riskmgr.audit import AuditLog
from riskmgr.clock import Clock
from riskmgr.domain import TradingState
from riskmgr.errors import ValidationError
from riskmgr.events import EventBus
from riskmgr.models import TradingStateRecord
from riskmgr.risk import state as transitions
from riskmgr.risk.state import TradingStatus

_ROW_ID = 1


class TradingStateStore:
    """Read and change the trading state. Automatic changes only go down; going up is a re-arm."""

    def __init__(self, engine: Engine, clock: Clock, audit: AuditLog, events: EventBus | None = None):
        self._engine = engine
        self._clock = clock
        self._audit = audit
        self._events = events
        self._rearm_guards: list[Callable[[], str | None]] = []

    def add_rearm_guard(self, guard: Callable[[], str | None]) -> None:
        """Refuse re-arming while ``guard()`` returns a reason (e.g. an emergency stop still running)."""
        self._rearm_guards.append(guard)

    def current(self) -> TradingStatus:
        """Return the state in force (recorded as ACTIVE the first time it is asked for)."""
        with Session(self._engine) as session, session.begin():
            return _status(self._row(session))

    def escalate(self, state: TradingState, reason: str, by: str) -> bool:
        """Move down to ``state`` if it is stricter than the current one; return whether it moved."""
        with Session(self._engine) as session, session.begin():
            row = self._row(session)
            current = _status(row)
            new = transitions.escalate(current, state, reason, self._clock.now(), by)
            if new is None:
                return False
            _write(row, new)
        self._audit.record(
            "state.change", by, f"{current.state} -> {new.state}: {reason}",
            data={"from": current.state.value, "to": new.state.value, "reason": reason},
        )
        self._announce(current.state, new)
        return True

    def rearm(self, reason: str, by: str) -> TradingState:
        """Return to ACTIVE by the operator's deliberate action; the reason is required and audited."""
        for guard in self._rearm_guards:
            refusal = guard()
            if refusal:
                raise ValidationError("state", f"cannot re-arm: {refusal}")
        with Session(self._engine) as session, session.begin():
            row = self._row(session)
            current = _status(row)
            new = transitions.rearm(current, reason, self._clock.now(), by)
            _write(row, new)
        self._audit.record(
            "state.rearm", by, f"{current.state} -> ACTIVE: {new.reason}",
            data={"from": current.state.value, "reason": new.reason},
        )
        self._announce(current.state, new)
        return current.state

    def _announce(self, previous: TradingState, new: TradingStatus) -> None:
        if self._events is not None:
            self._events.emit(
                "state.changed", f"trading {previous} -> {new.state}: {new.reason} (by {new.changed_by})",
                data={"from": previous.value, "to": new.state.value, "reason": new.reason, "by": new.changed_by},
            )

    def _row(self, session: Session) -> TradingStateRecord:
        row = session.get(TradingStateRecord, _ROW_ID, with_for_update=True)
        if row is None:
            row = TradingStateRecord(
                id=_ROW_ID, state=TradingState.ACTIVE.value, reason="initial state", changed_at=self._clock.now(),
                changed_by="system",
            )
            session.add(row)
            session.flush()
        return row


def _status(row: TradingStateRecord) -> TradingStatus:
    return TradingStatus(TradingState(row.state), row.reason, row.changed_at, row.changed_by)


def _write(row: TradingStateRecord, status: TradingStatus) -> None:
    row.state, row.reason, row.changed_at, row.changed_by = (
        status.state.value, status.reason, status.changed_at, status.changed_by,
    )
