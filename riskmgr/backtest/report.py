"""A run's result as stored and served: statistics, rule denials, account events, charts and trades.

The equity and price charts are thinned to at most ``CHART_POINTS`` points by keeping, in each bucket of bars,
the lowest and the highest value (so a drawdown or a spike never disappears from the picture); the statistics
are computed on every bar before that. Trades are kept in full as compact rows. The equity at every bar's close
is kept too, compressed (``series``: close times and float64 equity, zlib and base64), for the equity CSV
export, which has one row per bar; it is left out of the run's JSON views.
"""

from __future__ import annotations

import base64
import csv
import io
import zlib
from collections import Counter
from typing import Any

import numpy as np

from riskmgr.backtest.outcome import Outcome
from riskmgr.backtest.stats import compute_stats
from riskmgr.core.clock import from_ms

CHART_POINTS = 2000
MARKER_TRADES = 1500  # trades whose entry and exit are drawn on the price chart
EVENTS_KEPT = 500
TRADE_COLUMNS = ("n", "side", "entry_time", "entry_price", "qty", "exit_time", "exit_price", "exit_reason",
                 "gross_pnl", "fees", "funding", "net_pnl", "stop_loss", "take_profit", "bars")
SERIES_KEY = "series"
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
        SERIES_KEY: {"t": _pack(times.astype(np.int64)), "equity": _pack(equity.astype(np.float64))},
    }


def _pack(values: np.ndarray) -> str:
    return base64.b64encode(zlib.compress(values.tobytes(), 1)).decode("ascii")


def _unpack(text: str, dtype: type) -> np.ndarray:
    return np.frombuffer(zlib.decompress(base64.b64decode(text)), dtype=dtype)


def public(result: dict[str, Any]) -> dict[str, Any]:
    """Return the result without the compressed per-bar series (only the equity export reads it)."""
    return {k: v for k, v in result.items() if k != SERIES_KEY}


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
    """Return the equity at every bar's close (time, equity, drawdown %) as CSV text, one row per bar.

    A run stored before the per-bar series was kept exports its charted points instead.
    """
    series = result.get(SERIES_KEY)
    if series is None:
        curve = result["curve"]
        times, equity = np.array(curve["t"], dtype=np.int64), np.array(curve["equity"], dtype=np.float64)
        drawdown = np.array(curve["drawdown_pct"], dtype=np.float64)
    else:
        times, equity = _unpack(series["t"], np.int64), _unpack(series["equity"], np.float64)
        peak = np.maximum(np.maximum.accumulate(equity), float(result["stats"]["capital"]))
        drawdown = np.where(peak > 0, (peak - equity) / np.where(peak > 0, peak, 1) * 100, 0.0)
    stamps = np.datetime_as_string(times.astype("datetime64[ms]"), unit="s").tolist()
    rows = (f"{t}+00:00,{e!r},{d!r}" for t, e, d in
            zip(stamps, equity.tolist(), np.round(drawdown, 8).tolist(), strict=True))
    return "time,equity,drawdown_pct\n" + "".join(f"{row}\n" for row in rows)
