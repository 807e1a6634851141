"""``flask risk status|rearm|emergency-stop``: the trading state, each rule's headroom, re-arming, and flattening
every account now (following the sequence step by step)."""

from __future__ import annotations

import json
import time
from typing import Any

import click
from flask.cli import AppGroup

from riskmgr.accounts import services
from riskmgr.app.cli.base import fail
from riskmgr.app.runtime import current_runtime
from riskmgr.core.errors import RiskmgrError
from riskmgr.risk.emergency.feature import service
from riskmgr.risk.emergency.sequence import SEQUENCE
from riskmgr.risk.emergency.service import EmergencyService
from riskmgr.risk.overview import risk_view

risk_cli = AppGroup("risk", help="Trading state and risk controls.")
CLI_POLL_SECONDS = 0.1


@risk_cli.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the full snapshot and risk view as JSON.")
def risk_status(as_json: bool) -> None:
    """Show the trading state, each account's status and equity, the limits in force and each rule's headroom."""
    runtime = current_runtime()
    view = services.snapshot_view(runtime)
    risk = risk_view(runtime)
    if as_json:
        click.echo(json.dumps(view | {"risk": risk}, indent=2))
        return
    ts = view["trading_state"]
    click.echo(f"trading state: {ts['state']} ({ts['reason']})")
    for a in view["accounts"]:
        figures = f"equity {a['equity']} USDT" if a["equity"] is not None else "no figures"
        stale = f" — stale since {a['stale_since']}: {a['error']}" if a["status"] != "ok" else ""
        click.echo(f"{a['name']:<16} {a['exchange']:<10} {a['status']:<6} {figures}, "
                   f"{len(a['positions'])} position(s){stale}")
    _echo_totals(view["totals"])
    _echo_limits(risk)
    for account in risk["accounts"]:
        click.echo(f"rules on {account['account']}:")
        for row in account["rules"]:
            used = f"{row['used']} of {row['limit']}{' ' + row['unit'] if row['unit'] else ''}" if row["used"] else ""
            room = f", headroom {row['headroom']} {row['headroom_unit']}" if row["headroom"] is not None else ""
            click.echo(f"  {row['label']:<20} {row['status']:<9} {used}{room} — {row['detail']}")


def _echo_totals(t: dict) -> None:
    """Print the sum across accounts with what it covers (never called complete when an account is left out)."""
    if not t["accounts_included"]:
        click.echo(f"all accounts: no sum — no account has current figures ({t['coverage']})")
        return
    day = f"{t['day_pnl']} USDT" if t["day_pnl"] is not None else "unknown"
    day_note = "" if t["day_pnl_complete"] else (
        " (over " + ", ".join(t["day_pnl_accounts"]) + "; excludes "
        + ", ".join(f"{e['name']}: {e['reason']}" for e in t["day_pnl_excluded"]) + ")")
    click.echo(f"all accounts: equity {t['equity']} USDT, today's P&L {day}{day_note} — {t['coverage']}")


def _echo_limits(risk: dict) -> None:
    if risk["limits_error"]:
        click.echo(f"limits: {risk['limits_error']}")
        return
    click.echo("limits in force:")
    for row in risk["fields"]:
        unit = f" {row['unit']}" if row["unit"] and row["type"] in ("decimal", "int") else ""
        changed = f" (changed; environment {row['environment']})" if row["changed"] else ""
        click.echo(f"  {row['name']:<30} {row['value']}{unit}{changed}")


@risk_cli.command("rearm")
@click.option("--reason", required=True, help="Why it is safe to trade again (recorded in the audit log).")
def risk_rearm(reason: str) -> None:
    """Leave HALTED or REDUCING and return to ACTIVE."""
    try:
        previous = current_runtime().trading.rearm(reason, "cli")
    except RiskmgrError as exc:
        fail(str(exc))
    click.echo(f"re-armed: {previous} -> ACTIVE")


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
