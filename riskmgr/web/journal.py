"""The Trade journal page and its JSON / CSV API (thin views over ``JournalService``)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, jsonify, render_template, request

from riskmgr.app.runtime import current_runtime
from riskmgr.core.validation import ID_MAX, NAME_MAX, opt_int, req_str
from riskmgr.journal.closes import close_result
from riskmgr.journal.export import journal_csv, journal_dict
from riskmgr.journal.filters import DEFAULT_DAYS, MAX_DAYS, SIDES, parse_filter
from riskmgr.journal.service import JournalService
from riskmgr.journal.trades import EXIT_REASONS

bp = Blueprint("journal", __name__)
NAV = (("journal.page", "Journal"),)


def service() -> JournalService:
    return current_runtime().feature(JournalService)


def _tz() -> ZoneInfo:
    return ZoneInfo(current_runtime().settings.display_timezone)


@bp.get("/journal")
def page():
    return render_template("journal.html", accounts=service().accounts(), sides=SIDES, reasons=EXIT_REASONS,
                           default_days=DEFAULT_DAYS, max_days=MAX_DAYS)


def _journal() -> Any:
    runtime = current_runtime()
    flt = parse_filter(request.args, service().accounts(), runtime.clock.now())
    return service().journal(flt)


def _csv(journal: Any) -> Response:
    return Response(journal_csv(journal, _tz()), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="trades.csv"'})


@bp.get("/api/trades")
def trades():
    fmt = request.args.get("format") or "json"
    if fmt not in ("json", "csv"):
        req_str({"format": fmt}, "format", ["json", "csv"])
    journal = _journal()
    if fmt == "csv":
        return _csv(journal)
    return jsonify(journal_dict(journal, _tz(), current_runtime().clock.now()))


@bp.get("/api/trades.csv")
def trades_csv():
    return _csv(_journal())


@bp.get("/api/trades/close-result")
def one_close():
    account = req_str(request.args, "account", service().accounts(), max_len=NAME_MAX)
    client_id = req_str(request.args, "client_id", max_len=ID_MAX)
    return jsonify(close_result(current_runtime(), account, client_id) | {"account": account, "client_id": client_id})


@bp.get("/api/emergency-stop/closes")
def emergency_closes():
    """Return the fill price and realized P&L of each accepted close of one emergency sequence (default: latest)."""
    from riskmgr.risk.emergency.feature import service as emergency_service

    runtime = current_runtime()
    seq = opt_int(request.args, "seq", 1, 2**31 - 1)
    view = emergency_service(runtime).view(seq)
    closes = [
        {"account": o["account"], "symbol": o["symbol"], "side": o["side"], "client_id": o["client_id"],
         "at": o["at"]} | close_result(runtime, o["account"], o["client_id"])
        for o in view["orders"] if o["action"] == "close" and o["ok"] and o["client_id"]
    ]
    return jsonify(id=view["id"], closes=closes)
