"""The background job table: plain functions that read what they need from the current app."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from riskmgr.monitor import poll_cycle
from riskmgr.runtime import current_runtime


def poll_job() -> None:
    """Run one poll cycle over every account."""
    poll_cycle(current_runtime())


def paper_tick_job() -> None:
    """Let the paper exchange fire triggers, limits and liquidations on the latest prices."""
    runtime = current_runtime()
    for name in runtime.paper_accounts():
        runtime.accounts[name].sync()


def job_table(app: Flask) -> list[tuple[str, float, Callable[[], None]]]:
    """Return (id, interval seconds, function) for every background job."""
    settings = app.extensions["riskmgr"].settings
    return [
        ("poll", settings.poll_seconds, poll_job),
        ("paper-tick", 1, paper_tick_job),
    ]
