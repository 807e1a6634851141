"""The emergency stop sequence: start it once however many triggers fire, run its steps, resume it after a restart.

The steps, in order, are ``sequence.SEQUENCE`` (one class each):

1. set HALTED (persisted) so no new entry passes the gate, even mid-sequence;
2. cancel every non-protective open order on every account (stop-losses stay until flat);
3. close every position with reduce-only market orders, all accounts and symbols at once;
4. re-read positions until flat, retrying failures with backoff; what is left is reported;
5. cancel leftover protective and orphan orders;
6. record the whole sequence and alert.

``start`` claims the one running slot in the database (a second trigger gets the running sequence's id back),
does the steps marked ``before_reply`` (setting HALTED) before answering, then runs the rest on a background
thread. The runner writes every step as it goes and beats a heartbeat; if its process dies, ``resume_unfinished``
(run at start-up and by a job) takes the sequence over and continues after the last completed step. HALTED stays
until an operator re-arms.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect

from riskmgr.core.errors import RiskmgrError, ValidationError
from riskmgr.risk.emergency import steps
from riskmgr.risk.emergency.config import EmergencySettings
from riskmgr.risk.emergency.early import Ahead
from riskmgr.risk.emergency.models import EmergencySequence
from riskmgr.risk.emergency.sequence import SEQUENCE, Step, StepContext, before_reply
from riskmgr.risk.emergency.store import EmergencyStore, SequenceInfo, StartResult

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime

log = logging.getLogger(__name__)
MAX_REASON = 500
WAIT_POLL_SECONDS = 0.05


def clean_reason(reason: Any) -> str:
    """Return the trimmed reason, or fail naming the field: every emergency stop says why."""
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError("reason", "is required: say why everything is being flattened")
    if len(reason.strip()) > MAX_REASON:
        raise ValidationError("reason", f"is {len(reason.strip())} characters long; allowed 1–{MAX_REASON}")
    return reason.strip()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, it is just not ours
        return True
    return True


class EmergencyService:
    """Start, run, resume and describe emergency stop sequences for one runtime."""

    def __init__(self, runtime: Runtime, settings: EmergencySettings):
        self._rt = runtime
        self._settings = settings
        self._store = EmergencyStore(runtime.engine, SEQUENCE)
        self._host = socket.gethostname()
        self.owner = f"{self._host}|{os.getpid()}|{uuid.uuid4().hex[:12]}"
        self._threads: dict[int, threading.Thread] = {}
        self._active: set[int] = set()  # sequences a thread of this service is running right now
        self._starting: set[int] = set()  # sequences whose before-reply steps a thread of ours is doing right now
        self._ahead = Ahead(settings)  # work of steps 3 and 4 started while the step before waits on the venue
        self._lock = threading.Lock()

    @property
    def store(self) -> EmergencyStore:
        return self._store

    @property
    def settings(self) -> EmergencySettings:
        return self._settings

    def wait_limit(self) -> float:
        """Return how long a caller should wait for a whole sequence at most (seconds)."""
        return float(self._settings.budget_seconds * 2 + 60)

    # -- starting ----------------------------------------------------------------------------------------
    def start(self, reason: str, *, actor: str, trigger: str) -> StartResult:
        """Start the sequence (HALTED before returning) and run the rest in the background."""
        result = self.begin(reason, actor=actor, trigger=trigger)
        if not result.already_running:
            self.spawn(result.id)
        elif self._store.info(result.id).owner != self.owner:
            self.resume_unfinished(wait=False)  # joined a sequence whose runner may have died: take it up now
        return result

    def begin(self, reason: str, *, actor: str, trigger: str) -> StartResult:
        """Claim the running slot and set HALTED; return the running sequence instead if there is one."""
        reason = clean_reason(reason)
        result = self._store.claim(reason=reason, actor=actor, trigger=trigger, owner=self.owner, now=self._now())
        if result.already_running:
            self._rt.audit.record(
                "emergency.already_running", actor,
                f"emergency stop requested ({trigger}: {reason}) while #{result.id} runs: joined it",
                data={"id": result.id, "trigger": trigger, "reason": reason},
            )
            return result
        with self._lock:
            self._starting.add(result.id)
        try:
            self._rt.audit.record(
                "emergency.started", actor, f"emergency stop #{result.id} started ({trigger}): {reason}",
                data={"id": result.id, "trigger": trigger, "reason": reason},
            )
            # HALTED before anything else that might be slow (the alert channels hang off the event below)
            for step in before_reply():
                self._run_step(self._context(self._store.info(result.id), step), step)
        finally:
            with self._lock:
                self._starting.discard(result.id)
        self._rt.events.emit(
            "emergency.started", f"emergency stop #{result.id} started by {actor} ({trigger}): {reason}",
            data={"id": result.id, "trigger": trigger, "actor": actor, "reason": reason},
        )
        return result

    def spawn(self, seq_id: int) -> threading.Thread:
        """Run the rest of the sequence on a background thread (one per sequence per process)."""
        with self._lock:
            thread = self._threads.get(seq_id)
            if thread is not None and thread.is_alive():
                return thread
            thread = threading.Thread(
                target=self._run_logged, args=(seq_id,), name=f"emergency-{seq_id}", daemon=True
            )
            self._threads[seq_id] = thread
            thread.start()
            return thread

    # -- running -----------------------------------------------------------------------------------------
    def run(self, seq_id: int) -> str:
        """Run the steps not yet done, in this thread, as the sequence's owner; return the final status."""
        info = self._store.info(seq_id)
        if not info.running:
            return str(self.view(seq_id)["status"])
        if info.owner != self.owner:
            raise RiskmgrError(f"emergency stop #{seq_id} is run by {info.owner}, not by this process")
        with self._lock:
            busy = seq_id in self._active
            self._active.add(seq_id)
        if busy:  # another thread of ours runs it: follow it instead of running it twice
            return str(self.wait(seq_id)["status"])
        try:
            self._run_steps(seq_id)
        finally:
            with self._lock:
                self._active.discard(seq_id)
        return str(self.view(seq_id)["status"])

    def _run_steps(self, seq_id: int) -> None:
        with self._heartbeat(seq_id):
            for step in SEQUENCE:
                info = self._store.info(seq_id)
                if info.owner != self.owner:  # another process took it over (our heartbeat lapsed): it goes on
                    log.error("emergency stop #%s was taken over by %s; this runner stops", seq_id, info.owner)
                    break
                if step.number > info.steps_done:
                    self._run_step(self._context(info, step), step)

    def _run_logged(self, seq_id: int) -> None:
        try:
            self.run(seq_id)
        except Exception:  # a background runner must leave a trace; the resume job takes the sequence over
            log.exception("emergency stop #%s: the runner failed", seq_id)

    def _run_step(self, ctx: StepContext, step: Step) -> None:
        self._store.step_started(ctx.seq_id, step.number, self._now())
        try:
            outcome = step.run(ctx)
        except Exception as exc:  # one step's fault must not stop the steps after it (closing matters most)
            log.exception("emergency stop #%s: step %s failed", ctx.seq_id, step.number)
            step.failed(ctx, f"failed: {steps.describe_error(exc)}")
            return
        step.finished(ctx, outcome)

    # -- resuming ----------------------------------------------------------------------------------------
    def resume_unfinished(self, *, wait: bool = True, timeout: float | None = None) -> int | None:
        """Take over a sequence whose runner died and finish it; return its id (None when nothing runs).

        With ``wait`` the sequence is run (or, if a live runner has it, awaited) in this thread.
        """
        seq_id = self._store.running_id()
        if seq_id is None:
            return None
        if self._take_over(self._store.info(seq_id)):
            if wait:
                self.run(seq_id)
            else:
                self.spawn(seq_id)
        elif wait:
            self.wait(seq_id, timeout)
        return seq_id

    def _take_over(self, info: SequenceInfo) -> bool:
        if not info.running:
            return False
        if info.owner == self.owner:  # ours: take it up again only if no thread of ours is still on it
            with self._lock:
                return info.id not in self._active and info.id not in self._starting
        if not self._runner_gone(info):
            return False
        if not self._store.take_over(info.id, info.owner, self.owner, self._now()):
            return False
        log.warning("emergency stop #%s: taking over from %s after step %s", info.id, info.owner, info.steps_done)
        self._rt.audit.record(
            "emergency.resumed", "system",
            f"emergency stop #{info.id} resumed after step {info.steps_done}/{len(SEQUENCE)} "
            f"(its runner {info.owner} stopped)",
            data={"id": info.id, "steps_done": info.steps_done, "previous_owner": info.owner},
        )
        return True

    def _runner_gone(self, info: SequenceInfo) -> bool:
        """Say whether the sequence's runner is dead: its process is gone, or its heartbeat is too old."""
        if info.owner is None:
            return True
        host, _, rest = info.owner.partition("|")
        pid_text = rest.partition("|")[0]
        if host == self._host and pid_text.isdigit() and int(pid_text) != os.getpid() and not _pid_alive(
            int(pid_text)
        ):
            return True
        if info.heartbeat_at is None:
            return True
        return (self._now() - info.heartbeat_at).total_seconds() > self._settings.lease_seconds

    def watch_for_orphans(self) -> None:
        """Until no sequence is unfinished, keep trying to take over one whose runner died (start-up thread)."""
        pause = max(0.5, self._settings.lease_seconds / 4)
        while True:
            seq_id = self._store.running_id()
            if seq_id is None:
                return
            if self._take_over(self._store.info(seq_id)):
                self.run(seq_id)
                return
            time.sleep(pause)

    def has_tables(self) -> bool:
        """Say whether the database holds this feature's tables (not yet, before the first migration)."""
        return bool(inspect(self._rt.engine).has_table(EmergencySequence.__tablename__))

    # -- reading -----------------------------------------------------------------------------------------
    def view(self, seq_id: int | None = None) -> dict[str, Any]:
        """Describe one sequence (default: the running one, else the newest) and the recent history."""
        seq_id = seq_id if seq_id is not None else self._store.latest_id()
        history = self._store.history()
        if seq_id is None:
            return {"id": None, "status": "none", "running": False, "steps": [], "orders": [],
                    "open_positions": [], "left_open": None, "history": history}
        return self._store.view(seq_id, self._now()) | {"history": history}

    def wait(self, seq_id: int, timeout: float | None = None) -> dict[str, Any]:
        """Block until the sequence finished (or ``timeout`` seconds passed); return its view."""
        limit = timeout if timeout is not None else self.wait_limit()
        deadline = time.monotonic() + limit
        while self._store.info(seq_id).running and time.monotonic() < deadline:
            time.sleep(WAIT_POLL_SECONDS)
        return self.view(seq_id)

    # -- internals ---------------------------------------------------------------------------------------
    def _now(self) -> datetime:
        return self._rt.clock.now()

    def _context(self, info: SequenceInfo, step: Step) -> StepContext:
        venue = steps.RunContext(info.id, info.actor, self._rt, self._settings, self._store, step.number)
        return StepContext(venue, self._ahead)

    @contextlib.contextmanager
    def _heartbeat(self, seq_id: int) -> Iterator[None]:
        stop = threading.Event()
        every = max(0.2, min(2.0, self._settings.lease_seconds / 4))

        def beat() -> None:
            while not stop.wait(every):
                try:
                    self._store.beat(seq_id, self.owner, self._now())
                except Exception:  # a missed beat only risks a takeover, after which this runner stops
                    log.exception("emergency stop #%s: heartbeat failed", seq_id)

        thread = threading.Thread(target=beat, name=f"emergency-{seq_id}-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
