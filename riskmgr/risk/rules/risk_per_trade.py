"""Risk per trade: the entry can be sized, clears the exchange's minimums and risks at most the limit."""

from __future__ import annotations

from riskmgr.domain import Verdict
from riskmgr.risk.context import RuleContext
from riskmgr.risk.sizing import SizingResult, fmt_money, fmt_number, fmt_pct

NAME = "risk_per_trade"


def check(ctx: RuleContext) -> Verdict:
    """Deny an entry that cannot be sized, is below min quantity or min notional, or risks too much."""
    if (skipped := ctx.skip_reduce_only(NAME)) is not None:
        return skipped
    sizing = ctx.sizing
    if sizing is None:
        return Verdict.deny(NAME, ctx.sizing_error or "the order could not be sized")
    base = ctx.spec.base
    if sizing.qty <= 0 or sizing.qty < ctx.spec.min_qty:
        reason = f"quantity {fmt_number(sizing.qty)} {base} is below the minimum {fmt_number(ctx.spec.min_qty)} {base}"
        return Verdict.deny(NAME, reason + _why_small(sizing, base))
    if sizing.notional < ctx.min_notional:
        return Verdict.deny(NAME, _notional_reason(ctx, sizing) + _why_small(sizing, base))
    limit = ctx.limits.risk_per_trade_pct
    risk = f"risk {fmt_money(sizing.risk_usdt)} USDT is {fmt_pct(sizing.risk_pct)} % of equity {fmt_money(ctx.equity)}"
    if sizing.risk_pct > limit:
        return Verdict.deny(NAME, f"{risk} USDT, above the limit {fmt_number(limit)} %")
    return Verdict.allow(NAME, f"{risk} USDT, within the limit {fmt_number(limit)} %")


def _notional_reason(ctx: RuleContext, sizing: SizingResult) -> str:
    exchange_min = ctx.spec.min_notional
    if exchange_min >= ctx.limits.min_notional_floor:
        which = f"the exchange minimum {fmt_number(exchange_min)} USDT"
    else:
        which = f"the minimum order notional {fmt_number(ctx.limits.min_notional_floor)} USDT"
    return f"notional {fmt_money(sizing.notional)} USDT is below {which}"


def _why_small(sizing: SizingResult, base: str) -> str:
    if sizing.caps:
        return " (" + "; ".join(cap.reason for cap in sizing.caps) + ")"
    if sizing.sized:
        return (
            f" (risk budget {fmt_money(sizing.risk_budget)} USDT over a stop distance of "
            f"{fmt_number(sizing.stop_distance)})"
        )
    if sizing.raw_qty != sizing.qty:
        return f" ({fmt_number(sizing.raw_qty)} {base} rounded down to the quantity step)"
    return ""
