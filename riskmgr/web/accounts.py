"""The Accounts page and its API: every account's figures and status, the sum across them, the stop-loss
watchdog's unprotected positions, and the exchange self-test button (``POST /api/accounts/<name>/selftest``)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flask import Blueprint, g, jsonify, render_template, request

from riskmgr.accounts import services
from riskmgr.accounts.registry import run_selftest
from riskmgr.accounts.watchdog import UNIFIED_SYMBOL, watchdog
from riskmgr.app.runtime import current_runtime
from riskmgr.core.errors import ValidationError
from riskmgr.core.validation import SYMBOL_MAX, json_object, opt_str

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime

NAV = (("accounts.page", "Accounts"),)


def accounts_view(runtime: Runtime) -> dict[str, Any]:
    """Describe every account (no secret is part of any of it), the sum across them and the watchdog."""
    picture = services.snapshot_view(runtime)
    now = runtime.clock.now()
    dog = watchdog(runtime)
    unprotected = dog.unprotected()
    per_account = Counter(u["account"] for u in unprotected)
    keep = ("name", "exchange", "mode", "simulated", "status", "fetched_at", "attempted_at", "stale_since", "error",
            "equity", "available", "margin_used", "unrealized_pnl", "day_pnl", "equity_estimated", "equity_formula")
    accounts = [{
        **{k: a[k] for k in keep},
        "data_age_seconds": round((now - datetime.fromisoformat(a["fetched_at"])).total_seconds())
        if a["fetched_at"] else None,
        "positions": len(a["positions"]), "unprotected": per_account[a["name"]],
    } for a in picture["accounts"]]
    s = dog.settings
    return {
        "generated_at": picture["generated_at"], "trading_state": picture["trading_state"], "accounts": accounts,
        "totals": picture["totals"], "unprotected": unprotected,
        "watchdog": {"counts": dog.counts(), "policy": runtime.limits().unprotected_policy,
                     "escalate_after": s.escalate_after, "require_take_profit": s.require_take_profit},
        "selftest": {"symbol": s.selftest_symbol, "distance_pct": str(s.selftest_distance_pct)},
    }


bp = Blueprint("accounts", __name__)


@bp.get("/accounts")
def page():
    runtime = current_runtime()
    return render_template("accounts.html", poll_seconds=runtime.settings.poll_seconds,
                           selftest=watchdog(runtime).settings)


@bp.get("/api/accounts")
def api_accounts():
    return jsonify(accounts_view(current_runtime()))


@bp.post("/api/accounts/<name>/selftest")
def api_selftest(name: str):
    runtime = current_runtime()
    settings = watchdog(runtime).settings
    symbol = opt_str(json_object(request, optional=True), "symbol", max_len=SYMBOL_MAX) or settings.selftest_symbol
    if not UNIFIED_SYMBOL.match(symbol):
        raise ValidationError("symbol", f"{symbol!r} is not a unified perpetual symbol such as BTC/USDT:USDT")
    report = run_selftest(runtime, name, actor=getattr(g, "actor", "operator"), symbol=symbol,
                          distance_pct=settings.selftest_distance_pct)
    return jsonify(report.as_dict())
