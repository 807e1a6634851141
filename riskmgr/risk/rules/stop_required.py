"""Stop required: every entry carries a stop-loss on the loss side of its entry price."""

from __future__ import annotations

from riskmgr.core.domain import PositionSide, Verdict
from riskmgr.risk.context import RuleContext
from riskmgr.risk.sizing import fmt_number, fmt_pct, pct_of

NAME = "stop_required"


def check(ctx: RuleContext) -> Verdict:
    """Deny an entry without a stop, or with its stop on or beyond the wrong side of the entry."""
    if (skipped := ctx.skip_reduce_only(NAME)) is not None:
        return skipped
    intent = ctx.intent
    if intent.stop_loss is None:
        return Verdict.deny(NAME, "an entry needs a stop-loss; none was given")
    entry, stop = intent.entry_price, intent.stop_loss
    where = "below" if intent.side is PositionSide.LONG else "above"
    if (entry - stop) * intent.side.sign <= 0:
        return Verdict.deny(
            NAME, f"stop {fmt_number(stop)} must be {where} the entry {fmt_number(entry)} for a {intent.side.value}"
        )
    distance = abs(entry - stop)
    return Verdict.allow(
        NAME,
        f"stop {fmt_number(stop)} is {fmt_number(distance)} ({fmt_pct(pct_of(distance, entry))} %) {where} "
        f"the entry {fmt_number(entry)}",
    )
