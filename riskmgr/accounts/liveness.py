"""Liveness: the poller's heartbeat, and a stopped poller as an alert (once per outage) and a red banner.

The heartbeat is read from the poll-run records (``PollRun``: start and end of every finished cycle), which every
web worker sees. The poller counts as *stopped* when no cycle has started for ``LIVENESS_STOPPED_INTERVALS`` poll
intervals plus the fetch timeout (a cycle may take that long). That is checked by a background job (it catches a
poll job that hangs or fails every time) and by every ``GET /api/liveness`` (it catches a scheduler that is not
running at all); a notice row keyed by the last cycle makes the alert fire once per outage, in whichever process
sees it first. The first cycle after an outage announces the recovery.

Staleness of the figures themselves is decided in ``riskmgr.accounts.freshness``; the page shows both.
``GET /api/liveness`` is ``riskmgr.web.liveness``; ``flask poller status`` is ``riskmgr.app.cli.liveness``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from riskmgr.core.domain import AccountSnapshot
from riskmgr.core.env import read_int
from riskmgr.core.errors import ConfigError
from riskmgr.core.feature import Feature, Job
from riskmgr.persistence.models import PollRun
from riskmgr.risk.emergency.models import RiskNotice
from riskmgr.risk.emergency.triggers import Notices

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime

NAME = "liveness"
ACTOR = "liveness"


@dataclass(frozen=True)
class LivenessSettings:
    """How many poll intervals without a cycle (plus the fetch timeout) make the poller count as stopped."""

    stopped_intervals: int = 3


def settings_from_env(env: Mapping[str, str]) -> LivenessSettings:
    """Read LIVENESS_STOPPED_INTERVALS (2–100, default 3)."""
    return LivenessSettings(stopped_intervals=read_int(env, "LIVENESS_STOPPED_INTERVALS", 3, 2, 100))


def stopped_after_seconds(runtime: Runtime) -> int:
    """Return how long without a new cycle means the poller is stopped."""
    s = runtime.settings
    return runtime.settings.feature(NAME).stopped_intervals * s.poll_seconds + s.fetch_timeout_seconds


def stale_limit(runtime: Runtime) -> int:
    """Return the staleness limit in force; the environment's when a stored change no longer fits (every page
    must still render and age its figures; the Risk page names the broken change)."""
    try:
        return runtime.limits().stale_after_seconds
    except ConfigError:
        return runtime.limits_store.base().stale_after_seconds


def when(ts: datetime, now: datetime, tz_name: str) -> str:
    """Format a moment for a sentence: "14:40:53 UTC", with the date when it is not today."""
    tz = ZoneInfo(tz_name)
    local = ts.astimezone(tz)
    fmt = "%H:%M:%S" if local.date() == now.astimezone(tz).date() else "%Y-%m-%d %H:%M:%S"
    return f"{local.strftime(fmt)} {tz_name}"


def _last_run(runtime: Runtime) -> PollRun | None:
    with Session(runtime.engine) as session:
        return session.scalars(select(PollRun).order_by(PollRun.started_at.desc()).limit(1)).first()


def heartbeat(runtime: Runtime) -> dict[str, Any]:
    """Describe the poller: its last cycle (start, end, duration, accounts read) and whether it is running."""
    now, limit = runtime.clock.now(), stopped_after_seconds(runtime)
    run = _last_run(runtime)
    base: dict[str, Any] = {"poll_seconds": runtime.settings.poll_seconds, "stopped_after_seconds": limit,
                            "checked_at": now.isoformat()}
    if run is None:
        return {**base, "state": "never", "last_started_at": None, "last_finished_at": None, "age_seconds": None,
                "duration_s": None, "accounts_ok": None, "accounts_failed": None,
                "message": "no poll cycle has run yet"}
    age = (now - run.started_at).total_seconds()
    state = "running" if age <= limit else "stopped"
    tz = runtime.settings.display_timezone
    message = (f"last poll cycle {when(run.started_at, now, tz)}, {age:.0f} s ago" if state == "running" else
               f"poller stopped: no poll cycle since {when(run.started_at, now, tz)} "
               f"({age:.0f} s; limit {limit} s)")
    return {**base, "state": state, "last_started_at": run.started_at.isoformat(),
            "last_finished_at": run.finished_at.isoformat(), "age_seconds": round(age),
            "duration_s": round((run.finished_at - run.started_at).total_seconds(), 3),
            "accounts_ok": run.accounts_ok, "accounts_failed": run.accounts_failed, "message": message}


def _stopped_key(started_at: str) -> str:
    return f"poller.stopped|{started_at}"


def check(runtime: Runtime) -> dict[str, Any]:
    """Return the heartbeat; when the poller is stopped, alert and audit it once per outage."""
    beat = heartbeat(runtime)
    if beat["state"] != "stopped":
        return beat
    notices = Notices(runtime.engine, runtime.clock)
    if notices.claim(_stopped_key(beat["last_started_at"]), "poller.stopped", None, beat["message"]):
        runtime.audit.record("poller.stopped", ACTOR, beat["message"])
        runtime.events.emit("poller.stopped", beat["message"], data={"last_started_at": beat["last_started_at"]})
    return beat


def poll_hook(runtime: Runtime, snapshots: list[AccountSnapshot]) -> None:
    """After a cycle: if the one before it was reported stopped, announce the recovery (once)."""
    previous = _last_run(runtime)  # this cycle's own record is written after the hooks
    if previous is None:
        return
    key = _stopped_key(previous.started_at.isoformat())
    with Session(runtime.engine) as session:
        reported = session.scalars(select(RiskNotice.id).where(RiskNotice.key == key)).first() is not None
    if not reported:
        return
    now = runtime.clock.now()
    message = (f"poller running again: a poll cycle started after a gap since "
               f"{when(previous.started_at, now, runtime.settings.display_timezone)} "
               f"({(now - previous.started_at).total_seconds():.0f} s)")
    if Notices(runtime.engine, runtime.clock).claim(f"poller.recovered|{previous.started_at.isoformat()}",
                                                    "poller.recovered", None, message):
        runtime.audit.record("poller.recovered", ACTOR, message)
        runtime.events.emit("poller.recovered", message, data={"accounts": len(snapshots)})


def jobs(runtime: Runtime) -> list[Job]:
    """Check the poller every poll interval (at least every 5 s)."""

    def watch_job() -> None:
        """Background job: check the heartbeat (catches a poll job that hangs or fails every cycle)."""
        check(runtime)

    return [("liveness", max(5, runtime.settings.poll_seconds), watch_job)]


FEATURE = Feature(name=NAME, jobs=jobs, poll_hook=poll_hook, settings_from_env=settings_from_env)
