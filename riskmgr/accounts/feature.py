"""The stop-loss watchdog feature as ``riskmgr.app.features`` lists it: the Accounts page, its API, the exchange
self-test (page button and ``flask exchanges selftest``) and ``flask watchdog status``. The watchdog itself is
``accounts.watchdog``.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click
from flask import Blueprint, g, jsonify, render_template, request
from flask.cli import AppGroup

from riskmgr.accounts import services
from riskmgr.accounts.registry import run_selftest
from riskmgr.accounts.watchdog import (
    NAME,
    UNIFIED_SYMBOL,
    ProtectionWatchdog,
    install,
    poll_hook,
    settings_from_env,
    watchdog,
)
from riskmgr.app.runtime import current_runtime
from riskmgr.core.errors import ValidationError
from riskmgr.core.feature import Feature
from riskmgr.core.validation import SYMBOL_MAX, json_object, opt_str

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime

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


exchanges_cli = AppGroup("exchanges", help="Exchange accounts: the capability self-test.")
watchdog_cli = AppGroup("watchdog", help="The stop-loss watchdog.")


@exchanges_cli.command("selftest")
@click.argument("account")
@click.option("--symbol", default=None, help="Contract to test on (default SELFTEST_SYMBOL).")
def selftest_command(account: str, symbol: str | None) -> None:
    """Place a far-away order of the smallest size, read it back, cancel it; report each step."""
    runtime = current_runtime()
    settings = watchdog(runtime).settings
    try:
        report = run_selftest(runtime, account, actor="cli", symbol=symbol or settings.selftest_symbol,
                              distance_pct=settings.selftest_distance_pct)
    except ValidationError as exc:
        raise click.ClickException(str(exc)) from None
    for step in report.steps:
        click.echo(f"{'ok  ' if step.ok else 'FAIL'} {step.name:<18} {step.ms:>6} ms  {step.detail}")
    for item in report.left_behind:
        click.echo(f"LEFT BEHIND: {item}")
    if not report.ok:
        raise click.ClickException(f"self-test of {account} FAILED")
    click.echo(f"self-test of {account} ({report.exchange}, {report.mode}) passed")


@watchdog_cli.command("status")
def watchdog_status() -> None:
    """List unprotected positions (with how long) and the watchdog's counts."""
    dog = watchdog(current_runtime())
    for u in dog.unprotected():
        click.echo(f"{u['account']:<12} {u['side']:<5} {u['symbol']:<16} no {u['missing']} for {u['seconds']} s, "
                   f"{u['failures']} failed attempt(s); {u['last_result'] or 'not tried yet'}")
    click.echo(" ".join(f"{k}={v}" for k, v in dog.counts().items()))


FEATURE = Feature(name=NAME, install=install, provides=(ProtectionWatchdog,), blueprint=bp,
                  nav=(("accounts.page", "Accounts"),), poll_hook=poll_hook, cli=(exchanges_cli, watchdog_cli),
                  settings_from_env=settings_from_env)
