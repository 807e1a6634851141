"""Background jobs (APScheduler), run by exactly one process per database however many processes there are.

Each gunicorn worker (and each ``flask scheduler run``) calls ``start_background_jobs`` after it boots. The first
to take the database's leader lock (``riskmgr.app.leader``: a file lock beside a SQLite database, an advisory lock on
PostgreSQL) runs the scheduler; the others keep trying every few seconds, so when the leader dies another process
takes over within two poll intervals. The leader checks its lock as often and stops its jobs if it lost it. Jobs
never overlap themselves (max_instances=1) and missed runs are coalesced; the poll runs at once on a new leader.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

from riskmgr.app import features
from riskmgr.app.leader import FileLock, LeaderLock, lock_for
from riskmgr.app.runtime import Background

log = logging.getLogger(__name__)
RETRY_LOCK_SECONDS = 5.0
ProcessLock = FileLock  # the SQLite / single-machine lock, under its former name
_election = threading.Lock()  # one election step at a time in this process (start, the retry thread, stop)


def build_scheduler(app: Flask) -> BackgroundScheduler:
    """Return a scheduler with every background job of the app registered (not started)."""
    from riskmgr.app.jobs import job_table

    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    for job_id, seconds, fn in job_table(app):
        first = {"next_run_time": datetime.now(UTC)} if job_id == "poll" else {}  # a new leader polls at once
        scheduler.add_job(
            _in_context(app, fn, job_id), "interval", seconds=seconds, id=job_id, name=job_id, max_instances=1,
            coalesce=True, **first,
        )
    return scheduler


def _in_context(app: Flask, fn: Callable[[], None], name: str) -> Callable[[], None]:
    running = app.extensions["riskmgr"].background.running

    def run() -> None:
        with running.track(name), app.app_context():
            try:
                fn()
            except Exception:  # a failing job is logged and tried again next interval
                log.exception("background job %s failed", name)

    return run


def serve(app: Flask) -> None:
    """Start the features' own background work in this serving process (their ``on_serve`` hooks), once.

    With ``REDIS_URL`` the Celery workers do that work (their start resumes an unfinished emergency stop)."""
    runtime = app.extensions["riskmgr"]
    if runtime.settings.redis_url or runtime.background.served:
        return
    runtime.background.served = True
    for hook in features.on_serve_hooks():
        hook(runtime)


def start_background_jobs(app: Flask) -> None:
    """Start the features' background work, then run the scheduler in this process while it leads (otherwise keep
    trying in the background)."""
    serve(app)
    runtime = app.extensions["riskmgr"]
    if not runtime.settings.scheduler_enabled or runtime.background.lock is not None:
        return
    if runtime.settings.redis_url:  # Celery beat and its workers run the jobs; this process serves pages only
        log.info("REDIS_URL is set: background jobs run on the Celery workers (celery beat), not in pid %s",
                 os.getpid())
        return
    lock = lock_for(runtime.settings.database_url, runtime.settings.instance_path)
    runtime.background.lock = lock
    stop = threading.Event()
    runtime.background.stop_waiting = stop
    interval = min(RETRY_LOCK_SECONDS, max(runtime.settings.poll_seconds / 2, 0.5))
    _elect(app, lock, stop)

    def keep_electing() -> None:
        while not stop.wait(interval):
            _elect(app, lock, stop)

    threading.Thread(target=keep_electing, name="scheduler-election", daemon=True).start()


def _elect(app: Flask, lock: LeaderLock, stop: threading.Event) -> None:
    """Start the jobs when this process takes the lock; stop them when it lost the lock."""
    with _election:
        if not stop.is_set():
            _elect_locked(app, lock)


def _elect_locked(app: Flask, lock: LeaderLock) -> None:
    bg: Background = app.extensions["riskmgr"].background
    if bg.scheduler is not None:
        if not lock.still_held():
            log.error("lost the scheduler lock (%s); stopping the background jobs in pid %s", lock.describe(),
                      os.getpid())
            bg.scheduler.shutdown(wait=False)
            bg.scheduler = None
            lock.release()
        return
    if lock.try_acquire():
        scheduler = build_scheduler(app)
        scheduler.start()
        bg.scheduler = scheduler
        log.info("background jobs started in pid %s (%s)", os.getpid(), lock.describe())


def stop_background_jobs(app: Flask, deadline: float | None = None) -> list[str]:
    """Stop the scheduler (if this process runs it) and release the lock; return the jobs still running.

    No job starts from the call on. The jobs running get until the monotonic ``deadline`` (default:
    ``SHUTDOWN_GRACE_SECONDS`` from now) to finish; the ones still running then are returned (an empty list: a clean
    stop). The lock is released either way: the caller ends the process when jobs were left running."""
    bg: Background = app.extensions["riskmgr"].background
    if deadline is None:
        deadline = time.monotonic() + app.extensions["riskmgr"].settings.shutdown_grace_seconds
    if bg.stop_waiting is not None:
        bg.stop_waiting.set()
        bg.stop_waiting = None
    late: list[str] = []
    elected = _election.acquire(timeout=max(0.0, deadline - time.monotonic()))  # a step may be reaching PostgreSQL
    if not elected:
        late.append("scheduler-election (a leader election step)")
    try:
        scheduler, bg.scheduler = bg.scheduler, None
        lock, bg.lock = bg.lock, None
    finally:
        if elected:
            _election.release()
    if scheduler is not None:
        scheduler.shutdown(wait=False)  # no new runs; the running ones are waited for below, up to the deadline
    late += bg.running.wait_idle(deadline)
    if lock is not None:
        lock.release()
    return late
