"""Background jobs (APScheduler), run by exactly one process however many web workers there are.

Each gunicorn worker calls ``start_background_jobs`` after it boots. The first to take an exclusive,
non-blocking lock on ``instance/scheduler.lock`` runs the scheduler; the others keep trying every few
seconds, so if that worker dies (the OS releases its lock) another one takes over. The lock is held for the
life of the process. Jobs never overlap themselves (max_instances=1) and missed runs are coalesced.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

log = logging.getLogger(__name__)
RETRY_LOCK_SECONDS = 5.0


class ProcessLock:
    """An exclusive advisory file lock held by one process at a time."""

    def __init__(self, path: Path):
        self.path = path
        self._fh: IO[str] | None = None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; return whether this process holds it."""
        if self._fh is not None:
            return True
        fh = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held open while the lock is held)
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            return False
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._fh = fh
        return True

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


def build_scheduler(app: Flask) -> BackgroundScheduler:
    """Return a scheduler with every background job of the app registered (not started)."""
    from riskmgr.jobs import job_table

    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    for job_id, seconds, fn in job_table(app):
        scheduler.add_job(
            _in_context(app, fn), "interval", seconds=seconds, id=job_id, name=job_id, max_instances=1, coalesce=True
        )
    return scheduler


def _in_context(app: Flask, fn: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        with app.app_context():
            try:
                fn()
            except Exception:  # a failing job is logged and tried again next interval
                log.exception("background job %s failed", getattr(fn, "__name__", fn))

    return run


def start_background_jobs(app: Flask) -> None:
    """Run the scheduler in this process if it wins the lock; otherwise keep trying in the background."""
    runtime = app.extensions["riskmgr"]
    if not runtime.settings.scheduler_enabled or "scheduler" in runtime.background:
        return
    lock = ProcessLock(Path(app.instance_path) / "scheduler.lock")
    runtime.background["lock"] = lock

    def attempt() -> bool:
        if not lock.try_acquire():
            return False
        scheduler = build_scheduler(app)
        scheduler.start()
        runtime.background["scheduler"] = scheduler
        log.info("background jobs started in pid %s", os.getpid())
        return True

    if attempt():
        return
    stop = threading.Event()
    runtime.background["stop_waiting"] = stop

    def wait_for_lock() -> None:
        while not stop.wait(RETRY_LOCK_SECONDS):
            if attempt():
                return

    threading.Thread(target=wait_for_lock, name="scheduler-lock", daemon=True).start()


def stop_background_jobs(app: Flask) -> None:
    """Stop the scheduler (if this process runs it) and release the lock."""
    bg = app.extensions["riskmgr"].background
    if "stop_waiting" in bg:
        bg.pop("stop_waiting").set()
    if "scheduler" in bg:
        bg.pop("scheduler").shutdown(wait=True)
    if "lock" in bg:
        bg.pop("lock").release()
