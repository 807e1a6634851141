"""Journal aggregations, computed server side in Decimal: totals, P&L per day / week / month, the cumulative
P&L line and per-symbol performance. Periods are calendar periods in the display time zone."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from riskmgr.core.domain import ZERO
from riskmgr.core.formatting import dec
from riskmgr.journal.trades import HUNDRED, JournalTrade

PERIODS = ("day", "week", "month")


def _period_key(period: str) -> Callable[[datetime], str]:
    if period == "day":
        return lambda t: t.date().isoformat()
    if period == "week":  # the Monday that starts the ISO week
        return lambda t: (t.date() - timedelta(days=t.weekday())).isoformat()
    return lambda t: t.strftime("%Y-%m")


def _summary(trades: list[JournalTrade]) -> dict[str, Any]:
    wins = sum(1 for t in trades if t.realized_pnl > 0)
    losses = sum(1 for t in trades if t.realized_pnl < 0)
    fees = [t.fees for t in trades if t.fees is not None]
    funding = [t.funding for t in trades if t.funding is not None]
    pct = [t.pnl_pct for t in trades if t.pnl_pct is not None]
    pnls = [t.realized_pnl for t in trades]
    return {
        "trades": len(trades), "wins": wins, "losses": losses,
        "win_rate_pct": dec((Decimal(wins) / len(trades) * HUNDRED).quantize(Decimal("0.1"))) if trades else None,
        "realized_pnl": dec(sum(pnls, ZERO)),
        "best": dec(max(pnls)) if pnls else None, "worst": dec(min(pnls)) if pnls else None,
        "avg_pnl_pct": dec((sum(pct, ZERO) / len(pct)).quantize(Decimal("0.01"))) if pct else None,
        "avg_pnl_pct_over": len(pct),
        "fees": dec(sum(fees, ZERO)) if fees else None, "fees_known_for": len(fees),
        "funding": dec(sum(funding, ZERO)) if funding else None, "funding_known_for": len(funding),
    }


def periods(trades: Iterable[JournalTrade], period: str, tz: ZoneInfo) -> list[dict[str, Any]]:
    """Return realized P&L and trade counts per calendar ``period`` (day, week or month), oldest first."""
    key = _period_key(period)
    buckets: dict[str, list[JournalTrade]] = {}
    for trade in trades:
        buckets.setdefault(key(trade.exit_time.astimezone(tz)), []).append(trade)
    return [{"period": k, "realized_pnl": dec(sum((t.realized_pnl for t in v), ZERO)), "trades": len(v),
             "wins": sum(1 for t in v if t.realized_pnl > 0)} for k, v in sorted(buckets.items())]


def cumulative(trades: Iterable[JournalTrade]) -> list[dict[str, Any]]:
    """Return the running total of realized P&L after each close, oldest first."""
    total = ZERO
    points = []
    for trade in sorted(trades, key=lambda t: (t.exit_time, t.id)):
        total += trade.realized_pnl
        points.append({"time": trade.exit_time.isoformat(), "realized_pnl": dec(total), "trade": trade.id})
    return points


def per_symbol(trades: Iterable[JournalTrade]) -> list[dict[str, Any]]:
    """Return each symbol's summary, best realized P&L first (a close the venue could not name: symbol None)."""
    groups: dict[str | None, list[JournalTrade]] = {}
    for trade in trades:
        groups.setdefault(trade.symbol, []).append(trade)
    rows = [{"symbol": s} | _summary(v) for s, v in groups.items()]
    return sorted(rows, key=lambda r: Decimal(r["realized_pnl"]), reverse=True)


def summary(trades: list[JournalTrade], tz: ZoneInfo) -> dict[str, Any]:
    """Return every aggregation the journal page and API show."""
    return {
        "totals": _summary(trades),
        "periods": {p: periods(trades, p, tz) for p in PERIODS},
        "cumulative": cumulative(trades),
        "per_symbol": per_symbol(trades),
    }
