"""The ``flask`` command line: each command is a thin shell over the services, exit code 0 or 1 with a reason."""

from __future__ import annotations

import contextlib
import json
import signal
import threading
from typing import NoReturn

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from riskmgr.accounts import services
from riskmgr.app.runtime import current_runtime
from riskmgr.core.errors import RiskmgrError

risk_cli = AppGroup("risk", help="Trading state and risk controls.")
scheduler_cli = AppGroup("scheduler", help="Background jobs (polling, paper matching).")


def fail(message: str) -> NoReturn:
    """Print a one-line reason and exit non-zero."""
    raise click.ClickException(message)


@risk_cli.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the full snapshot and risk view as JSON.")
def risk_status(as_json: bool) -> None:
    """Show the trading state, each account's status and equity, the limits in force and each rule's headroom."""
    from riskmgr.risk.views import risk_view

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


@scheduler_cli.command("run")
def scheduler_run() -> None:
    """Run the background jobs in the foreground (for a separate worker process); Ctrl-C stops."""
    from riskmgr.app.scheduler import start_background_jobs, stop_background_jobs

    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]  # a LocalProxy method: Flask types current_app as the app
    start_background_jobs(app)
    if current_runtime().background.scheduler is None:
        click.echo("another process holds the scheduler lock; waiting to take over")
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is the normal way to stop
            done.wait()
    finally:
        stop_background_jobs(app)


def register_cli(app: Flask) -> None:
    """Attach the command groups to the app."""
    app.cli.add_command(risk_cli)
    app.cli.add_command(scheduler_cli)
