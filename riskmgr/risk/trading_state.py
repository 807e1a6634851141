"""The persisted trading state (ACTIVE / REDUCING / HALTED) and its audited changes.

The transition rules are the pure functions of ``risk.state``; this module stores their results.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, FromClause, Insert, Row, Select, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from riskmgr.core.clock import Clock
from riskmgr.core.domain import TradingState
from riskmgr.core.errors import ConfigError, ValidationError
from riskmgr.core.events import EventBus
from riskmgr.persistence.audit import AuditLog
from riskmgr.persistence.models import TradingStateRecord
from riskmgr.risk import state as transitions
from riskmgr.risk.state import TradingStatus

_ROW_ID = 1
_TABLE = TradingStateRecord.__table__
_READ_STATE = select(_TABLE.c.state, _TABLE.c.reason, _TABLE.c.changed_at, _TABLE.c.changed_by).where(
    _TABLE.c.id == _ROW_ID)
# the state's columns under names no other table uses, for a select that reads another table alongside
_STATE_LABELS = tuple(_TABLE.c[name].label(f"trading_state_{name}") for name in ("state", "reason", "changed_at",
                                                                                 "changed_by"))


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
        """Return the state in force; a plain read, without the row lock a change takes.

        Every page and every order check reads it, so the usual case is one Core select on a pooled connection;
        only a schema without the row yet (``create_all`` in tests) takes the ORM path that inserts it.
        """
        with self._engine.connect() as conn:
            row = conn.execute(_READ_STATE).first()
        if row is not None:
            return TradingStatus(TradingState(row.state), row.reason, row.changed_at, row.changed_by)
        with Session(self._engine) as session, session.begin():
            return _status(self._row(session, lock=False))

    def current_with(self, table: FromClause) -> tuple[TradingStatus, list[Row[Any]]]:
        """Return the state in force and every row of ``table``, read together in one select.

        Every logged-in page's banner shows the state and the account switches: one round trip serves both, and
        both come from the same moment. The rows carry ``table``'s columns by name (and the state's, prefixed).
        """
        key = next(iter(table.primary_key)).name
        with self._engine.connect() as conn:
            rows = conn.execute(_state_with(table)).all()
        if not rows:  # no state row yet (a schema built by create_all): create it, then read the table alone
            status = self.current()
            with self._engine.connect() as conn:
                return status, list(conn.execute(select(table)).all())
        first = rows[0]
        status = TradingStatus(TradingState(first.trading_state_state), first.trading_state_reason,
                               first.trading_state_changed_at, first.trading_state_changed_by)
        return status, [row for row in rows if getattr(row, key) is not None]

    def escalate(self, state: TradingState, reason: str, by: str) -> bool:
        """Move down to ``state`` if it is stricter than the current one; return whether it moved."""
        with Session(self._engine) as session, session.begin():
            row = self._row(session, lock=True)
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
            row = self._row(session, lock=True)
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

    def _row(self, session: Session, *, lock: bool) -> TradingStateRecord:
        row = session.get(TradingStateRecord, _ROW_ID, with_for_update=lock)
        if row is not None:
            return row
        # the migration inserts the row; a schema built by create_all (tests) has none yet. Two first requests
        # may both get here: the insert that loses the race does nothing, and both read the one row
        session.execute(_insert_initial_row(session, self._clock.now()))
        row = session.get(TradingStateRecord, _ROW_ID, with_for_update=lock, populate_existing=True)
        if row is None:
            raise AssertionError("the trading-state row is missing right after inserting it")
        return row


@functools.cache
def _state_with(table: FromClause) -> Select[Any]:
    """The state row joined with every row of ``table`` (one row with NULLs for ``table`` when it is empty)."""
    return select(*_STATE_LABELS, table).select_from(_TABLE.outerjoin(table, true())).where(_TABLE.c.id == _ROW_ID)


def _insert_initial_row(session: Session, now: datetime) -> Insert:
    """Return an insert of the ACTIVE row that does nothing when another session inserted it first."""
    dialect = session.get_bind().dialect.name
    values = {"id": _ROW_ID, "state": TradingState.ACTIVE.value, "reason": "initial state", "changed_at": now,
              "changed_by": "system"}
    if dialect == "sqlite":
        return sqlite.insert(TradingStateRecord).values(**values).on_conflict_do_nothing(index_elements=["id"])
    if dialect == "postgresql":
        return postgresql.insert(TradingStateRecord).values(**values).on_conflict_do_nothing(index_elements=["id"])
    raise ConfigError(f"the trading-state row cannot be created race-free on {dialect} (SQLite or PostgreSQL only)")


def _status(row: TradingStateRecord) -> TradingStatus:
    return TradingStatus(TradingState(row.state), row.reason, row.changed_at, row.changed_by)


def _write(row: TradingStateRecord, status: TradingStatus) -> None:
    row.state, row.reason, row.changed_at, row.changed_by = (
        status.state.value, status.reason, status.changed_at, status.changed_by,
    )
