"""Daily headroom: the loss at the stops of this order and of what may still fill fits what the day has left.

The headroom is equity (incl. unrealized P&L) above the level at which the daily loss limit is reached. It must cover
this order's loss at its stop (fees and slippage included) plus the loss at their stops of the entries that may
still fill (resting orders and intents in flight, as if filled); an entry whose stop the gate never recorded counts
at the position emergency-close distance, the loss at which the position monitor closes it.
"""

from __future__ import annotations

from decimal import Decimal

from riskmgr.core.domain import ZERO, Verdict
from riskmgr.risk.context import RuleContext
from riskmgr.risk.exposure import PendingEntry
from riskmgr.risk.sizing import HUNDRED, fmt_money

NAME = "daily_headroom"


def pending_risk(ctx: RuleContext) -> Decimal:
    """Return the loss at their stops of every entry that may still fill."""
    return sum((_risk(ctx, e) for e in ctx.pending), ZERO)


def _risk(ctx: RuleContext, entry: PendingEntry) -> Decimal:
    if entry.stop_loss is not None and (entry.price - entry.stop_loss) * entry.side.sign > 0:
        return entry.qty * abs(entry.price - entry.stop_loss)
    return entry.notional * ctx.limits.emergency_close_pct / HUNDRED


def check(ctx: RuleContext) -> Verdict:
    """Deny an order whose loss at the stop, with what may still fill, is above the day's headroom."""
    if (skipped := ctx.skip_reduce_only(NAME)) is not None:
        return skipped
    if ctx.day_start_equity <= 0:
        return Verdict.deny(NAME, "the day's opening equity is unknown: the day's headroom is unknown")
    if ctx.sizing is None:
        return Verdict.deny(NAME, f"the loss at the stop cannot be checked without a size: {ctx.sizing_error}")
    headroom = ctx.equity - ctx.day_start_equity * (1 - ctx.limits.daily_loss_limit_pct / HUNDRED)
    waiting = pending_risk(ctx)
    needed = ctx.sizing.risk_usdt + waiting
    parts = f"this order's {fmt_money(ctx.sizing.risk_usdt)}" + (
        f" + resting/in flight {fmt_money(waiting)}" if ctx.pending else ""
    )
    if needed > headroom:
        return Verdict.deny(NAME, f"the loss at the stops ({parts} USDT) is above the {fmt_money(max(headroom, ZERO))}"
                                  f" USDT left before the daily loss limit")
    return Verdict.allow(NAME, f"the loss at the stops ({parts} USDT) fits the {fmt_money(headroom)} USDT left "
                               "before the daily loss limit")
