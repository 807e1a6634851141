"""``flask exchanges selftest ACCOUNT`` (the exchange capability self-test) and ``flask watchdog status``."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from riskmgr.accounts.registry import run_selftest
from riskmgr.accounts.watchdog import watchdog
from riskmgr.app.runtime import current_runtime
from riskmgr.core.errors import ValidationError

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
