"""Max open positions: a new position may not push the count past the limit; adding to one is not new."""

from __future__ import annotations

from riskmgr.domain import Verdict
from riskmgr.risk.context import RuleContext

NAME = "max_open_positions"


def check(ctx: RuleContext) -> Verdict:
    """Deny opening a new position when the limit's worth are already open."""
    if (skipped := ctx.skip_reduce_only(NAME)) is not None:
        return skipped
    intent = ctx.intent
    if ctx.same_position is not None:
        return Verdict.allow(NAME, f"adds to the open {intent.symbol} {intent.side.value}; not a new position")
    count, limit = len(ctx.positions), ctx.limits.max_open_positions
    if count >= limit:
        return Verdict.deny(NAME, f"{count} positions are open; the limit is {limit}")
    return Verdict.allow(NAME, f"{count} positions are open; this makes {count + 1} of at most {limit}")
