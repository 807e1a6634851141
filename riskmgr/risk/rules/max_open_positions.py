"""Max open positions: open positions plus entries that may still fill stay within the limit.

A resting entry order or an intent in flight on a new symbol and side counts as the position it would open;
adding to an open position (or to a resting entry's symbol and side) is not a new position.
"""

from __future__ import annotations

from riskmgr.core.domain import Verdict
from riskmgr.risk.context import RuleContext

NAME = "max_open_positions"


def check(ctx: RuleContext) -> Verdict:
    """Deny opening a new position when the limit's worth are open or may still open."""
    if (skipped := ctx.skip_reduce_only(NAME)) is not None:
        return skipped
    intent = ctx.intent
    taken = ctx.slots
    split, limit = ctx.exposure_split(), ctx.limits.max_open_positions
    if len(taken) > limit:  # e.g. entries placed on the venue by hand: nothing more until back within the limit
        return Verdict.deny(NAME, f"{split} is already above the limit of {limit} positions")
    if (intent.symbol, intent.side) in taken:
        what = "open" if ctx.same_position is not None else "resting or in-flight"
        return Verdict.allow(NAME, f"adds to the {what} {intent.symbol} {intent.side.value}; not a new position "
                                   f"({split} of at most {limit})")
    count = len(taken)
    if count >= limit:
        return Verdict.deny(NAME, f"{split} → {count + 1} of at most {limit} positions")
    return Verdict.allow(NAME, f"{split}; this makes {count + 1} of at most {limit}")
