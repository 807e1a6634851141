"""Daily loss: no new risk once equity (incl. unrealized) is down the limit on the risk day's opening equity.

An account-level gate: it depends on the account and the time, never on the order (the backtest relies on that to
skip signals while it is shut). Whether this order's loss at its stop still fits the day is ``daily_headroom``.
"""

from __future__ import annotations

from riskmgr.core.domain import Verdict
from riskmgr.risk.context import RuleContext
from riskmgr.risk.sizing import fmt_money
from riskmgr.risk.state import daily_loss_pct, daily_loss_reason, next_day_start

NAME = "daily_loss"


def check(ctx: RuleContext) -> Verdict:
    """Deny new risk until the next risk day once the day's loss reaches the limit."""
    if (skipped := ctx.skip_reduce_only(NAME)) is not None:
        return skipped
    if ctx.day_start_equity <= 0:
        return Verdict.deny(
            NAME, f"the day's opening equity is {fmt_money(ctx.day_start_equity)} USDT; the day's loss is unknown"
        )
    loss = daily_loss_pct(ctx.equity, ctx.day_start_equity)
    resumes = next_day_start(ctx.now, ctx.limits.zone())
    reason = daily_loss_reason(ctx.limits, loss, ctx.day_start_equity, resumes)
    if loss >= ctx.limits.daily_loss_limit_pct:
        return Verdict.deny(NAME, reason, until=resumes)
    return Verdict.allow(NAME, reason)
