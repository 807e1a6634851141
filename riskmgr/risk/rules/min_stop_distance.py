"""Minimum stop distance: an entry's stop lies at least a multiple of its round-trip costs from the entry.

A stop closer than that is mostly costs: the fees and slippage of getting in and out dwarf the price move the
stop allows, and the size the risk budget gives for it is huge. ``min_stop_cost_multiple`` sets the multiple.
"""

from __future__ import annotations

from riskmgr.core.domain import Verdict
from riskmgr.risk.context import RuleContext
from riskmgr.risk.sizing import fmt_money, fmt_number, fmt_pct, pct_of

NAME = "min_stop_distance"


def check(ctx: RuleContext) -> Verdict:
    """Deny an entry whose stop is closer to the entry than ``min_stop_cost_multiple`` round-trip costs."""
    if (skipped := ctx.skip_reduce_only(NAME)) is not None:
        return skipped
    intent, multiple = ctx.intent, ctx.limits.min_stop_cost_multiple
    if intent.stop_loss is None:
        return Verdict.deny(NAME, "no stop-loss given: its distance cannot be checked")
    if ctx.costs is None:
        return Verdict.deny(NAME, "the trading costs (taker fee, slippage) are unknown: the stop cannot be judged")
    entry, stop, costs = intent.entry_price, intent.stop_loss, ctx.costs
    distance = abs(entry - stop)
    fees, slippage = costs.fees_per_unit(entry, stop), costs.slippage_per_unit(entry, stop)
    minimum = multiple * (fees + slippage)
    figures = (
        f"stop distance {fmt_number(distance)} ({fmt_pct(pct_of(distance, entry))} % of entry) against round-trip "
        f"costs of {fmt_money(fees + slippage)} per {ctx.spec.base} (fees {fmt_money(fees)} + slippage "
        f"{fmt_money(slippage)}; {costs.source})"
    )
    wanted = f"{fmt_number(multiple)} x costs = {fmt_money(minimum)} ({fmt_pct(pct_of(minimum, entry))} % of entry)"
    if distance < minimum:
        return Verdict.deny(NAME, f"{figures} is below the minimum {wanted}")
    return Verdict.allow(NAME, f"{figures} meets the minimum {wanted}")
