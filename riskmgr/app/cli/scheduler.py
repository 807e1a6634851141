"""``flask scheduler run``: the background jobs in the foreground, for a separate worker process."""

from __future__ import annotations

import contextlib
import faulthandler
import signal
import threading

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from riskmgr.app.runtime import current_runtime

scheduler_cli = AppGroup("scheduler", help="Background jobs (polling, paper matching).")


@scheduler_cli.command("run")
def scheduler_run() -> None:
    """Run the background jobs in the foreground (for a separate worker process); Ctrl-C stops."""
    from riskmgr.app.scheduler import start_background_jobs, stop_background_jobs

    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]  # a LocalProxy method: Flask types current_app as the app
    start_background_jobs(app)
    if current_runtime().background.scheduler is None:
        click.echo("another process holds the scheduler lock; waiting to take over")
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1 <pid>` prints every thread's stack
    try:
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is the normal way to stop
            done.wait()
    finally:
        stop_background_jobs(app)
