"""CLI: ``flask positions move-stop|move-target|partial-close|close``, ``flask orders cancel``,
``flask accounts pause|resume|auto-trading``; exit 0 when done, 1 with the reason otherwise."""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

import click
from flask.cli import AppGroup

from riskmgr.app.runtime import current_runtime
from riskmgr.controls.service import controls, pause_entries, switches, switches_view
from riskmgr.core.domain import PositionSide
from riskmgr.core.errors import ExchangeError, ValidationError

positions_cli = AppGroup("positions", help="Open positions: move stop / target, partial close, close.")
orders_cli = AppGroup("orders", help="Open orders: cancel one.")
accounts_cli = AppGroup("accounts", help="Per-account switches: pause new entries, auto-trading.")
ACTOR = "cli"
SIDE = click.Choice(["long", "short"])


def _decimal(value: str | None, field: str) -> Decimal | None:
    if value is None:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise click.ClickException(f"{field}: {value!r} is not a number") from None
    if not number.is_finite() or number <= 0:
        raise click.ClickException(f"{field}: {value} must be a number above 0")
    return number


def _account(name: str) -> str:
    runtime = current_runtime()
    if name not in runtime.accounts:
        raise click.ClickException(f"account: {name!r} is not configured; configured: {', '.join(runtime.accounts)}")
    return name


def _run(call: Any) -> None:
    """Run one control and print its outcome; a refusal or an error exits 1 with the reason."""
    try:
        outcome = call()
    except ValidationError as exc:
        raise click.ClickException(str(exc)) from None
    except ExchangeError as exc:
        raise click.ClickException(exc.describe()) from None
    if not outcome.accepted:
        raise click.ClickException(outcome.message)
    click.echo(outcome.message)


@positions_cli.command("move-stop")
@click.argument("account")
@click.argument("symbol")
@click.argument("side", type=SIDE)
@click.option("--stop", "stop", default=None, help="The new stop price.")
@click.option("--break-even", is_flag=True, help="Move the stop to the entry price plus costs.")
@click.option("--target", default=None, help="Also move the take-profit to this price.")
def move_stop(account: str, symbol: str, side: str, stop: str | None, break_even: bool, target: str | None) -> None:
    """Move the stop-loss (and optionally the target) of one open position; widening is judged like new risk."""
    _run(lambda: controls(current_runtime()).move_protection(
        _account(account), symbol, PositionSide(side), stop_loss=_decimal(stop, "stop"),
        take_profit=_decimal(target, "target"), break_even=break_even, actor=ACTOR, intent_id=str(uuid.uuid4())))


@positions_cli.command("move-target")
@click.argument("account")
@click.argument("symbol")
@click.argument("side", type=SIDE)
@click.argument("target")
def move_target(account: str, symbol: str, side: str, target: str) -> None:
    """Move the take-profit of one open position (its stop stays)."""
    _run(lambda: controls(current_runtime()).move_protection(
        _account(account), symbol, PositionSide(side), stop_loss=None, take_profit=_decimal(target, "target"),
        break_even=False, actor=ACTOR, intent_id=str(uuid.uuid4())))


@positions_cli.command("partial-close")
@click.argument("account")
@click.argument("symbol")
@click.argument("side", type=SIDE)
@click.option("--percent", default=None, help="Share of the position to close, 1–100.")
@click.option("--qty", default=None, help="Quantity to close (rounded down to the lot step).")
def partial_close(account: str, symbol: str, side: str, percent: str | None, qty: str | None) -> None:
    """Close part of one position at market, reduce-only; its stop keeps covering the rest."""
    pct = _decimal(percent, "percent")
    if pct is not None and not 1 <= pct <= 100:
        raise click.ClickException(f"percent: {percent} is out of range; allowed 1–100")
    _run(lambda: controls(current_runtime()).partial_close(
        _account(account), symbol, PositionSide(side), percent=pct, qty=_decimal(qty, "qty"), actor=ACTOR,
        intent_id=str(uuid.uuid4())))


@positions_cli.command("close")
@click.argument("account")
@click.argument("symbol")
@click.argument("side", type=SIDE)
def close(account: str, symbol: str, side: str) -> None:
    """Close one whole position at market; print its fill price and realized P&L where known."""
    _run(lambda: controls(current_runtime()).close(_account(account), symbol, PositionSide(side), actor=ACTOR,
                                                   intent_id=str(uuid.uuid4())))


@orders_cli.command("cancel")
@click.argument("account")
@click.argument("order_id")
def cancel(account: str, order_id: str) -> None:
    """Cancel one open order (the last stop-loss of an open position is refused)."""
    _run(lambda: controls(current_runtime()).cancel(_account(account), order_id, actor=ACTOR))


@accounts_cli.command("pause")
@click.argument("account")
@click.option("--reason", default="", help="Why (recorded in the audit log).")
def pause(account: str, reason: str) -> None:
    """Pause new entries on one account (closes, stop moves and cancels still work)."""
    view = pause_entries(current_runtime(), _account(account), True, reason=reason, by=ACTOR)
    cancelled = view["entries_cancelled"]
    click.echo(f"new entries on {account} paused; {len(cancelled['cancelled'])} resting entry order(s) cancelled"
               + (f", {len(cancelled['failed'])} NOT cancelled" if cancelled["failed"] else ""))


@accounts_cli.command("resume")
@click.argument("account")
@click.option("--reason", default="", help="Why (recorded in the audit log).")
def resume(account: str, reason: str) -> None:
    """Allow new entries on one account again."""
    pause_entries(current_runtime(), _account(account), False, reason=reason, by=ACTOR)
    click.echo(f"new entries on {account} resumed")


@accounts_cli.command("auto-trading")
@click.argument("account")
@click.argument("state", type=click.Choice(["on", "off", "default"]))
@click.option("--reason", default="", help="Why (recorded in the audit log).")
def auto_trading(account: str, state: str, reason: str) -> None:
    """Switch auto-trading on or off for one account ("default": back to AUTO_TRADE_PAPER / AUTO_TRADE_LIVE)."""
    runtime = current_runtime()
    switches(runtime).set_auto_trading(_account(account), {"on": True, "off": False, "default": None}[state],
                                       reason=reason, by=ACTOR)
    view = next(v for v in switches_view(runtime) if v["account"] == account)
    click.echo(f"auto-trading on {account}: {'on' if view['auto_trading'] else 'off'} ({view['auto_trading_reason']})")


@accounts_cli.command("controls")
def show() -> None:
    """Show every account's switches and whether auto-trading acts for it."""
    for v in switches_view(current_runtime()):
        paused = "PAUSED" if v["entries_paused"] else "allowed"
        click.echo(f"{v['account']:<16} entries {paused:<8} auto-trading {'on' if v['auto_trading'] else 'off'} "
                   f"({v['auto_trading_reason']})")


