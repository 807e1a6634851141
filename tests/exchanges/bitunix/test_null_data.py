"""Honest reads on Bitunix: a null where a list is required is malformed, never "nothing"; 429 names its wait."""

from datetime import timedelta
from email.utils import format_datetime

import pytest

from riskmgr.core.errors import MalformedResponseError, RateLimitError
from riskmgr.exchanges.retry import call_with_retry
from tests.exchanges.bitunix.conftest import NOW, ok, reply

V1 = "https://fapi.bitunix.com/api/v1/futures"
POSITIONS = f"{V1}/position/get_pending_positions"
PENDING = f"{V1}/trade/get_pending_orders"
TPSL_PENDING = f"{V1}/tpsl/get_pending_orders"
TICKERS = f"{V1}/market/tickers"
ACCOUNT = f"{V1}/account"


def test_positions_data_null_then_malformed_naming_the_endpoint_and_account(api, adapter):
    api.get(POSITIONS, json={"code": 0, "msg": "Success", "data": None})

    with pytest.raises(MalformedResponseError, match="get_pending_positions: data is null") as caught:
        adapter.fetch_positions()

    assert caught.value.account == "main"


def test_positions_empty_list_then_no_positions(api, adapter):
    api.get(POSITIONS, json=ok([]))

    assert adapter.fetch_positions() == []


@pytest.mark.parametrize("body", [ok(None), ok({"orderList": None, "total": 0}), ok({"total": 0})],
                         ids=["data-null", "orderList-null", "orderList-missing"])
def test_pending_orders_without_their_list_then_malformed(api, adapter, body):
    api.get(PENDING, json=body)
    api.get(TPSL_PENDING, json=ok([]))

    with pytest.raises(MalformedResponseError, match="get_pending_orders"):
        adapter.fetch_open_orders()


def test_tpsl_pending_data_null_then_malformed(api, adapter):
    api.get(PENDING, json=ok({"orderList": [], "total": 0}))
    api.get(TPSL_PENDING, json=ok(None))

    with pytest.raises(MalformedResponseError, match="tpsl/get_pending_orders: data is null"):
        adapter.fetch_open_orders()


def test_documented_empty_answers_then_no_orders(api, adapter):
    api.get(PENDING, json=ok({"orderList": [], "total": 0}))
    api.get(TPSL_PENDING, json=ok([]))

    assert adapter.fetch_open_orders() == []


def test_tickers_data_null_while_a_position_is_open_then_malformed(api, adapter):
    api.get(POSITIONS, json=reply("positions_documented"))
    api.get(TICKERS, json=ok(None))

    with pytest.raises(MalformedResponseError, match="tickers: data is null"):
        adapter.fetch_positions()


# -- 429 and Retry-After --------------------------------------------------------------------------------------
def test_http_429_with_retry_after_seconds_then_the_error_carries_the_wait(api, adapter):
    api.get(ACCOUNT, status=429, body="slow down", headers={"Retry-After": "7"})

    with pytest.raises(RateLimitError) as caught:
        adapter.fetch_balance()

    assert caught.value.retry_after == 7.0 and caught.value.account == "main"


def test_http_429_with_retry_after_date_then_the_wait_is_measured_from_the_reply_date(api, adapter):
    headers = {"Retry-After": format_datetime(NOW + timedelta(seconds=12), usegmt=True),
               "Date": format_datetime(NOW, usegmt=True)}
    api.get(ACCOUNT, status=429, body="slow down", headers=headers)

    with pytest.raises(RateLimitError) as caught:
        adapter.fetch_balance()

    assert caught.value.retry_after == 12.0


def test_rate_limit_code_without_retry_after_then_no_named_wait(api, adapter):
    api.get(ACCOUNT, json={"code": 10006, "msg": "Requests too frequent", "data": None})

    with pytest.raises(RateLimitError) as caught:
        adapter.fetch_balance()

    assert caught.value.retry_after is None


def test_429_whose_wait_fits_the_budget_then_waited_out_and_the_read_succeeds(api, adapter):
    api.get(ACCOUNT, status=429, body="slow down", headers={"Retry-After": "2"})
    api.get(ACCOUNT, json=reply("account_object"))
    sleeps: list[float] = []

    balance = call_with_retry(adapter.fetch_balance, budget_seconds=5, sleep=sleeps.append, monotonic=lambda: 0.0)

    assert sleeps == [2.0] and balance.currency == "USDT"


def test_429_whose_wait_exceeds_the_budget_then_given_up_at_once(api, adapter):
    api.get(ACCOUNT, status=429, body="slow down", headers={"Retry-After": "30"})
    api.get(ACCOUNT, json=reply("account_object"))
    sleeps: list[float] = []

    with pytest.raises(RateLimitError):
        call_with_retry(adapter.fetch_balance, budget_seconds=5, sleep=sleeps.append, monotonic=lambda: 0.0)

    assert sleeps == [] and len(api.calls) == 1
