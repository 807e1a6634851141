"""Freshness of the dashboard's figures: stale by their AGE (not only when a poll failed), today's P&L only
against today's baseline, and totals that say which accounts they cover.

The snapshot view is built once per poll (``riskmgr.accounts.view_cache``) but served for as long as no new poll comes;
so whatever depends on the clock is decided here, for the moment of the request, with the injected clock:

- an account read "ok" whose last good read is older than ``stale_after_seconds`` (the same limit that makes the
  risk gate deny new risk) is shown STALE, with the time of that read and the reason — whatever the poll said;
- "Today's P&L" exists only when both the baseline and the figures are from today's risk day
  (``RiskLimits.risk_day_timezone``); otherwise it is unknown, and the view says why;
- the totals add only accounts with current figures and name every account they leave out, and why.

Pure functions over the view's plain dicts: no Flask, no database.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from riskmgr.core.formatting import dec

NO_BASELINE_TODAY = "unknown — no baseline today"
_SUMMED = ("equity", "available", "margin_used", "unrealized_pnl")


def params(stale_after_seconds: int, risk_day_timezone: str) -> dict[str, Any]:
    """Return what the view carries so a later request can age it: the staleness limit and the risk day's zone."""
    return {"stale_after_seconds": stale_after_seconds, "risk_day_timezone": risk_day_timezone}


def risk_day(ts: datetime, tz_name: str) -> str:
    """Return the calendar day (ISO) of ``ts`` in the risk day's time zone."""
    return ts.astimezone(ZoneInfo(tz_name)).date().isoformat()


def age_reason(limit_s: int) -> str:
    """Say why figures of an account whose last poll succeeded are stale anyway (stable text: no clock in it)."""
    return f"older than the {limit_s} s limit; no poll has read the account since (poller stopped or behind)"


def _too_old(account: dict[str, Any], now: datetime, limit_s: int) -> bool:
    fetched = account.get("fetched_at")
    return (account["status"] == "ok" and fetched is not None
            and (now - datetime.fromisoformat(fetched)).total_seconds() > limit_s)


def _day_unknown(account: dict[str, Any], today: str, tz_name: str) -> bool:
    """True when a day P&L is shown that is not today's (baseline or figures from an earlier day)."""
    if account.get("day_pnl") is None or account.get("fetched_at") is None:
        return False
    fetched_day = risk_day(datetime.fromisoformat(account["fetched_at"]), tz_name)
    return account.get("day_baseline_day") != today or fetched_day != today


def age_account(account: dict[str, Any], now: datetime, limit_s: int, tz_name: str) -> dict[str, Any]:
    """Return the account as it stands at ``now``: stale by age, and without a day P&L that is not today's."""
    out = account
    if _too_old(account, now, limit_s):
        out = {**out, "status": "stale", "stale_since": account["fetched_at"], "stale_by_age": True,
               "error": age_reason(limit_s)}
    if _day_unknown(account, risk_day(now, tz_name), tz_name):
        out = {**out, "day_pnl": None, "day_pnl_pct": None, "day_pnl_note": NO_BASELINE_TODAY}
    return out


def needs_aging(view: dict[str, Any], now: datetime) -> bool:
    """Say whether any account of the stored view reads differently at ``now`` (cheap: no copy)."""
    p = view.get("freshness")
    if not p:
        return False
    today = risk_day(now, p["risk_day_timezone"])
    return any(_too_old(a, now, p["stale_after_seconds"]) or _day_unknown(a, today, p["risk_day_timezone"])
               for a in view["accounts"])


def age_view(view: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Return the view with every account aged to ``now`` and the totals recomputed over what is current."""
    p = view.get("freshness")
    if not p or not needs_aging(view, now):
        return view
    accounts = [age_account(a, now, p["stale_after_seconds"], p["risk_day_timezone"]) for a in view["accounts"]]
    return {**view, "accounts": accounts, "totals": totals(accounts)}


def etag_suffix(view: dict[str, Any], now: datetime) -> str:
    """Return a suffix for the view's ETag naming what aging changed (empty when nothing did)."""
    aged = age_view(view, now)
    if aged is view:
        return ""
    marks = "|".join(f"{a['name']}:{a['status']}:{a.get('day_pnl_note', '')}" for a in aged["accounts"])
    return "-" + hashlib.sha1(marks.encode(), usedforsecurity=False).hexdigest()[:12]


def _exclusion(account: dict[str, Any]) -> str | None:
    if account["equity"] is None:
        return "no figures" if account["status"] == "ok" else f"no figures ({account['status']})"
    if account["status"] != "ok":
        return account["status"]
    return None


def _sum(accounts: list[dict[str, Any]], field: str) -> str | None:
    if not accounts:
        return None
    return dec(sum((Decimal(a[field]) for a in accounts if a[field] is not None), Decimal(0)))


def totals(accounts: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum the accounts with current figures; name every account left out, and why, per figure."""
    included = [a for a in accounts if _exclusion(a) is None]
    excluded = [{"name": a["name"], "reason": _exclusion(a)} for a in accounts if _exclusion(a) is not None]
    day = [a for a in included if a.get("day_pnl") is not None]
    day_excluded = excluded + [{"name": a["name"], "reason": a.get("day_pnl_note") or "no baseline"}
                               for a in included if a.get("day_pnl") is None]
    out: dict[str, Any] = {f: _sum(included, f) for f in _SUMMED}
    out.update(
        day_pnl=_sum(day, "day_pnl"),
        accounts_total=len(accounts),
        accounts_included=len(included),
        included=[a["name"] for a in included],
        excluded=excluded,
        day_pnl_accounts=[a["name"] for a in day],
        day_pnl_excluded=day_excluded,
        accounts_without_figures=[a["name"] for a in accounts if a["equity"] is None],
        stale_accounts=[a["name"] for a in accounts if a["equity"] is not None and a["status"] != "ok"],
        open_positions=sum(len(a["positions"]) for a in accounts),
        coverage=coverage_text(len(included), len(accounts), excluded),
    )
    out["complete"] = not excluded
    out["day_pnl_complete"] = not day_excluded
    return out


def coverage_text(included: int, total: int, excluded: list[dict[str, Any]]) -> str:
    """Say which accounts a total covers: "3 of 4 accounts; excludes b: stale"."""
    text = f"{included} of {total} account{'s' if total != 1 else ''}"
    if excluded:
        text += "; excludes " + ", ".join(f"{e['name']}: {e['reason']}" for e in excluded)
    return text
