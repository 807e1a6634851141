"""The journal as JSON (for the API and the page) and as CSV (times in the display time zone, zone named)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from riskmgr.core.formatting import dec
from riskmgr.journal.service import Journal
from riskmgr.journal.stats import summary
from riskmgr.journal.trades import EXIT_REASONS

CSV_COLUMNS = ("account", "exchange", "symbol", "side", "entry_time", "entry_price", "exit_time", "exit_price",
               "qty", "realized_pnl_usdt", "pnl_pct", "fees_usdt", "funding_usdt", "duration_seconds",
               "exit_reason", "exit_detail", "signal", "pnl_basis", "id")
UNKNOWN_TEXT = "unknown"


def journal_dict(journal: Journal, tz: ZoneInfo, now: datetime) -> dict[str, Any]:
    """Return the whole journal view: filter, per-account history status, trades and aggregations."""
    return {
        "generated_at": now.isoformat(), "display_timezone": tz.key, "filter": journal.filter.to_dict(),
        "complete": journal.complete, "accounts": [a.to_dict() for a in journal.accounts],
        "exit_reasons": EXIT_REASONS,
        "trades": [t.to_dict() for t in journal.trades],
        "stats": summary(journal.trades, tz),
    }


def _time(value: datetime | None, tz: ZoneInfo) -> str:
    return value.astimezone(tz).isoformat() if value is not None else UNKNOWN_TEXT


def journal_csv(journal: Journal, tz: ZoneInfo) -> str:
    """Return the trades as CSV; a figure the source does not report is written as "unknown", never 0."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([f"{c} ({tz.key})" if c.endswith("_time") else c for c in CSV_COLUMNS])
    for t in journal.trades:
        known = {
            "entry_price": dec(t.entry_price), "exit_price": dec(t.exit_price), "qty": dec(t.qty),
            "pnl_pct": dec(t.pnl_pct), "fees_usdt": dec(t.fees), "funding_usdt": dec(t.funding),
            "duration_seconds": None if t.duration_seconds is None else str(t.duration_seconds),
        }
        row = {
            "account": t.account, "exchange": t.exchange, "symbol": t.symbol or UNKNOWN_TEXT,
            "side": t.side or UNKNOWN_TEXT, "entry_time": _time(t.entry_time, tz),
            "exit_time": _time(t.exit_time, tz), "realized_pnl_usdt": dec(t.realized_pnl),
            "exit_reason": t.exit_reason, "exit_detail": t.exit_detail,
            "signal": t.signal.key if t.signal else "", "pnl_basis": t.pnl_basis, "id": t.id,
        } | {k: UNKNOWN_TEXT if v is None else v for k, v in known.items()}
        writer.writerow([_safe(row[c]) for c in CSV_COLUMNS])
    for a in journal.accounts:
        if not a.available:  # the file must not read as complete when an account's history is missing
            since = a.unavailable_since.isoformat() if a.unavailable_since else UNKNOWN_TEXT
            writer.writerow([_safe(f"# {a.account}: history unavailable since {since} — {a.reason}")])
    return out.getvalue()


def _safe(value: Any) -> str:
    """Keep a spreadsheet from running a cell as a formula (a leading = + - @ in text that is not a number)."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "@") or (text[:1] == "-" and not _numeric(text)):
        return "'" + text
    return text


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
