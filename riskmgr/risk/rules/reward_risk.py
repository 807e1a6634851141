"""Reward:risk: an entry's take-profit is at least the minimum multiple of its stop distance away."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from riskmgr.core.domain import Verdict
from riskmgr.risk.context import RuleContext
from riskmgr.risk.sizing import fmt_number, reward_risk

NAME = "reward_risk"


def check(ctx: RuleContext) -> Verdict:
    """Deny an entry without a take-profit, or whose reward:risk is below the minimum."""
    if (skipped := ctx.skip_reduce_only(NAME)) is not None:
        return skipped
    intent, minimum = ctx.intent, ctx.limits.min_reward_risk
    if intent.stop_loss is None:
        return Verdict.deny(NAME, "no stop-loss given: reward:risk cannot be computed")
    if (intent.entry_price - intent.stop_loss) * intent.side.sign <= 0:
        return Verdict.deny(NAME, "the stop is not on the loss side of the entry: reward:risk cannot be computed")
    if intent.take_profit is None:
        return Verdict.deny(
            NAME, f"no take-profit given: reward:risk cannot be checked (minimum {fmt_number(minimum)}:1)"
        )
    ratio = reward_risk(intent.side, intent.entry_price, intent.stop_loss, intent.take_profit)
    if ratio <= 0:
        return Verdict.deny(
            NAME,
            f"take-profit {fmt_number(intent.take_profit)} is not on the profit side of the entry "
            f"{fmt_number(intent.entry_price)}",
        )
    # truncate, never round up: 1.99995 must not read as "2:1 is below the minimum 2:1"
    shown = fmt_number(ratio.quantize(Decimal("0.0001"), rounding=ROUND_DOWN))
    if ratio < minimum:
        return Verdict.deny(NAME, f"reward:risk {shown}:1 is below the minimum {fmt_number(minimum)}:1")
    return Verdict.allow(NAME, f"reward:risk {shown}:1 meets the minimum {fmt_number(minimum)}:1")
