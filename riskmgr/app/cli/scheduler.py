"""``flask scheduler run``: the background jobs in the foreground, for a separate worker process.

SIGTERM or SIGINT (Ctrl-C) stops it within ``SHUTDOWN_GRACE_SECONDS``: no job starts from then on, the running jobs
get the grace to finish, and the process exits with 0. A job still running when the grace ends is named in the log
with every thread's stack, the scheduler lock is released and the process exits with ``FORCED_EXIT_CODE`` (3).
``kill -USR1 <pid>`` prints every thread's stack at any time.

The main thread sleeps in short steps rather than blocking on one wait: the kernel may deliver a process-wide signal
to any thread, and Python only runs its handler in the main thread, the next time that thread runs Python code. A
main thread blocked in an untimed ``Event.wait()`` was never woken when SIGTERM landed on another thread, and the
process ran on until it was killed.
"""

from __future__ import annotations

import faulthandler
import logging
import signal
import threading
import time

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from riskmgr.app.runtime import current_runtime
from riskmgr.app.shutdown import arm_exit_watchdog, force_exit

scheduler_cli = AppGroup("scheduler", help="Background jobs (polling, paper matching).")
log = logging.getLogger(__name__)
STEP_SECONDS = 0.2  # how often the main thread looks whether a stop was asked for


@scheduler_cli.command("run")
def scheduler_run() -> None:
    """Run the background jobs in the foreground (for a separate worker process); SIGTERM or Ctrl-C stops."""
    from riskmgr.app.scheduler import start_background_jobs

    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]  # a LocalProxy method: Flask types current_app as the app
    stop = _stop_on_signals()
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1 <pid>` prints every thread's stack
    start_background_jobs(app)
    if current_runtime().background.scheduler is None:
        click.echo("another process holds the scheduler lock; waiting to take over")
    while not stop.is_set():
        time.sleep(STEP_SECONDS)  # a bounded step: see the module docstring
    _stop(app)


def _stop_on_signals() -> threading.Event:
    """Return an event that SIGTERM and SIGINT set (only the main thread looks at it, and only by polling)."""
    stop = threading.Event()

    def on_signal(_signum: int, _frame: object) -> None:
        stop.set()  # nothing else here: the handler may run while the main thread is anywhere

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return stop


def _stop(app: Flask) -> None:
    """Stop the jobs within the grace; end the process at once when jobs or threads outlive it."""
    from riskmgr.app.scheduler import stop_background_jobs

    runtime = current_runtime()
    grace = runtime.settings.shutdown_grace_seconds
    deadline = time.monotonic() + grace
    log.info("stopping the background jobs (grace %s s)", grace)
    lock = runtime.background.lock
    # the exit itself is bounded too: a non-daemon thread (a pool worker in a hung call) would hold it up
    arm_exit_watchdog(deadline, runtime.background.running, lock.release if lock is not None else None)
    late = stop_background_jobs(app, deadline)
    if late:
        force_exit(f"the background jobs did not stop within the shutdown grace of {grace} s "
                   "(SHUTDOWN_GRACE_SECONDS)", late)
    log.info("background jobs stopped")
