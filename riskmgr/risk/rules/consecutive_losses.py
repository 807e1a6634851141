"""Consecutive losses: after N losing closes in a row (any exit reason), pause new entries for a cooldown."""

from __future__ import annotations

from datetime import timedelta

from riskmgr.core.domain import Verdict
from riskmgr.risk.context import RuleContext

NAME = "consecutive_losses"


def check(ctx: RuleContext) -> Verdict:
    """Deny new risk until the last loss of a long-enough losing streak plus the cooldown."""
    if (skipped := ctx.skip_reduce_only(NAME)) is not None:
        return skipped
    # newest first is the contract; sorting again costs nothing and guards against a caller's slip
    trades = sorted(ctx.recent_trades, key=lambda t: t.closed_at, reverse=True)
    streak = 0
    for trade in trades:
        if trade.realized_pnl >= 0:
            break
        streak += 1
    limit = ctx.limits.max_consecutive_losses
    if streak < limit:
        return Verdict.allow(NAME, f"{streak} losing close(s) in a row; the breaker trips at {limit}")
    minutes = ctx.limits.loss_cooldown_minutes
    until = trades[0].closed_at + timedelta(minutes=minutes)
    head = f"{streak} losing closes in a row (breaker at {limit})"
    if ctx.now < until:
        return Verdict.deny(NAME, f"{head}: cooling down {minutes} min until {until:%Y-%m-%d %H:%M:%S} UTC", until)
    return Verdict.allow(NAME, f"{head}: the {minutes} min cooldown ended at {until:%Y-%m-%d %H:%M:%S} UTC")
