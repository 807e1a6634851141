"""Risk per trade: the entry can be sized, clears the exchange's minimums and risks at most the limit.

The risk is the loss if stopped, fees and slippage included; after an add, of the whole position (one stop covers
it all).
"""

from __future__ import annotations

from riskmgr.core.domain import Verdict
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
    risk = (
        f"risk if stopped {fmt_money(sizing.risk_usdt)} USDT incl. fees and slippage{_split(sizing, base)} is "
        f"{fmt_pct(sizing.risk_pct)} % of equity {fmt_money(ctx.equity)}"
    )
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


def _split(sizing: SizingResult, base: str) -> str:
    parts = (
        f" (price {fmt_money(sizing.price_risk_usdt)} + fees {fmt_money(sizing.fees_usdt)} + slippage "
        f"{fmt_money(sizing.slippage_usdt)}"
    )
    if sizing.existing_qty > 0:
        parts += (
            f"; the whole position after the add: {fmt_number(sizing.existing_qty)} {base} open + "
            f"{fmt_number(sizing.qty)} {base} new under one stop"
        )
    return parts + ")"


def _why_small(sizing: SizingResult, base: str) -> str:
    if sizing.caps:
        return " (" + "; ".join(cap.reason for cap in sizing.caps) + ")"
    if sizing.sized:
        held = ""
        if sizing.existing_qty > 0:
            held = (
                f" less {fmt_money(sizing.existing_risk_usdt)} USDT the open {fmt_number(sizing.existing_qty)} "
                f"{base} lose at the new stop"
            )
        return (
            f" (risk budget {fmt_money(sizing.risk_budget)} USDT{held} over a stop distance of "
            f"{fmt_number(sizing.stop_distance)} plus round-trip costs of {fmt_money(sizing.round_trip_per_unit)} "
            f"per {base})"
        )
    if sizing.raw_qty != sizing.qty:
        return f" ({fmt_number(sizing.raw_qty)} {base} rounded down to the quantity step)"
    return ""
