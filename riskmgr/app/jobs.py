"""The background job table: plain functions that read what they need from the current app."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from riskmgr.accounts import view_cache
from riskmgr.accounts.monitor import poll_cycle
from riskmgr.app import features, retention
from riskmgr.app.runtime import current_runtime


def poll_job() -> None:
    """Run one poll cycle over every account, then the features' hooks (risk engine first)."""
    runtime = current_runtime()
    poll_cycle(runtime, features.poll_hooks())
    view_cache.rebuild(runtime)  # the dashboard's view, built once here rather than on every request


def paper_tick_job() -> None:
    """Let the paper exchange fire triggers, limits and liquidations on the latest prices."""
    runtime = current_runtime()
    for name in runtime.paper_accounts():
        runtime.accounts[name].sync()


def job_table(app: Flask) -> list[tuple[str, float, Callable[[], None]]]:
    """Return (id, interval seconds, function) for every background job."""
    runtime = app.extensions["riskmgr"]
    table: list[tuple[str, float, Callable[[], None]]] = [
        ("poll", runtime.settings.poll_seconds, poll_job),
        ("paper-tick", 1, paper_tick_job),
        ("retention", retention.INTERVAL_S, retention.retention_job),
    ]
    return table + features.jobs(runtime)
