"""``flask trades list`` and ``flask trades export --csv FILE``: the journal from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from flask.cli import AppGroup

from riskmgr.app.runtime import current_runtime
from riskmgr.core.domain import ZERO
from riskmgr.core.errors import RiskmgrError
from riskmgr.core.formatting import dec
from riskmgr.journal.export import journal_csv, journal_dict
from riskmgr.journal.filters import parse_filter
from riskmgr.journal.service import Journal, JournalService

trades_cli = AppGroup("trades", help="The trade journal: closed trades, their P&L and exit reasons.")


def _filters(func):
    options = [
        click.option("--account", help="Only this account."),
        click.option("--symbol", help="Only this symbol, e.g. BTC/USDT:USDT."),
        click.option("--side", help="long or short."),
        click.option("--reason", help="Exit reason: stop, target, manual, emergency, liquidation, signal, risk, "
                                      "unknown."),
        click.option("--from", "since", help="ISO 8601 start (default: 30 days before --to)."),
        click.option("--to", "until", help="ISO 8601 end (default: now)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _load(**given: str | None) -> Journal:
    runtime = current_runtime()
    service = runtime.feature(JournalService)
    args = {"account": given["account"], "symbol": given["symbol"], "side": given["side"],
            "reason": given["reason"], "from": given["since"], "to": given["until"]}
    try:
        flt = parse_filter({k: v for k, v in args.items() if v is not None}, service.accounts(), runtime.clock.now())
    except RiskmgrError as exc:
        raise click.ClickException(str(exc)) from None
    return service.journal(flt)


def _tz() -> ZoneInfo:
    return ZoneInfo(current_runtime().settings.display_timezone)


@trades_cli.command("list")
@_filters
@click.option("--json", "as_json", is_flag=True, help="Print trades, account status and statistics as JSON.")
def list_trades(as_json: bool, **given: str | None) -> None:
    """List closed trades, newest first, with the totals; say which accounts' history could not be read."""
    journal = _load(**given)
    tz = _tz()
    if as_json:
        click.echo(json.dumps(journal_dict(journal, tz, current_runtime().clock.now()), indent=2))
        return
    for t in journal.trades:
        pct = f" ({t.pnl_pct:.2f} %)" if t.pnl_pct is not None else ""
        exit_price = dec(t.exit_price) if t.exit_price is not None else "unknown"
        click.echo(f"{t.exit_time.astimezone(tz):%Y-%m-%d %H:%M:%S} {tz.key}  {t.account}  {t.symbol or 'unknown'} "
                   f"{t.side or 'unknown'}  exit {exit_price}  P&L {dec(t.realized_pnl)} USDT{pct}  {t.exit_reason}")
    total = sum((t.realized_pnl for t in journal.trades), ZERO)
    click.echo(f"{len(journal.trades)} trade(s), realized P&L {dec(total)} USDT")
    _warn_unavailable(journal)


@trades_cli.command("export")
@_filters
@click.option("--csv", "path", required=True, type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Write the trades to this CSV file.")
def export_trades(path: Path, **given: str | None) -> None:
    """Write the closed trades to a CSV file (times in DISPLAY_TIMEZONE)."""
    journal = _load(**given)
    path.write_text(journal_csv(journal, _tz()), encoding="utf-8")
    click.echo(f"wrote {len(journal.trades)} trade(s) to {path}")
    _warn_unavailable(journal)


def _warn_unavailable(journal: Journal) -> None:
    for a in journal.accounts:
        if not a.available:
            since = a.unavailable_since.isoformat() if a.unavailable_since else "unknown"
            click.echo(f"warning: {a.account}: history unavailable since {since} — {a.reason}", err=True)
