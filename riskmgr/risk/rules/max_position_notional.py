"""Max position notional: the position after the order (existing + what may still fill + new) stays within it."""

from __future__ import annotations

from riskmgr.core.domain import ZERO, Verdict
from riskmgr.risk.context import RuleContext
from riskmgr.risk.sizing import fmt_money, fmt_number

NAME = "max_position_notional"


def check(ctx: RuleContext) -> Verdict:
    """Deny an order that takes one position's notional, counting its resting entries, above the limit."""
    if (skipped := ctx.skip_reduce_only(NAME)) is not None:
        return skipped
    if ctx.sizing is None:
        return Verdict.deny(NAME, f"the position notional cannot be checked without a size: {ctx.sizing_error}")
    if ctx.unpriced:
        ids = ", ".join(f"{u.order_id} ({u.symbol})" for u in ctx.unpriced)
        return Verdict.deny(NAME, f"resting entry order(s) without a price: {ids}; their exposure is unknown")
    existing = ctx.same_position.notional if ctx.same_position is not None else ZERO
    pending = ctx.same_exposure - existing
    new = ctx.sizing.notional
    total, limit = existing + pending + new, ctx.limits.max_position_notional
    parts = f"existing {fmt_money(existing)}" + (f" + resting/in flight {fmt_money(pending)}" if pending else "")
    head = f"position notional {fmt_money(total)} USDT ({parts} + new {fmt_money(new)})"
    if total > limit:
        return Verdict.deny(NAME, f"{head} is above the limit {fmt_number(limit)} USDT")
    return Verdict.allow(NAME, f"{head} is within the limit {fmt_number(limit)} USDT")
