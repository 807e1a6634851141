"""The Risk and Audit pages and their API: the limits in force and each rule's headroom, editing the limits,
re-arming, the pre-trade receipt (``POST /api/orders/preview``) and the audit log.

One blueprint, ``risk``, for both pages (their endpoints are ``risk.risk_page`` and ``risk.audit_page``). What they
show is computed in ``riskmgr.risk.overview``; the gateway's risk check is ``runtime.pretrade``, built with the gateway
by the composition root, so every new-risk order, from any caller, is judged by every rule on real data.
"""

from __future__ import annotations

from flask import Blueprint, g, jsonify, render_template, request
from flask.typing import ResponseReturnValue

from riskmgr.accounts import services
from riskmgr.app.runtime import current_runtime
from riskmgr.core.errors import ValidationError
from riskmgr.core.validation import NAME_MAX, REASON_MAX, json_object, opt_int, opt_str, opt_time, req_str
from riskmgr.risk.overview import audit_events, limits_in_force, risk_view
from riskmgr.risk.ticket import parse_ticket, preview_ticket

bp = Blueprint("risk", __name__)
NAV = (("risk.risk_page", "Risk"), ("risk.audit_page", "Audit"))
AUDIT_PAGE_MAX = 1000


def _actor() -> str:
    return getattr(g, "actor", "operator")


# -- pages -------------------------------------------------------------------------------------------------------
@bp.get("/risk")
def risk_page() -> ResponseReturnValue:
    return render_template("risk.html")


@bp.get("/audit")
def audit_page() -> ResponseReturnValue:
    runtime = current_runtime()
    return render_template("audit.html", kinds=runtime.audit.kinds(), accounts=list(runtime.accounts))


# -- risk API ----------------------------------------------------------------------------------------------------
@bp.get("/api/risk")
def risk_api() -> ResponseReturnValue:
    return jsonify(risk_view(current_runtime()))


@bp.put("/api/risk/limits")
def limits_api() -> ResponseReturnValue:
    runtime = current_runtime()
    changes = json_object(request)
    # when the stored changes misfit the environment this update repairs them: report against the environment
    before = limits_in_force(runtime)[0] or runtime.limits_store.base()
    after = runtime.limits_store.update(changes, _actor())
    diff = before.diff(after)
    return jsonify(limits=after.to_dict(), changed={k: {"old": a, "new": b} for k, (a, b) in diff.items()})


@bp.post("/api/rearm")
def rearm_api() -> ResponseReturnValue:
    runtime = current_runtime()
    reason = req_str(json_object(request), "reason", max_len=REASON_MAX)
    previous = runtime.trading.rearm(reason, _actor())
    return jsonify(previous=previous.value, trading_state=services.trading_status_view(runtime))


@bp.post("/api/orders/preview")
def preview_api() -> ResponseReturnValue:
    runtime = current_runtime()
    ticket = parse_ticket(json_object(request), runtime)
    return jsonify(preview_ticket(runtime, ticket))


# -- audit -------------------------------------------------------------------------------------------------------
@bp.get("/api/audit")
def audit_api() -> ResponseReturnValue:
    runtime = current_runtime()
    args = request.args
    since, until = opt_time(args, "since"), opt_time(args, "until")
    if since is not None and until is not None and until < since:
        raise ValidationError("until", f"{until.isoformat()} is before since {since.isoformat()}")
    limit = opt_int(args, "limit", 1, AUDIT_PAGE_MAX) or 100
    before = opt_int(args, "before", 1, 2**62)
    kind, account = opt_str(args, "kind", max_len=NAME_MAX), opt_str(args, "account", max_len=NAME_MAX)
    events = audit_events(runtime, since=since, until=until, kind=kind, account=account, before=before,
                          limit=limit + 1)
    more = len(events) > limit
    events = events[:limit]
    return jsonify(
        events=events, limit=limit, more=more, next_before=events[-1]["id"] if more else None,
        kinds=runtime.audit.kinds(),
    )
