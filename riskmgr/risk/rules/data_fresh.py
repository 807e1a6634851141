"""Data fresh: new risk only on an account whose last read succeeded recently enough."""

from __future__ import annotations

from datetime import timedelta

from riskmgr.core.domain import AccountStatus, Verdict
from riskmgr.core.labels import human_duration
from riskmgr.risk.context import RuleContext

NAME = "data_fresh"


def check(ctx: RuleContext) -> Verdict:
    """Deny new risk when the account data is not OK, missing, from the future or older than the limit."""
    if (skipped := ctx.skip_reduce_only(NAME)) is not None:
        return skipped
    if ctx.account_status is not AccountStatus.OK:
        return Verdict.deny(NAME, f"account data is {ctx.account_status.value}: no new risk until a good read")
    if ctx.data_age is None:
        return Verdict.deny(NAME, "the account has never been read successfully")
    age = ctx.data_age.total_seconds()
    if age < 0:
        return Verdict.deny(NAME, f"account data is stamped {human_duration(-age)} in the future: the clocks disagree")
    limit = ctx.limits.stale_after_seconds
    if ctx.data_age > timedelta(seconds=limit):
        return Verdict.deny(NAME, f"account data is {_over(age, limit)} old, older than the limit {limit} s")
    return Verdict.allow(NAME, f"account data is {human_duration(age)} old (limit {limit} s)")


def _over(age: float, limit: int) -> str:
    """Say an age above the limit without rounding it onto the limit ("30.001 s", never "30 s" for a denial)."""
    text = human_duration(age)
    if age < 90 and float(text.split()[0]) <= limit:
        return f"{age:.3f}".rstrip("0").rstrip(".") + " s"
    return text
