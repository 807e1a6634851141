"""Liquidation beyond stop: the estimated liquidation price lies beyond the stop, so the stop fires first."""

from __future__ import annotations

from riskmgr.core.domain import Verdict
from riskmgr.risk.context import RuleContext
from riskmgr.risk.sizing import fmt_number, liquidation_beyond_stop, liquidation_price_on_tick

NAME = "liquidation_beyond_stop"


def check(ctx: RuleContext) -> Verdict:
    """Deny an entry whose isolated-margin liquidation estimate is at or inside its stop."""
    if (skipped := ctx.skip_reduce_only(NAME)) is not None:
        return skipped
    intent = ctx.intent
    if intent.stop_loss is None:
        return Verdict.deny(NAME, "no stop-loss given: the liquidation cannot be compared with it")
    mmr = ctx.spec.maintenance_margin_rate
    if mmr is None:  # when unsure, deny: a typical rate could put the liquidation inside the stop
        return Verdict.deny(
            NAME, f"the maintenance margin rate of {ctx.spec.symbol} is unknown: the liquidation price cannot be "
            "estimated, so the stop cannot be shown to fire first"
        )
    # the isolated formula is the conservative one: cross margin liquidates later, never earlier, for one position;
    # the most cautious venue formula, on the tick towards the entry as a venue rounds it
    liquidation = liquidation_price_on_tick(intent.side, intent.entry_price, intent.leverage, mmr, ctx.spec.price_tick)
    beyond = liquidation_beyond_stop(intent.side, intent.stop_loss, liquidation)
    head = (
        f"estimated liquidation {fmt_number(round(liquidation, 8))} at {intent.leverage}x "
        f"(maintenance margin {fmt_number(mmr * 100)} %)"
    )
    if beyond <= 0:
        return Verdict.deny(
            NAME, f"{head} is not beyond the stop {fmt_number(intent.stop_loss)}: the stop might never fire"
        )
    return Verdict.allow(
        NAME, f"{head} lies {fmt_number(round(beyond, 8))} beyond the stop {fmt_number(intent.stop_loss)}"
    )
