"""Data fresh: new risk only on an account whose last read succeeded recently enough."""

from __future__ import annotations

from datetime import timedelta

from riskmgr.domain import AccountStatus, Verdict
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
        return Verdict.deny(NAME, f"account data is stamped {-age:g} s in the future: the clocks disagree")
    limit = ctx.limits.stale_after_seconds
    if ctx.data_age > timedelta(seconds=limit):
        return Verdict.deny(NAME, f"account data is {age:g} s old, older than the limit {limit} s")
    return Verdict.allow(NAME, f"account data is {age:g} s old (limit {limit} s)")
