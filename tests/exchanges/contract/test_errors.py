"""The error contract, run against every venue adapter: a failure is one of riskmgr's errors, never a crash or a figure.

Every error names the account and the operation, so the dashboard can say "stale since … — reason". The paper venue
has no keys, no throttle and no wire; it declares so, and the contract checks what it does instead: it reads without
keys, a busy database is a TemporaryError (not a rate limit) that is retried, and no read goes over the network. Its
own guard against a corrupt stored record is checked in test_paper_store.py.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from riskmgr.core.errors import AuthError, ExchangeError, MalformedResponseError, RateLimitError, TemporaryError
from riskmgr.exchanges.retry import call_with_retry
from tests.conftest import ON_POSTGRES
from tests.exchanges.contract.harness import Harness

THROTTLE_SECONDS = 7


def _fails_with(kind: type[ExchangeError], venue: Harness, operation: str) -> ExchangeError:
    """Run ``operation`` on the adapter; return the error, checked to be ``kind`` naming account and operation."""
    read: Callable[[], Any] = getattr(venue.adapter, operation)
    with pytest.raises(kind) as caught:
        read()
    error = caught.value
    assert (error.account, error.operation) == (venue.adapter.account, operation)
    assert error.describe().startswith(f"{operation}: ")
    return error


def _full_read(venue: Harness) -> None:
    venue.adapter.fetch_balance()
    venue.adapter.fetch_positions()
    venue.adapter.fetch_open_orders()


# -- credentials ------------------------------------------------------------------------------------------------
def test_rejected_credentials_are_an_auth_error_and_not_retried(venue: Harness):
    if not venue.declared.credentials:  # declared: the venue takes no keys, so none can be refused
        assert not {"api_key", "secret", "passphrase"} & set(inspect.signature(type(venue.adapter)).parameters)
        assert venue.adapter.fetch_balance().currency == "USDT"
        return
    venue.given_rejected_credentials()
    error = _fails_with(AuthError, venue, "fetch_balance")
    shown = f"{error} {error.describe()} {error!r} {venue.adapter!r}"
    assert venue.secrets and not [s for s in venue.secrets if s in shown]  # the refused keys are never repeated

    venue.given_rejected_credentials()
    sleeps: list[float] = []
    with pytest.raises(AuthError):
        call_with_retry(venue.adapter.fetch_balance, budget_seconds=30, sleep=sleeps.append, monotonic=lambda: 0.0)
    assert sleeps == []  # keys do not get better by asking again


# -- throttling -------------------------------------------------------------------------------------------------
def _needs_sqlite() -> None:
    if ON_POSTGRES:
        pytest.skip("the paper venue's busy store is SQLite's file-wide write lock")


def test_a_rate_limit_is_a_rate_limit_error_carrying_the_retry_after_wait(venue: Harness):
    if not venue.declared.throttles:  # declared: nothing throttles it; a busy store is its "try again later"
        _needs_sqlite()
        impatient, holder = venue.busy_store()
        try:
            with pytest.raises(TemporaryError) as caught:
                impatient.fetch_balance()
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert not isinstance(caught.value, RateLimitError) and caught.value.operation == "fetch_balance"
        return
    venue.given_throttled(THROTTLE_SECONDS)

    error = _fails_with(RateLimitError, venue, "fetch_balance")

    assert isinstance(error, RateLimitError) and error.retry_after == float(THROTTLE_SECONDS)


def test_a_throttled_read_is_retried_after_the_named_wait_and_then_succeeds(venue: Harness):
    if not venue.declared.throttles:  # declared: the busy store is retried once its lock is free
        _needs_sqlite()
        impatient, holder = venue.busy_store()
        sleeps: list[float] = []

        def wait(seconds: float) -> None:
            sleeps.append(seconds)
            holder.execute("ROLLBACK")  # the other writer finishes while we back off

        balance = call_with_retry(impatient.fetch_balance, budget_seconds=30, sleep=wait, monotonic=lambda: 0.0)
        holder.close()
        assert len(sleeps) == 1 and balance == venue.adapter.fetch_balance()
        return
    venue.given_throttled(THROTTLE_SECONDS)
    expected = venue.given_balance()
    sleeps = []

    balance = call_with_retry(venue.adapter.fetch_balance, budget_seconds=30, sleep=sleeps.append,
                              monotonic=lambda: 0.0)

    assert sleeps == [float(THROTTLE_SECONDS)] and balance.equity == expected.equity


# -- replies that cannot be read --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("state", "operation"),
    [
        ("given_null_balance", "fetch_balance"),
        ("given_null_positions", "fetch_positions"),
        ("given_null_open_orders", "fetch_open_orders"),
        ("given_html_instead_of_json", "fetch_balance"),
    ],
    ids=["null-balance", "null-positions", "null-open-orders", "html-balance"],
)
def test_a_reply_that_cannot_be_read_is_a_malformed_response_error_not_a_figure(venue: Harness, state, operation):
    if not venue.declared.wire:  # declared: no wire, so no reply to garble; the read answers from the venue's store
        getattr(venue.adapter, operation)()
        assert venue.network_calls() == 0
        return
    getattr(venue, state)()

    _fails_with(MalformedResponseError, venue, operation)


def test_flattening_on_a_null_positions_list_fails_loudly_instead_of_closing_nothing(venue: Harness):
    if not venue.declared.wire:  # declared: no wire; a flat account has nothing to close, and says so with []
        venue.given_flat()
        assert venue.adapter.close_all_positions() == [] and venue.network_calls() == 0
        return
    venue.given_null_positions()

    with pytest.raises(MalformedResponseError):
        venue.adapter.close_all_positions()


def test_an_unavailable_venue_is_a_temporary_error(venue: Harness):
    if not venue.declared.wire:  # declared: no wire, so no venue to be down; a full read makes no network call
        venue.given_balance()
        _full_read(venue)
        assert venue.network_calls() == 0
        return
    venue.given_venue_unavailable()

    error = _fails_with(TemporaryError, venue, "fetch_balance")

    assert not isinstance(error, RateLimitError)


def test_an_error_names_the_adapter_operation_and_keeps_the_endpoint_that_failed(venue: Harness):
    if not venue.declared.wire:  # declared: no endpoint; a paper error names the operation alone
        symbol, order_id = venue.given_no_such_order()
        with pytest.raises(ExchangeError) as caught:
            venue.adapter.cancel_order(symbol, order_id)
        assert caught.value.operation == "cancel_order" and caught.value.describe().startswith("cancel_order: ")
        return
    venue.given_venue_unavailable()

    error = _fails_with(TemporaryError, venue, "fetch_balance")

    assert venue.balance_endpoint in str(error) and venue.balance_endpoint in error.describe()
