"""The emergency stop's steps, one class each, in the one ordered table everything else reads.

``SEQUENCE`` is the order they run in. The store writes one row per step from it (number and name, as stored),
the page, API and CLI take titles and the step count from it, the service runs it and resumes it after the last
completed step. A step says itself how it behaves (``before_reply``: done before a trigger is answered;
``records_itself``: writes its own row and frees the running slot), so nothing anywhere tests a step's number.

Each ``run(ctx)`` returns a ``StepOutcome``; the venue work behind steps 2-5 lives in ``steps`` and ``early``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy.orm import Session

from riskmgr.core.domain import TradingState
from riskmgr.risk.emergency import steps
from riskmgr.risk.emergency.early import Ahead
from riskmgr.risk.emergency.steps import RunContext
from riskmgr.risk.emergency.store import EmergencyStore


@dataclass(frozen=True)
class StepOutcome:
    """What one step did: whether it succeeded, and the line the page, API and audit show for it."""

    ok: bool
    detail: str


@dataclass(frozen=True)
class StepContext:
    """What a step of one running sequence works with: the venue context and the work started ahead of it."""

    venue: RunContext
    ahead: Ahead

    @property
    def seq_id(self) -> int:
        return self.venue.seq_id

    @property
    def actor(self) -> str:
        return self.venue.actor

    @property
    def store(self) -> EmergencyStore:
        return self.venue.store

    def now(self) -> datetime:
        return self.venue.runtime.clock.now()


class Step(ABC):
    """One step of the emergency stop: its stored number and name, its title, and its work."""

    number: ClassVar[int]
    name: ClassVar[str]
    title: ClassVar[str]
    before_reply: ClassVar[bool] = False  # done before the trigger gets its answer (HALTED first of all)
    records_itself: ClassVar[bool] = False  # writes its own step row (and frees the running slot) in ``run``

    @abstractmethod
    def run(self, ctx: StepContext) -> StepOutcome:
        """Do the step's work and say how it went (an exception is recorded as the step's failure)."""

    @property
    def label(self) -> str:
        """Return "n/total title", as the audit and the CLI name a step."""
        return f"{self.number}/{len(SEQUENCE)} {self.title}"

    def finished(self, ctx: StepContext, outcome: StepOutcome) -> None:
        """Store the step's end and its audit line in one transaction (moving the resume point past it)."""
        if self.records_itself:
            return
        audit = ctx.venue.runtime.audit

        def stage(session: Session) -> None:  # the step and its audit line are written together
            audit.stage(
                session, "emergency.step", ctx.actor,
                f"emergency stop #{ctx.seq_id} step {self.label}: {outcome.detail}",
                data={"id": ctx.seq_id, "step": self.number, "ok": outcome.ok, "detail": outcome.detail},
            )

        ctx.store.step_finished(ctx.seq_id, self.number, outcome.ok, outcome.detail, ctx.now(), also=stage)

    def failed(self, ctx: StepContext, detail: str) -> None:
        """Store that the step broke (``detail`` says how); the steps after it still run."""
        self.finished(ctx, StepOutcome(False, detail))


class Halt(Step):
    number, name, title = 1, "halt", "Set trading HALTED"
    before_reply = True

    def run(self, ctx: StepContext) -> StepOutcome:
        info = ctx.store.info(ctx.seq_id)
        moved = ctx.venue.runtime.trading.escalate(
            TradingState.HALTED, f"emergency stop #{ctx.seq_id} ({info.trigger}): {info.reason}", ctx.actor
        )
        return StepOutcome(True, "trading set HALTED" if moved else "trading was already HALTED")


class CancelOrders(Step):
    number, name, title = 2, "cancel_orders", "Cancel every non-protective open order"

    def run(self, ctx: StepContext) -> StepOutcome:
        # step 3's read of the positions starts meanwhile (a cancel never changes a position)
        return StepOutcome(*ctx.ahead.cancel_and_prefetch(ctx.venue, read_step=ClosePositions.number))


class ClosePositions(Step):
    number, name, title = 3, "close_positions", "Close every position with reduce-only market orders"

    def run(self, ctx: StepContext) -> StepOutcome:
        reading = ctx.ahead.prefetched_reading(ctx.seq_id)
        answered = ctx.ahead.read_early(ctx.venue, read_step=VerifyFlat.number)  # step 4's reads start meanwhile
        return StepOutcome(*steps.close_positions(ctx.venue, reading, answered))


class VerifyFlat(Step):
    number, name, title = 4, "verify_flat", "Re-read positions until flat, retrying failures"

    def run(self, ctx: StepContext) -> StepOutcome:
        return StepOutcome(*steps.verify_flat(ctx.venue, first=ctx.ahead.early_reading(ctx.seq_id)))


class Cleanup(Step):
    number, name, title = 5, "cleanup", "Cancel leftover protective and orphan orders"

    def run(self, ctx: StepContext) -> StepOutcome:
        return StepOutcome(*steps.cancel_leftovers(ctx.venue, ctx.store.info(ctx.seq_id).left_open))


class Record(Step):
    """Audit the whole sequence, then close it and free the running slot in one transaction, then alert.

    The audit comes first: a crash in between repeats it on resume rather than losing it.
    """

    number, name, title = 6, "record", "Record the sequence and alert"
    records_itself = True

    def run(self, ctx: StepContext) -> StepOutcome:
        rt, info = ctx.venue.runtime, ctx.store.info(ctx.seq_id)
        flat = info.left_open == []
        left = info.left_open if info.left_open is not None else [
            {"account": None, "symbol": None, "side": None, "size": None, "reason": "flatness was never verified"}
        ]
        summary = "flat: every position closed" if flat else f"{len(left)} item(s) left open: " + "; ".join(
            _left_line(row) for row in left
        )
        status, detail = ("flat" if flat else "left_open"), f"recorded; {summary}"
        view = ctx.store.view(ctx.seq_id, ctx.now())
        rt.audit.record(
            "emergency.step", ctx.actor, f"emergency stop #{ctx.seq_id} step {self.label}: {detail}",
            data={"id": ctx.seq_id, "step": self.number, "ok": True, "detail": detail},
        )
        rt.audit.record(
            "emergency.finished", ctx.actor, f"emergency stop #{ctx.seq_id} finished: {summary}",
            data={"id": ctx.seq_id, "status": status, "trigger": info.trigger, "reason": info.reason,
                  "steps": view["steps"], "orders": view["orders"], "left_open": left},
        )
        ctx.store.finish(ctx.seq_id, status, summary, ctx.now(), left_open=left, step_detail=detail)
        rt.events.emit("emergency.finished" if flat else "emergency.left_open",
                       f"emergency stop #{ctx.seq_id}: {summary}",
                       data={"id": ctx.seq_id, "left_open": [] if flat else left})
        return StepOutcome(True, detail)

    def failed(self, ctx: StepContext, detail: str) -> None:
        """Free the running slot even when recording failed, and say so: nothing may look flat unverified."""
        summary = f"the record step {detail}; check the positions by hand"
        ctx.store.finish(ctx.seq_id, "left_open", summary, ctx.now(), left_open=None, step_detail=detail,
                         step_ok=False)
        ctx.venue.runtime.events.emit("emergency.left_open", f"emergency stop #{ctx.seq_id}: {summary}",
                                      data={"id": ctx.seq_id, "left_open": None})


def _left_line(row: dict[str, Any]) -> str:
    return f"{row['account'] or 'all accounts'} {row['symbol'] or ''} {row['side'] or ''} {row['reason']}".strip()


SEQUENCE: tuple[Step, ...] = (Halt(), CancelOrders(), ClosePositions(), VerifyFlat(), Cleanup(), Record())


def before_reply() -> Iterator[Step]:
    """Yield the leading steps done before a trigger is answered (the rest run in the background)."""
    for step in SEQUENCE:
        if not step.before_reply:
            return
        yield step
