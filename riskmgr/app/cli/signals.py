"""``flask data fetch`` (the candle store) and ``flask signals scan``: one line of reason and exit 1 on failure."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from riskmgr.app.cli.base import fail
from riskmgr.app.runtime import current_runtime
from riskmgr.candles.store import CandleDataError, CandleStore, FetchReport
from riskmgr.core.errors import ExchangeError, ValidationError
from riskmgr.core.validation import opt_time
from riskmgr.scanner.core import Scanner
from riskmgr.scanner.views import normalize_symbol

data_cli = AppGroup("data", help="Market data: the candle store.")
signals_cli = AppGroup("signals", help="The signal scanner.")


def _report_lines(report: FetchReport) -> list[str]:
    lines = [f"{report.source} {report.symbol} {report.timeframe} from {report.start.isoformat()}: "
             f"{report.fetched} new bar(s) stored, {report.already_stored} already stored, "
             f"{report.requests} request(s), {report.received} row(s) received"]
    if report.note:
        lines.append(report.note)
    lines.append(f"gaps found: {report.gaps_found}, repaired: {report.gaps_repaired}")
    lines += [f"  {gap.describe()}" for gap in report.gaps]
    if report.duplicates or report.out_of_order or report.conflicts:
        lines.append(f"duplicates dropped: {report.duplicates}, rows out of order: {report.out_of_order}, "
                     f"conflicting duplicates refused: {report.conflicts}")
    lines += [f"refused: {text}" for text in report.rejected]
    if report.history_starts:
        lines.append(f"the exchange has no bars before {report.history_starts.isoformat()}")
    if report.not_yet_published:
        lines.append(f"{report.not_yet_published} closed bar(s) at the end are not published by the exchange yet")
    return lines


@data_cli.command("fetch")
@click.argument("source")
@click.argument("symbol")
@click.argument("timeframe")
@click.option("--since", required=True, help="First bar to fetch, ISO 8601 (e.g. 2026-01-01T00:00:00Z; no zone = UTC).")
def data_fetch(source: str, symbol: str, timeframe: str, since: str) -> None:
    """Fetch the closed bars of SYMBOL on SOURCE not stored yet (incremental), repairing gaps."""
    store = current_runtime().feature(CandleStore)
    try:
        start = opt_time({"since": since}, "since")
        report = store.fetch(source, normalize_symbol(symbol), timeframe, start)  # type: ignore[arg-type]  # --since is required, so never None
    except ValidationError as exc:
        fail(str(exc))
    except ExchangeError as exc:
        fail(f"{source}: {exc.describe()}")
    for line in _report_lines(report):
        click.echo(line)
    if report.unrepaired:
        fail(f"{len(report.unrepaired)} gap(s) could not be repaired; the series is not usable until they are")


@signals_cli.command("scan")
@click.option("--auto-trade/--no-auto-trade", default=False, show_default=True,
              help="Let auto-trading act on this scan (as the scheduled scan does).")
def signals_scan(auto_trade: bool) -> None:
    """Run one scan and print the ranked signals, the dropped ones and why symbols had none."""
    scanner = current_runtime().feature(Scanner)
    try:
        view = scanner.scan(trigger="cli", auto_trade=auto_trade)
    except (CandleDataError, ValidationError) as exc:
        fail(str(exc))
    label = "DEMO / SIMULATED market" if view["simulated"] else f"{view['source']} market data"
    click.echo(f"scan of {view['symbols']} symbol(s), {view['timeframe']} bars, {label}, at {view['started_at']}")
    if view["error"]:
        fail(view["error"])
    click.echo(f"{len(view['signals'])} actionable signal(s):" if view["signals"] else "no actionable signal")
    for s in view["signals"]:
        click.echo(f"  #{s['rank']} {s['symbol']:<16} {s['side']:<5} quality {s['quality']['score']:>6} "
                   f"confidence {s['confidence']:>3}  entry {s['entry']} stop {s['stop']} target {s['target']} "
                   f"(R:R {s['reward_risk']})  {s['status']}")
    for s in view["dropped"]:
        click.echo(f"  dropped {s['symbol']} {s['side']}: {s['drop_reason']}")
    for row in view["errors"]:
        click.echo(f"  no data {row['symbol']}: {row['error']}")
    reasons: dict[str, int] = {}
    for row in view["rejected"]:
        reasons[row["text"]] = reasons.get(row["text"], 0) + 1
    for text, count in sorted(reasons.items(), key=lambda kv: -kv[1]):
        click.echo(f"  no signal on {count} symbol(s): {text}")
    if auto_trade:
        click.echo(f"auto-trading took {view['taken']} entr{'y' if view['taken'] == 1 else 'ies'}")


@signals_cli.command("plan")
@click.argument("symbol")
def signals_plan(symbol: str) -> None:
    """Say whether the latest scan's signal on SYMBOL can be traded by hand now, with re-centred levels."""
    from riskmgr.scanner.views import plan_view, scanned_symbol

    scanner = current_runtime().feature(Scanner)
    try:
        unified = scanned_symbol(scanner, symbol)
    except ValidationError as exc:
        fail(str(exc))
    row = plan_view(scanner, None, unified)
    if row is None:
        fail(f"no signal on {unified} in the latest scan (run `flask signals scan`)")
    now = row["now"]
    click.echo(f"{row['side']} {row['symbol']} signal of the bar closed {row['created_at']}, valid until "
               f"{row['valid_until']}: entry {row['entry']} stop {row['stop']} target {row['target']}")
    click.echo(f"recorded status: {row['status']} — {row['status_reason']}")
    verdict = "tradable now" if now["allowed"] else "not tradable now"
    until = f" (until {now['until']})" if now["until"] else ""
    click.echo(f"{verdict} (as of {now['as_of']}, positions as of {now['book_as_of'] or 'never read'}): "
               f"{now['reason']}{until}")
    if now["allowed"]:
        levels = now["levels"]
        click.echo(f"  {levels['message']}")
        click.echo(f"  order ticket: {now['url']}")
