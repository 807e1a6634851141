"""``GET /api/liveness``: the poller's heartbeat and the staleness limit in force, read by every page's banner
(``static/js/liveness.js``); a stopped poller found here is alerted once (``riskmgr.accounts.liveness``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from riskmgr.accounts.liveness import check, stale_limit
from riskmgr.app.runtime import current_runtime

bp = Blueprint("liveness", __name__)


@bp.record_once
def _liveness_globals(state: Any) -> None:
    """Give every page the poll interval and the environment's staleness limit (no query per page: liveness.js
    takes the limit in force from /api/liveness as soon as the page loads). Both are fixed while the app runs, so
    they are Jinja globals rather than per-request values."""
    runtime = state.app.extensions["riskmgr"]
    state.app.jinja_env.globals.update(liveness_poll_seconds=runtime.settings.poll_seconds,
                                       liveness_stale_after=runtime.limits_store.base().stale_after_seconds)


@bp.get("/api/liveness")
def api_liveness():
    """The poller's heartbeat and the staleness limit; alerts once if the poller is found stopped."""
    runtime = current_runtime()
    beat = check(runtime)
    return jsonify(poller=beat, stale_after_seconds=stale_limit(runtime),
                   display_timezone=runtime.settings.display_timezone)
