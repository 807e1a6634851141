"""The emergency stop feature: the service on the runtime, its re-arm guard, its resume job and server hook.

The sequence itself lives in ``emergency.service`` (steps in ``emergency.sequence``, tables in ``emergency.store``).
A sequence left unfinished by a restart is resumed at start-up and by a background job. Its page and API are
``riskmgr.web.emergency``; its command, ``flask risk emergency-stop``, is in ``riskmgr.app.cli.risk``.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from riskmgr.core.feature import Feature, Job, RearmGuard
from riskmgr.risk.emergency.config import NAME, EmergencySettings
from riskmgr.risk.emergency.config import settings_from_env as _read_settings
from riskmgr.risk.emergency.service import EmergencyService

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime

log = logging.getLogger(__name__)


def service(runtime: Runtime) -> EmergencyService:
    """Return the emergency stop service of ``runtime``."""
    return runtime.feature(EmergencyService)


def install(runtime: Runtime) -> tuple[EmergencyService]:
    """Build the service (nothing starts here: see ``on_serve``)."""
    settings: EmergencySettings = runtime.settings.feature(NAME)
    return (EmergencyService(runtime, settings),)


def rearm_guards(runtime: Runtime) -> list[RearmGuard]:
    """No re-arm while a sequence runs: the trading state asks this before going back to ACTIVE."""
    svc = service(runtime)
    return [lambda: _still_running(svc)]


def on_serve(runtime: Runtime) -> None:
    """In a serving process: if a sequence was left unfinished (a restart mid-sequence), resume it in the background
    at once (the scheduler's ``emergency-resume`` job checks again every few seconds)."""
    svc = service(runtime)
    if not svc.has_tables():  # before the first migration there is nothing to resume
        return
    if svc.store.running_id() is not None:
        log.warning("an emergency stop sequence is unfinished: resuming it")
        threading.Thread(target=svc.watch_for_orphans, name="emergency-resume", daemon=True).start()


def _still_running(svc: EmergencyService) -> str | None:
    running = svc.store.running_id() if svc.has_tables() else None
    return f"emergency stop sequence #{running} is still running; wait until it finishes" if running else None


def jobs(runtime: Runtime) -> list[Job]:
    """Check every few seconds for a sequence whose runner died (another worker or a crash) and finish it."""
    svc = service(runtime)

    def resume_orphaned_emergency_stop() -> None:
        svc.resume_unfinished(wait=False)

    return [("emergency-resume", max(5, svc.settings.lease_seconds // 2), resume_orphaned_emergency_stop)]


FEATURE = Feature(
    name=NAME, install=install, provides=(EmergencyService,), jobs=jobs, on_serve=on_serve,
    settings_from_env=_read_settings, rearm_guards=rearm_guards,
)
