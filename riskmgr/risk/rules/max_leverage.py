"""Max leverage: the leverage setting and the account's notional after the order (incl. what may still fill) stay
within the limit."""

from __future__ import annotations

from riskmgr.core.domain import Verdict
from riskmgr.risk.context import RuleContext
from riskmgr.risk.sizing import fmt_money, fmt_number

NAME = "max_leverage"


def check(ctx: RuleContext) -> Verdict:
    """Deny a leverage above our limit or the exchange's, or an order taking notional past equity x limit."""
    if (skipped := ctx.skip_reduce_only(NAME)) is not None:
        return skipped
    limit, leverage = ctx.limits.max_leverage, ctx.intent.leverage
    if leverage > limit:
        return Verdict.deny(NAME, f"leverage {leverage}x is above the limit {limit}x")
    if leverage > ctx.spec.max_leverage:
        return Verdict.deny(
            NAME, f"leverage {leverage}x is above the exchange maximum {ctx.spec.max_leverage}x for {ctx.spec.symbol}"
        )
    if ctx.sizing is None:
        return Verdict.deny(NAME, f"account leverage cannot be checked without a size: {ctx.sizing_error}")
    if ctx.equity <= 0:
        return Verdict.deny(NAME, f"account leverage cannot be checked: equity is {fmt_money(ctx.equity)} USDT")
    if ctx.unpriced:
        ids = ", ".join(f"{u.order_id} ({u.symbol})" for u in ctx.unpriced)
        return Verdict.deny(NAME, f"resting entry order(s) without a price: {ids}; account leverage is unknown")
    after = ctx.exposure_notional + ctx.sizing.notional
    ceiling = ctx.equity * limit
    pending = f" incl. {fmt_money(ctx.pending_notional)} USDT resting or in flight" if ctx.pending else ""
    head = (
        f"notional after the order {fmt_money(after)} USDT{pending} is "
        f"{fmt_number(round(after / ctx.equity, 2))}x equity {fmt_money(ctx.equity)} USDT"
    )
    if after > ceiling:
        return Verdict.deny(NAME, f"{head}, above the limit {limit}x ({fmt_money(ceiling)} USDT)")
    return Verdict.allow(NAME, f"{head}, within the limit {limit}x; leverage setting {leverage}x")
