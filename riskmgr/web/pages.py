"""HTML pages: thin views that call services and render templates."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, jsonify, render_template
from flask_login import current_user
from sqlalchemy import text

from riskmgr.app.runtime import current_runtime
from riskmgr.controls.service import banner
from riskmgr.core.labels import label_table
from riskmgr.persistence.extensions import db
from riskmgr.web.page_cache import render_page

bp = Blueprint("pages", __name__)

NAV = (("pages.dashboard", "Dashboard"), ("pages.trade", "Trade"))


@bp.app_context_processor
def _inject_banner() -> dict:
    """Give every page the banner: the trading state and the account switches' notes, read fresh for every page
    (a change shows on the very next one, whichever worker or command made it) in one select."""
    status, notes = banner(current_runtime()) if current_user.is_authenticated else (None, [])
    return {"trading_status": status, "account_switch_notes": notes}


@bp.record_once
def _constant_globals(state) -> None:
    """Give every page what is fixed while the app runs as Jinja globals, not context values, so no page pays
    for them per request: the display time zone, whether the market is the simulated one, and the
    one table of human labels for rule and limit names (read by static/js/format.js)."""
    runtime = state.app.extensions["riskmgr"]
    state.app.jinja_env.globals.update(
        display_tz=state.app.config["RISKMGR"].display_timezone,
        market_simulated=bool(getattr(runtime.market, "simulated", False)),
        rm_labels=label_table(),
    )


@bp.app_template_filter("fmt_time")
def _fmt_time(value: datetime | None) -> str:
    if value is None:
        return "—"
    tz = current_app.config["RISKMGR"].display_timezone
    return value.astimezone(ZoneInfo(tz)).strftime(f"%Y-%m-%d %H:%M:%S {tz}")


@bp.get("/health")
def health():
    """Answer whether the app and its database respond; no data, no auth."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # any database failure means "not healthy"; the detail goes to the log only
        current_app.logger.exception("health check: database did not answer")
        return jsonify(status="unavailable"), 503
    return jsonify(status="ok")


@bp.get("/")
def dashboard():
    return render_page("dashboard.html", poll_seconds=current_runtime().settings.poll_seconds)


@bp.get("/trade")
def trade():
    runtime = current_runtime()
    specs = runtime.market.specs()
    return render_template(
        "trade.html",
        accounts=runtime.paper_accounts(),
        symbols=sorted(specs),
        specs=specs,
        limits=runtime.limits(),
    )

