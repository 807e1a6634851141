"""``flask backtest ...``: run a backtest from a preset and print its statistics; list the presets.

Bad input exits with status 1 and a one-line reason naming the setting.
"""

from __future__ import annotations

import json
from typing import Any

import click
from flask.cli import AppGroup

from riskmgr.app.cli.base import fail
from riskmgr.app.runtime import current_runtime
from riskmgr.backtest.runs import DONE
from riskmgr.backtest.service import BacktestService
from riskmgr.backtest.stats import duration_text
from riskmgr.core.errors import RiskmgrError

backtest_cli = AppGroup("backtest", help="Backtests: run one from a preset, list the presets.")


def _service() -> BacktestService:
    return current_runtime().feature(BacktestService)

# option name -> setting name
_OPTIONS = {
    "symbol": "symbol", "timeframe": "timeframe", "start": "start", "end": "end", "timezone": "timezone",
    "capital": "capital", "source": "source", "dataset": "dataset_id", "taker_fee": "taker_fee_pct",
    "maker_fee": "maker_fee_pct", "slippage": "slippage_bps", "funding": "funding_pct_8h", "leverage": "leverage",
    "commission": "commission_pct", "sma_fast": "sma_fast", "sma_slow": "sma_slow", "entry_order": "entry_order",
    "rearm": "rearm",
}
_ROWS = (
    ("total return", "total_return_pct", " %"), ("CAGR", "cagr_pct", " %"), ("max drawdown", "max_drawdown_pct", " %"),
    ("Sharpe", "sharpe", ""), ("Sortino", "sortino", ""), ("Calmar", "calmar", ""), ("trades", "trades", ""),
    ("win rate", "win_rate_pct", " %"), ("profit factor", "profit_factor", ""), ("expectancy", "expectancy", " USDT"),
    ("exposure", "exposure_pct", " %"), ("longest losing streak", "longest_losing_streak", ""),
    ("fees paid", "fees_paid", " USDT"), ("final equity", "final_equity", " USDT"),
)


def _settings(preset: str, given: dict[str, Any], extra: tuple[str, ...]) -> dict[str, Any]:
    data: dict[str, Any] = {"preset": preset}
    for option, value in given.items():
        if value is not None:
            data[_OPTIONS[option]] = value
    for item in extra:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            fail(f"--set {item!r}: write KEY=VALUE, e.g. limits.max_drawdown_pct=8")
        group, dot, name = key.strip().partition(".")
        if dot:
            data.setdefault(group, {})
            if name.startswith("indicators."):
                data[group].setdefault("indicators", {})[name.split(".", 1)[1]] = value
            else:
                data[group][name] = value
        else:
            data[group] = value
    return data


@backtest_cli.command("run")
@click.option("--preset", required=True, help="conservative, balanced, aggressive, sma_reference, live_limits or a "
                                             "saved preset.")
@click.option("--symbol", help="e.g. BTC/USDT:USDT")
@click.option("--timeframe", help="1m, 5m, 15m, 1h, 4h, 1d, ...")
@click.option("--start", help="ISO 8601; without a zone, in --timezone. Default: 30 days before --end.")
@click.option("--end", help="ISO 8601. Default: the last whole bar.")
@click.option("--timezone", help="IANA zone for times without one (default DISPLAY_TIMEZONE).")
@click.option("--capital", help="Starting USDT.")
@click.option("--source", help="simulated, csv or a candle-store source such as binance.")
@click.option("--dataset", help="Uploaded CSV dataset id (with --source csv).")
@click.option("--taker-fee", help="Taker fee in percent (0.05 = 0.05 %).")
@click.option("--maker-fee", help="Maker fee in percent.")
@click.option("--slippage", help="Slippage in basis points.")
@click.option("--funding", help="Funding rate in percent per 8 hours.")
@click.option("--leverage", help="Leverage of the entries.")
@click.option("--commission", help="SMA reference commission in percent.")
@click.option("--sma-fast", help="SMA reference fast period.")
@click.option("--sma-slow", help="SMA reference slow period.")
@click.option("--entry-order", help="market or limit.")
@click.option("--rearm", help="never or next_day.")
@click.option("--set", "extra", multiple=True, help="Any other setting, e.g. limits.max_drawdown_pct=8 or "
                                                    "signal.adx_min=18 (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON.")
def run_command(preset: str, extra: tuple[str, ...], as_json: bool, **given: Any) -> None:
    """Run a backtest now and print its statistics (the run is stored and shows on the Backtests page)."""
    service = _service()
    try:
        run_id = service.run_now(_settings(preset, given, extra), "cli")
    except RiskmgrError as exc:
        fail(str(exc))
    row = service.runs.get(run_id)
    if row.status != DONE:
        fail(f"backtest #{run_id} failed: {row.error}")
    result = row.result
    if result is None:  # a finished run always stores its result; say so rather than print nothing
        fail(f"backtest #{run_id} finished without a stored result")
    if as_json:
        click.echo(json.dumps({"id": run_id, "stats": result["stats"], "denials": result["denials"]}, indent=2))
        return
    _print(run_id, row.params, result)


def _print(run_id: int, params: dict[str, Any], result: dict[str, Any]) -> None:
    stats, data = result["stats"], result["data"]
    click.echo(f"backtest #{run_id}: {params['strategy']} on {params['symbol']} {params['timeframe']} "
               f"({data['note']}), {stats['start']} – {stats['end']}, {stats['bars']} bars")
    for label, key, unit in _ROWS:
        value = stats.get(key)
        click.echo(f"  {label:<22} {'—' if value is None else f'{value}{unit}'}")
    click.echo(f"  {'max drawdown duration':<22} {duration_text(stats['max_drawdown_duration_s'])}")
    for note_key, note in stats["notes"].items():
        click.echo(f"  note ({note_key}): {note}")
    for row in result["denials"]:
        click.echo(f"  denied {row['count']:>6} x by {row['rule']}: {row['first_reason']}")
    for kind, count in sorted(result["event_counts"].items()):
        click.echo(f"  {kind:<22} {count} time(s)")


@backtest_cli.command("presets")
def presets_command() -> None:
    """List the built-in and saved presets."""
    from riskmgr.backtest.presets import builtin_presets

    runtime = current_runtime()
    for preset in builtin_presets(runtime):
        click.echo(f"{preset.name:<16} {preset.label}: {preset.description}")
    for saved in _service().presets.all():
        click.echo(f"{saved.name:<16} (saved) {saved.description}")
