from datetime import UTC, datetime

import pytest

from riskmgr.core.errors import AuthError, RateLimitError, TemporaryError
from riskmgr.exchanges.retry import call_with_retry, parse_retry_after, retry_after_from


def _flaky(failures: list[Exception], value: str = "ok"):
    def fn():
        if failures:
            raise failures.pop(0)
        return value

    return fn


def test_temporary_error_is_retried_until_success():
    sleeps: list[float] = []
    fn = _flaky([TemporaryError("timeout"), TemporaryError("timeout")])
    assert call_with_retry(fn, attempts=3, base_delay=0.1, sleep=sleeps.append) == "ok"
    assert sleeps == [0.1, 0.2]


def test_rate_limit_backs_off_twice_as_long():
    sleeps: list[float] = []
    call_with_retry(_flaky([RateLimitError("slow down")]), base_delay=0.1, sleep=sleeps.append)
    assert sleeps == [0.2]


def test_auth_error_is_not_retried():
    sleeps: list[float] = []
    with pytest.raises(AuthError):
        call_with_retry(_flaky([AuthError("bad key")]), sleep=sleeps.append)
    assert sleeps == []


def test_gives_up_when_attempts_run_out():
    with pytest.raises(TemporaryError):
        call_with_retry(_flaky([TemporaryError("a")] * 5), attempts=2, sleep=lambda s: None)


def test_gives_up_when_the_next_wait_would_exceed_the_budget():
    sleeps: list[float] = []
    with pytest.raises(TemporaryError):
        call_with_retry(
            _flaky([TemporaryError("a")] * 5), attempts=5, base_delay=1.0, budget_seconds=1.5, sleep=sleeps.append
        )
    assert sleeps == [1.0]


def _throttled(retry_after: float | None) -> RateLimitError:
    error = RateLimitError("HTTP 429")
    error.retry_after = retry_after
    return error


def test_rate_limit_naming_a_longer_wait_than_the_backoff_then_waits_that_long():
    sleeps: list[float] = []
    assert call_with_retry(_flaky([_throttled(3.0)]), base_delay=0.1, budget_seconds=5, sleep=sleeps.append) == "ok"
    assert sleeps == [3.0]


def test_rate_limit_naming_a_shorter_wait_than_the_backoff_then_the_backoff_wins():
    sleeps: list[float] = []
    call_with_retry(_flaky([_throttled(0.05)]), base_delay=0.1, sleep=sleeps.append)
    assert sleeps == [0.2]


def test_rate_limit_naming_a_wait_past_the_remaining_budget_then_gives_up_at_once_without_sleeping():
    sleeps: list[float] = []
    now = iter([0.0, 2.5])  # started, then 2.5 s used by the first call: 2.5 s left, 3 s asked

    with pytest.raises(RateLimitError):
        call_with_retry(_flaky([_throttled(3.0)] * 2), attempts=3, budget_seconds=5, sleep=sleeps.append,
                        monotonic=lambda: next(now))

    assert sleeps == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [("7", 7.0), ("0", 0.0), ("1.5", 1.5), ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
     ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0), ("-3", None), ("soon", None), ("", None), (None, None)],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(value, expected):
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after(value, now) == expected


def test_retry_after_http_date_is_measured_from_the_replys_date_header():
    headers = {"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT", "Date": "Wed, 21 Oct 2015 07:28:00 GMT"}
    assert retry_after_from(headers, None) == 10.0
