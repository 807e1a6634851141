"""The pre-trade risk rules, one module each, and ``evaluate`` that runs them all for the receipt.

Every rule is ``check(ctx) -> Verdict``; a denial is a value naming the rule and the numbers. A
reduce-only intent passes every rule with a reason saying the rule was skipped: these rules guard
new risk, and reducing exposure must never be blocked by them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from riskmgr.core.domain import Verdict
from riskmgr.risk.context import RuleContext
from riskmgr.risk.rules import (
    consecutive_losses,
    daily_headroom,
    daily_loss,
    data_fresh,
    drawdown,
    liquidation_beyond_stop,
    max_leverage,
    max_open_positions,
    max_position_notional,
    min_stop_distance,
    reward_risk,
    risk_per_trade,
    stop_required,
)


@dataclass(frozen=True)
class Rule:
    """One rule: its name (as in its verdicts) and its check."""

    name: str
    check: Callable[[RuleContext], Verdict]


# the order of the receipt: is the picture real, is the order well-formed, then the account-level limits
ALL_RULES: tuple[Rule, ...] = tuple(
    Rule(module.NAME, module.check)
    for module in (
        data_fresh,
        stop_required,
        min_stop_distance,
        risk_per_trade,
        max_leverage,
        max_open_positions,
        max_position_notional,
        liquidation_beyond_stop,
        reward_risk,
        daily_loss,
        daily_headroom,
        drawdown,
        consecutive_losses,
    )
)


def evaluate(ctx: RuleContext) -> list[Verdict]:
    """Return every rule's verdict, in ``ALL_RULES`` order."""
    return [rule.check(ctx) for rule in ALL_RULES]


def denials(verdicts: Iterable[Verdict]) -> list[Verdict]:
    """Return the denying verdicts."""
    return [v for v in verdicts if not v.allowed]


def all_allowed(verdicts: Iterable[Verdict]) -> bool:
    """Return True when no verdict denies."""
    return all(v.allowed for v in verdicts)
