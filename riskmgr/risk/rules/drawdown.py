"""Drawdown: no new risk once equity has fallen from its peak to the REDUCING tier or beyond."""

from __future__ import annotations

from riskmgr.core.domain import Verdict
from riskmgr.risk.context import RuleContext
from riskmgr.risk.sizing import fmt_money
from riskmgr.risk.state import DrawdownTier, drawdown_pct, drawdown_reason, drawdown_tier

NAME = "drawdown"


def check(ctx: RuleContext) -> Verdict:
    """Deny new risk at the REDUCING tier and above; allow below it (the reason carries any warning)."""
    if (skipped := ctx.skip_reduce_only(NAME)) is not None:
        return skipped
    if ctx.peak_equity <= 0:
        return Verdict.deny(NAME, f"peak equity is {fmt_money(ctx.peak_equity)} USDT; the drawdown is unknown")
    drawdown = drawdown_pct(ctx.equity, ctx.peak_equity)
    tier, _ = drawdown_tier(ctx.limits, drawdown)
    reason = drawdown_reason(ctx.limits, drawdown, ctx.equity, ctx.peak_equity)
    if tier in (DrawdownTier.REDUCING, DrawdownTier.HALT):
        return Verdict.deny(NAME, f"{reason}: no new risk")
    return Verdict.allow(NAME, reason)
