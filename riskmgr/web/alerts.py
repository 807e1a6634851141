"""The Alerts page and its API: delivery status, the history, the per-kind toggles and a test alert."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, render_template, request

from riskmgr.alerts.dispatch import STATUSES, AlertDispatcher
from riskmgr.alerts.feature import AlertsFeature
from riskmgr.alerts.settings import ALERTABLE
from riskmgr.app.runtime import current_runtime
from riskmgr.core.errors import ValidationError
from riskmgr.core.validation import NAME_MAX, json_object, opt_int, req_str

bp = Blueprint("alerts", __name__)
NAV = (("alerts.page", "Alerts"),)


def _dispatcher() -> AlertDispatcher:
    return current_runtime().feature(AlertsFeature).dispatcher


@bp.get("/alerts")
def page():
    dispatcher = _dispatcher()
    return render_template("alerts.html", settings=dispatcher.settings, statuses=STATUSES)


@bp.get("/api/alerts/status")
def status():
    return jsonify(_dispatcher().status())


@bp.get("/api/alerts")
def history():
    limit = opt_int(request.args, "limit", 1, 1000) or 100
    wanted = request.args.get("status") or None
    if wanted is not None:
        req_str({"status": wanted}, "status", list(STATUSES))
    return jsonify(alerts=_dispatcher().history(limit, wanted))


@bp.get("/api/alerts/toggles")
def toggles():
    return jsonify(toggles=_dispatcher().toggles())


@bp.put("/api/alerts/toggles")
def set_toggle():
    data = json_object(request)
    kind = req_str(data, "kind", list(ALERTABLE), max_len=NAME_MAX)
    enabled = data.get("enabled")
    if not isinstance(enabled, bool):
        raise ValidationError("enabled", "is required: true or false")
    dispatcher = _dispatcher()
    dispatcher.set_toggle(kind, enabled, getattr(g, "actor", "operator"))
    return jsonify(toggles=dispatcher.toggles())


@bp.post("/api/alerts/test")
def send_test():
    return jsonify(_dispatcher().send_test(getattr(g, "actor", "operator")))
