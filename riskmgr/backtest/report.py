"""A run's result as stored and served: statistics, rule denials, account events, charts and trades.

The equity and price charts are thinned to at most ``CHART_POINTS`` points by keeping, in each bucket of bars,
the lowest and the highest value (so a drawdown or a spike never disappears from the picture); the statistics
are computed on every bar before that. Trades are kept in full as compact rows.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from typing import Any

import numpy as np

from riskmgr.backtest.outcome import Outcome
from riskmgr.backtest.stats import compute_stats
from riskmgr.clock import from_ms

CHART_POINTS = 2000
MARKER_TRADES = 1500  # trades whose entry and exit are drawn on the price chart
EVENTS_KEPT = 500
TRADE_COLUMNS = ("n", "side", "entry_time", "entry_price", "qty", "exit_time", "exit_price", "exit_reason",
                 "gross_pnl", "fees", "funding", "net_pnl", "stop_loss", "take_profit", "bars")
SUMMARY_KEYS = ("total_return_pct", "max_drawdown_pct", "sharpe", "trades", "win_rate_pct", "final_equity")


def build_result(o: Outcome, data_info: dict[str, Any]) -> dict[str, Any]:
    """Return the JSON result of a finished run."""
    stats = compute_stats(o)
    times = o.ts[o.first_bar:] + o.bar_ms
    equity = o.equity[o.first_bar:]
    peak = np.maximum(np.maximum.accumulate(equity), float(o.capital))
    drawdown = np.where(peak > 0, (peak - equity) / np.where(peak > 0, peak, 1) * 100, 0.0)
    return {
        "stats": stats,
        "denials": denial_rows(o),
        "events": [{"at": from_ms(e.ms).isoformat(), "kind": e.kind, "message": e.message}
                   for e in o.events[:EVENTS_KEPT]],
        "events_total": len(o.events),
        "event_counts": dict(Counter(e.kind for e in o.events)),
        "open_position": o.open_position,
        "curve": _thin(times, {"equity": equity, "drawdown_pct": drawdown}, pick="equity"),
        "price": _thin(times, {"close": o.close[o.first_bar:]}, pick="close"),
        "markers": _markers(o),
        "trades": {"columns": list(TRADE_COLUMNS), "rows": [[r[c] for c in TRADE_COLUMNS] for r in o.trades.rows()]},
        "data": data_info,
    }


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """Return the headline figures shown in the list of runs."""
    return {k: result["stats"].get(k) for k in SUMMARY_KEYS}


def denial_rows(o: Outcome) -> list[dict[str, Any]]:
    """Return how often each rule or gate turned a signal down, most frequent first."""
    rows = [
        {"rule": rule, "count": c.count, "first_reason": c.first_reason, "first_at": from_ms(c.first_ms).isoformat()}
        for rule, c in o.denials.items()
    ]
    return sorted(rows, key=lambda r: (-r["count"], r["rule"]))


def _thin(times: np.ndarray, series: dict[str, np.ndarray], pick: str) -> dict[str, list[Any]]:
    """Return at most CHART_POINTS points: per bucket the bars of the lowest and the highest ``pick`` value."""
    n = times.shape[0]
    if n <= CHART_POINTS:
        index = np.arange(n)
    else:
        buckets = CHART_POINTS // 2
        edges = np.linspace(0, n, buckets + 1).astype(np.int64)
        values = series[pick]
        lows = np.minimum.reduceat(values, edges[:-1])
        highs = np.maximum.reduceat(values, edges[:-1])
        index = np.unique(np.concatenate((
            _position_of(values, edges, lows), _position_of(values, edges, highs), [n - 1],
        )))
    out: dict[str, list[Any]] = {"t": times[index].tolist()}
    for name, values in series.items():
        out[name] = np.round(values[index], 8).tolist()
    return out


def _position_of(values: np.ndarray, edges: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Return, per bucket, the first bar whose value is the bucket's ``wanted`` value."""
    bucket = np.repeat(np.arange(len(edges) - 1), np.diff(edges))
    hit = np.flatnonzero(values == wanted[bucket])
    first = np.unique(bucket[hit], return_index=True)[1]
    return hit[first]


def _markers(o: Outcome) -> dict[str, Any]:
    t = o.trades
    shown = min(len(t), MARKER_TRADES)
    return {
        "entries": [{"t": t.entry_ms[k], "price": float(t.entry_price[k]), "side": t.side[k], "n": k + 1}
                    for k in range(shown)],
        "exits": [{"t": t.exit_ms[k], "price": float(t.exit_price[k]), "reason": t.reason[k], "n": k + 1}
                  for k in range(shown)],
        "shown": shown,
        "total": len(t),
    }


def trades_page(result: dict[str, Any], offset: int, limit: int) -> dict[str, Any]:
    """Return some of the stored trades as dictionaries, with the total."""
    table = result["trades"]
    rows = table["rows"][offset: offset + limit]
    return {"total": len(table["rows"]), "offset": offset,
            "rows": [dict(zip(table["columns"], row, strict=True)) for row in rows]}


def trades_csv(result: dict[str, Any]) -> str:
    """Return every trade as CSV text (a header line, then one line per trade)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(result["trades"]["columns"])
    writer.writerows(result["trades"]["rows"])
    return out.getvalue()


def equity_csv(result: dict[str, Any]) -> str:
    """Return the charted equity points (time, equity, drawdown %) as CSV text."""
    curve = result["curve"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("time", "equity", "drawdown_pct"))
    for t, e, d in zip(curve["t"], curve["equity"], curve["drawdown_pct"], strict=True):
        writer.writerow((from_ms(t).isoformat(), e, d))
    return out.getvalue()
