"""The emergency stop feature: the service on the runtime, its API, the live panel and ``flask risk emergency-stop``.

The sequence itself lives in ``emergency_service`` (steps in ``emergency_steps``, tables in ``emergency_store``).
A sequence left unfinished by a restart is resumed at start-up and by a background job.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

import click
from flask import Blueprint, Response, abort, g, jsonify, render_template, request

from riskmgr.app.cli import fail, risk_cli
from riskmgr.app.runtime import current_runtime
from riskmgr.core.errors import RiskmgrError
from riskmgr.core.feature import Feature, Job, RearmGuard
from riskmgr.core.validation import json_object
from riskmgr.risk.emergency.config import NAME, EmergencySettings
from riskmgr.risk.emergency.config import settings_from_env as _read_settings
from riskmgr.risk.emergency.sequence import SEQUENCE
from riskmgr.risk.emergency.service import EmergencyService, clean_reason

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime

log = logging.getLogger(__name__)
CLI_POLL_SECONDS = 0.1

bp = Blueprint("emergency", __name__)


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


# -- web -------------------------------------------------------------------------------------------------------
@bp.record_once
def _accounts_for_button(state: Any) -> None:
    """The confirm dialog on every page names the accounts that will be flattened: the configured accounts, fixed
    while the app runs, so a Jinja global rather than a per-request value."""
    state.app.jinja_env.globals["emergency_accounts"] = tuple(state.app.extensions["riskmgr"].accounts)


@bp.get("/emergency")
def page() -> str:
    return render_template("emergency.html", step_count=len(SEQUENCE))


@bp.get("/api/emergency-stop")
def current() -> Response:
    return jsonify(service(current_runtime()).view())


@bp.get("/api/emergency-stop/<int:seq_id>")
def one(seq_id: int) -> Response:
    svc = service(current_runtime())
    try:
        return jsonify(svc.view(seq_id))
    except RiskmgrError:
        abort(404, f"there is no emergency stop sequence #{seq_id}")


@bp.post("/api/emergency-stop")
def trigger() -> tuple[Response, int]:
    data = json_object(request)
    actor = getattr(g, "actor", "operator")
    how = "manual" if actor == "operator" else "api"
    reason = clean_reason(data.get("reason"))  # a 400 naming the field before anything starts
    result = service(current_runtime()).start(reason, actor=actor, trigger=how)
    return jsonify(id=result.id, already_running=result.already_running, status_url="/api/emergency-stop"), 202


# -- CLI -------------------------------------------------------------------------------------------------------
@risk_cli.command("emergency-stop")
@click.option("--reason", required=True, help="Why everything is being flattened (recorded in the audit log).")
@click.option("--timeout", type=click.FloatRange(1, 86400), default=None,
              help="Stop waiting after this many seconds (default: twice the sequence's budget plus a minute).")
def emergency_stop_command(reason: str, timeout: float | None) -> None:
    """Flatten every account now: HALT, cancel, close everything, verify flat; waits and prints each step."""
    svc = service(current_runtime())
    try:
        result = svc.start(reason, actor="cli", trigger="cli")
    except RiskmgrError as exc:
        fail(str(exc))
    verb = "already running; following it" if result.already_running else "started"
    click.echo(f"emergency stop #{result.id} {verb}")
    view = _follow(svc, result.id, timeout)
    if view["running"]:
        fail(f"emergency stop #{result.id} still running after the wait; see /emergency or the audit log")
    if view["status"] != "flat":
        fail(f"emergency stop #{result.id} NOT flat: {view['summary']}")
    click.echo(f"emergency stop #{result.id} finished: {view['summary']}; trading stays HALTED until re-armed")


def _follow(svc: EmergencyService, seq_id: int, timeout: float | None) -> dict[str, Any]:
    """Print each step as it ends, until the sequence finishes or the wait runs out."""
    limit = timeout if timeout is not None else svc.wait_limit()
    deadline = time.monotonic() + limit
    printed: set[int] = set()
    while True:
        view = svc.view(seq_id)
        for step in view["steps"]:
            if step["status"] in ("done", "failed") and step["number"] not in printed:
                printed.add(step["number"])
                mark = "ok" if step["status"] == "done" else "FAILED"
                click.echo(f"  step {step['number']}/{len(SEQUENCE)} {step['title']}: {mark} — {step['detail']}")
        if not view["running"] or time.monotonic() > deadline:
            return view
        time.sleep(CLI_POLL_SECONDS)


FEATURE = Feature(
    name=NAME, install=install, provides=(EmergencyService,), blueprint=bp, nav=(("emergency.page", "Emergency"),),
    jobs=jobs, on_serve=on_serve, settings_from_env=_read_settings, rearm_guards=rearm_guards,
)  # its command is `flask risk emergency-stop`, on the app's risk group
