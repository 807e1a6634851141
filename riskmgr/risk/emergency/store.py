"""Persistence of emergency stop sequences: the one-running claim, step progress, orders, takeover and views.

Every change is its own short transaction, committed at once, so the page (in any web worker) and a process
resuming after a restart always see how far the sequence got.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from riskmgr.core.errors import RiskmgrError
from riskmgr.risk.emergency.models import EmergencyOrder, EmergencySequence, EmergencyStep

RUNNING = "running"
HISTORY_LIMIT = 20


class StepRow(Protocol):
    """What the store needs of a step (``sequence.Step``): its stored number and name, and its title."""

    @property
    def number(self) -> int: ...

    @property
    def name(self) -> str: ...

    @property
    def title(self) -> str: ...


@dataclass(frozen=True)
class StartResult:
    """The sequence a trigger started, or the one already running when it came."""

    id: int
    already_running: bool


@dataclass(frozen=True)
class SequenceInfo:
    """The plain facts of a sequence a runner needs."""

    id: int
    actor: str
    reason: str
    trigger: str
    steps_done: int
    owner: str | None
    heartbeat_at: datetime | None
    running: bool
    left_open: list[dict[str, Any]] | None


@dataclass(frozen=True)
class OrderRecord:
    """One exchange action of a sequence and its result, as stored."""

    step: int
    account: str
    action: str
    ok: bool
    message: str
    symbol: str | None = None
    side: str | None = None
    attempt: int = 1
    client_id: str | None = None
    order_id: str | None = None


class EmergencyStore:
    """Read and write the emergency tables."""

    def __init__(self, engine: Engine, steps: Sequence[StepRow]):
        """``steps``: the sequence's step table in order (``sequence.SEQUENCE``); the last one closes a sequence."""
        self._engine = engine
        self._steps = tuple(steps)
        self._titles = {step.number: step.title for step in self._steps}

    # -- claiming ----------------------------------------------------------------------------------------
    def claim(self, *, reason: str, actor: str, trigger: str, owner: str, now: datetime) -> StartResult:
        """Create the running sequence, or return the one already running (safe across threads and processes)."""
        for _ in range(5):
            try:
                with Session(self._engine) as session, session.begin():
                    seq = EmergencySequence(
                        running_slot=RUNNING, status=RUNNING, trigger=trigger, actor=actor, reason=reason,
                        started_at=now, owner=owner, heartbeat_at=now,
                    )
                    session.add(seq)
                    session.flush()
                    for step in self._steps:
                        session.add(
                            EmergencyStep(sequence_id=seq.id, number=step.number, name=step.name, status="pending")
                        )
                    return StartResult(seq.id, False)
            except IntegrityError:
                running = self.running_id()
                if running is not None:
                    return StartResult(running, True)
                # the running one finished between our insert and our look: try to start ours again
        raise RiskmgrError("could not start or find an emergency stop sequence; see the log")

    def running_id(self) -> int | None:
        """Return the id of the running sequence, if one is running."""
        with Session(self._engine) as session:
            return session.scalar(select(EmergencySequence.id).where(EmergencySequence.running_slot == RUNNING))

    def info(self, seq_id: int) -> SequenceInfo:
        """Return what a runner needs to know about one sequence."""
        with Session(self._engine) as session:
            row = session.get(EmergencySequence, seq_id)
            if row is None:
                raise RiskmgrError(f"there is no emergency stop sequence #{seq_id}")
            return SequenceInfo(
                row.id, row.actor, row.reason, row.trigger, row.steps_done, row.owner, row.heartbeat_at,
                row.running_slot == RUNNING, row.left_open,
            )

    def take_over(self, seq_id: int, old_owner: str | None, new_owner: str, now: datetime) -> bool:
        """Make ``new_owner`` the runner if ``old_owner`` still holds it (one taker wins); return whether we won."""
        holder = EmergencySequence.owner.is_(None) if old_owner is None else EmergencySequence.owner == old_owner
        with Session(self._engine) as session, session.begin():
            result = session.execute(
                update(EmergencySequence)
                .where(EmergencySequence.id == seq_id, EmergencySequence.running_slot == RUNNING, holder)
                .values(owner=new_owner, heartbeat_at=now, resumed=EmergencySequence.resumed + 1)
            )
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]  # an UPDATE's CursorResult has rowcount

    def beat(self, seq_id: int, owner: str, now: datetime) -> None:
        """Record that ``owner`` is still running the sequence."""
        with Session(self._engine) as session, session.begin():
            session.execute(
                update(EmergencySequence)
                .where(EmergencySequence.id == seq_id, EmergencySequence.owner == owner)
                .values(heartbeat_at=now)
            )

    # -- progress ----------------------------------------------------------------------------------------
    def step_started(self, seq_id: int, number: int, now: datetime, total: int = 0) -> None:
        """Mark a step running."""
        self._update_step(seq_id, number, status="running", started_at=now, finished_at=None, progress_total=total)

    def step_progress(
        self, seq_id: int, number: int, done: int, total: int, detail: str | None = None, *,
        open_positions: list[dict[str, Any]] | None = None, left_open: list[dict[str, Any]] | None = None,
    ) -> None:
        """Record how far a running step got (and, in the same transaction, what ``set_positions`` takes)."""
        values: dict[str, Any] = {"progress_done": done, "progress_total": total}
        if detail is not None:
            values["detail"] = detail
        with Session(self._engine) as session, session.begin():
            session.execute(
                update(EmergencyStep)
                .where(EmergencyStep.sequence_id == seq_id, EmergencyStep.number == number)
                .values(**values)
            )
            _set_positions(session, seq_id, open_positions, left_open)

    def step_finished(self, seq_id: int, number: int, ok: bool, detail: str, now: datetime,
                      also: Callable[[Session], None] | None = None) -> None:
        """Mark a step done (or failed) and move the sequence's resume point past it, in one transaction.

        ``also(session)`` adds to that transaction (the step's audit line).
        """
        with Session(self._engine) as session, session.begin():
            session.execute(
                update(EmergencyStep)
                .where(EmergencyStep.sequence_id == seq_id, EmergencyStep.number == number)
                .values(status="done" if ok else "failed", finished_at=now, detail=detail)
            )
            session.execute(
                update(EmergencySequence)
                .where(EmergencySequence.id == seq_id, EmergencySequence.steps_done < number)
                .values(steps_done=number)
            )
            if also is not None:
                also(session)

    def set_positions(self, seq_id: int, *, open_positions: list[dict[str, Any]] | None = None,
                      left_open: list[dict[str, Any]] | None = None) -> None:
        """Store the latest re-read (what is still open) and, once known, what is left open."""
        with Session(self._engine) as session, session.begin():
            _set_positions(session, seq_id, open_positions, left_open)

    def finish(self, seq_id: int, status: str, summary: str, now: datetime, *, left_open: list[dict[str, Any]] | None,
               step_detail: str, step_ok: bool = True) -> None:
        """Close the sequence and its last step together, freeing the running slot for the next trigger."""
        last = self._steps[-1].number
        with Session(self._engine) as session, session.begin():
            session.execute(
                update(EmergencyStep)
                .where(EmergencyStep.sequence_id == seq_id, EmergencyStep.number == last)
                .values(status="done" if step_ok else "failed", finished_at=now, detail=step_detail)
            )
            values: dict[str, Any] = {"status": status, "summary": summary, "finished_at": now, "running_slot": None,
                                      "steps_done": last}
            if left_open is not None:
                values["left_open"] = left_open
            session.execute(update(EmergencySequence).where(EmergencySequence.id == seq_id).values(**values))

    def add_orders(self, seq_id: int, records: list[OrderRecord], now: datetime) -> None:
        """Append exchange actions and their results (one transaction: fewer writers queue on the database)."""
        if not records:
            return
        with Session(self._engine) as session, session.begin():
            session.add_all([
                EmergencyOrder(
                    sequence_id=seq_id, step=r.step, at=now, account=r.account, action=r.action, symbol=r.symbol,
                    side=r.side, attempt=r.attempt, client_id=r.client_id, order_id=r.order_id, ok=r.ok,
                    message=r.message[:2000],
                )
                for r in records
            ])

    def close_attempts(self, seq_id: int) -> dict[tuple[str, str, str], int]:
        """Return how many close attempts each (account, symbol, side) had in this sequence so far."""
        with Session(self._engine) as session:
            o = EmergencyOrder
            rows = session.execute(
                select(o.account, o.symbol, o.side, func.count(o.id))
                .where(EmergencyOrder.sequence_id == seq_id, EmergencyOrder.action == "close")
                .group_by(EmergencyOrder.account, EmergencyOrder.symbol, EmergencyOrder.side)
            ).all()
            return {(account, symbol or "", side or ""): int(n) for account, symbol, side, n in rows}

    # -- views ---------------------------------------------------------------------------------------------
    def latest_id(self) -> int | None:
        """Return the running sequence's id, else the newest one's."""
        running = self.running_id()
        if running is not None:
            return running
        with Session(self._engine) as session:
            return session.scalar(select(EmergencySequence.id).order_by(EmergencySequence.id.desc()).limit(1))

    def view(self, seq_id: int, now: datetime) -> dict[str, Any]:
        """Describe one sequence: status, steps with times and progress, orders, what is (left) open."""
        with Session(self._engine) as session:
            row = session.get(EmergencySequence, seq_id)
            if row is None:
                raise RiskmgrError(f"there is no emergency stop sequence #{seq_id}")
            steps = session.scalars(
                select(EmergencyStep).where(EmergencyStep.sequence_id == seq_id).order_by(EmergencyStep.number)
            ).all()
            orders = session.scalars(
                select(EmergencyOrder).where(EmergencyOrder.sequence_id == seq_id).order_by(EmergencyOrder.id)
            ).all()
            return _sequence_view(row, steps, orders, now, self._titles)

    def history(self, limit: int = HISTORY_LIMIT) -> list[dict[str, Any]]:
        """Summarise the newest sequences, newest first."""
        with Session(self._engine) as session:
            rows = session.scalars(
                select(EmergencySequence).order_by(EmergencySequence.id.desc()).limit(limit)
            ).all()
            return [_summary(row) for row in rows]

    def _update_step(self, seq_id: int, number: int, **values: Any) -> None:
        with Session(self._engine) as session, session.begin():
            session.execute(
                update(EmergencyStep)
                .where(EmergencyStep.sequence_id == seq_id, EmergencyStep.number == number)
                .values(**values)
            )


def _set_positions(session: Session, seq_id: int, open_positions: list[dict[str, Any]] | None,
                   left_open: list[dict[str, Any]] | None) -> None:
    values: dict[str, Any] = {}
    if open_positions is not None:
        values["open_positions"] = open_positions
    if left_open is not None:
        values["left_open"] = left_open
    if values:
        session.execute(update(EmergencySequence).where(EmergencySequence.id == seq_id).values(**values))


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start) / timedelta(seconds=1), 3)


def _summary(row: EmergencySequence) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": row.status,
        "trigger": row.trigger,
        "actor": row.actor,
        "reason": row.reason,
        "started_at": _iso(row.started_at),
        "finished_at": _iso(row.finished_at),
        "duration_s": _seconds(row.started_at, row.finished_at),
        "left_open": len(row.left_open or []) if row.finished_at else None,
        "summary": row.summary,
    }


def _sequence_view(
    row: EmergencySequence, steps: Sequence[EmergencyStep], orders: Sequence[EmergencyOrder], now: datetime,
    titles: Mapping[int, str],
) -> dict[str, Any]:
    view = _summary(row)
    view.update(
        running=row.running_slot == RUNNING,
        steps_done=row.steps_done,
        resumed=row.resumed,
        heartbeat_at=_iso(row.heartbeat_at),
        generated_at=now.isoformat(),
        steps=[
            {
                "number": s.number, "name": s.name, "title": titles.get(s.number, s.name), "status": s.status,
                "started_at": _iso(s.started_at), "finished_at": _iso(s.finished_at),
                "duration_s": _seconds(s.started_at, s.finished_at),
                "progress": {"done": s.progress_done, "total": s.progress_total}, "detail": s.detail,
            }
            for s in steps
        ],
        orders=[
            {
                "step": o.step, "at": o.at.isoformat(), "account": o.account, "action": o.action, "symbol": o.symbol,
                "side": o.side, "attempt": o.attempt, "client_id": o.client_id, "order_id": o.order_id, "ok": o.ok,
                "message": o.message,
            }
            for o in orders
        ],
        open_positions=row.open_positions or [],
        left_open=(row.left_open or []) if row.finished_at else None,
    )
    return view
