"""Daily cap of automatic entries: at most ``auto_trade_daily_cap`` entries a risk day placed by auto-trading.

It judges automatic entries only (live auto-trading and the backtest, which trades as auto-trading does); a manual
order carries no count (``RuleContext.automatic_entries`` is None) and passes with a reason saying so. It is not in
``ALL_RULES``: the pre-trade receipt of a manual ticket shows no line for it. ``risk.decision.decide_entry`` runs it.
"""

from __future__ import annotations

from datetime import datetime

from riskmgr.core.domain import Verdict
from riskmgr.risk.config import RiskLimits
from riskmgr.risk.context import RuleContext
from riskmgr.risk.state import next_day_start

NAME = "auto_trade_daily_cap"


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
