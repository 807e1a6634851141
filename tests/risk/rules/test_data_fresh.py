from datetime import timedelta

import pytest

from riskmgr.core.domain import AccountStatus
from riskmgr.risk.rules import data_fresh
from tests.risk.builders import NOW, context, intent


@pytest.mark.parametrize(
    ("age", "allowed"),
    [(timedelta(seconds=0), True), (timedelta(seconds=30), True), (timedelta(seconds=30, milliseconds=1), False)],
)
def test_data_may_be_as_old_as_the_limit_but_no_older(age, allowed):
    assert data_fresh.check(context(fetched_at=NOW - age)).allowed is allowed


def test_the_reasons_carry_the_age():
    assert data_fresh.check(context()).reason == "account data is 2.0 s old (limit 30 s)"
    assert data_fresh.check(context(fetched_at=NOW - timedelta(seconds=31))).reason == (
        "account data is 31 s old, older than the limit 30 s"
    )


def test_the_age_is_said_like_a_person_would_not_to_the_microsecond():
    reason = data_fresh.check(context(fetched_at=NOW - timedelta(seconds=2, microseconds=43510))).reason

    assert reason == "account data is 2.0 s old (limit 30 s)"


def test_an_age_just_over_the_limit_is_not_rounded_onto_the_limit():
    reason = data_fresh.check(context(fetched_at=NOW - timedelta(seconds=30, milliseconds=1))).reason

    assert reason == "account data is 30.001 s old, older than the limit 30 s"


@pytest.mark.parametrize("status", [AccountStatus.STALE, AccountStatus.ERROR])
def test_an_account_that_is_not_ok_is_denied(status):
    verdict = data_fresh.check(context(account_status=status))

    assert not verdict.allowed
    assert verdict.reason == f"account data is {status.value}: no new risk until a good read"


def test_an_account_never_read_is_denied():
    assert data_fresh.check(context(fetched_at=None)).reason == "the account has never been read successfully"


def test_data_from_the_future_is_denied():
    assert not data_fresh.check(context(fetched_at=NOW + timedelta(seconds=1))).allowed


def test_reduce_only_orders_skip_the_rule():
    ctx = context(account_status=AccountStatus.STALE, intent=intent(reduce_only=True))

    assert data_fresh.check(ctx).allowed
