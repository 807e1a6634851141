import pytest

from riskmgr.errors import AuthError, RateLimitError, TemporaryError
from riskmgr.exchanges.retry import call_with_retry


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
