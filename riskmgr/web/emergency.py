"""The Emergency page and API: the live panel of the sequence, ``GET /api/emergency-stop[/<id>]`` and
``POST /api/emergency-stop`` (manual from the page, ``api`` with a token). The sequence runs in
``riskmgr.risk.emergency``; the confirm dialog on every page names the accounts it will flatten."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, g, jsonify, render_template, request

from riskmgr.app.runtime import current_runtime
from riskmgr.core.errors import RiskmgrError
from riskmgr.core.validation import json_object
from riskmgr.risk.emergency.feature import service
from riskmgr.risk.emergency.sequence import SEQUENCE
from riskmgr.risk.emergency.service import clean_reason

bp = Blueprint("emergency", __name__)
NAV = (("emergency.page", "Emergency"),)


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


