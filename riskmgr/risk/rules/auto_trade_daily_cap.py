"""Daily cap of automatic entries: at most ``auto_trade_daily_cap`` entries a risk day placed by auto-trading.

It judges automatic entries only (live auto-trading and the backtest, which trades as auto-trading does); a manual
order carries no count (``RuleContext.automatic_entries`` is None) and passes with a reason saying so. It is not in
``ALL_RULES``: the pre-trade receipt of a manual ticket shows no line for it. ``risk.decision.decide_entry`` runs it.

Live, the count is a callable the gateway calls inside the account's gate lock (``count``): a count read before the
lock would let two auto-traders (two processes, the CLI beside the scheduler) both pass the cap. A count that cannot
be read, or is not a whole number of entries, denies; it is never taken as zero.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from riskmgr.core.domain import Verdict
from riskmgr.risk.config import RiskLimits
from riskmgr.risk.context import RuleContext
from riskmgr.risk.state import next_day_start

NAME = "auto_trade_daily_cap"
# the day's automatic entries: counted already (the backtest), or a count to read when judging (live, in the lock)
EntryCount = int | Callable[[], int]


def judge(count: int, limits: RiskLimits, now: datetime) -> Verdict:
    """Judge one more automatic entry when ``count`` were placed this risk day; a denial lasts until the next day."""
    cap = limits.auto_trade_daily_cap
    if count < cap:
        return Verdict.allow(NAME, f"{count} automatic entries this risk day; the cap is {cap}")
    resumes = next_day_start(now, limits.zone())
    return Verdict.deny(NAME, f"{count} automatic entries this risk day reached the cap of {cap}", until=resumes)


def check(ctx: RuleContext) -> Verdict:
    """Judge the intent's automatic entry count; a manual order (no count) is not capped."""
    if (skipped := ctx.skip_reduce_only(NAME)) is not None:
        return skipped
    if ctx.automatic_entries is None:
        return Verdict.allow(NAME, "a manual order: the cap counts automatic entries only")
    return judge(ctx.automatic_entries, ctx.limits, ctx.now)


def count(entries: EntryCount) -> int | Verdict:
    """Return the day's automatic entries (a callable is called now), or the denial saying why they are unknown."""
    try:
        value = entries() if callable(entries) else entries
    except Exception as exc:  # any failure to count denies (when unsure, deny); the reason names it
        return uncounted(f"{type(exc).__name__}: {exc}")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return uncounted(f"the count read was {value!r}, not a whole number of entries")
    return value


def uncounted(reason: str) -> Verdict:
    """Deny an automatic entry whose day's count cannot be read."""
    return Verdict.deny(NAME, f"the automatic entries of this risk day cannot be counted ({reason}): no automatic "
                              "entry until they can")
