"""Retry only temporary exchange errors, with exponential backoff, inside a time budget."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from riskmgr.errors import RateLimitError, TemporaryError

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")


def call_with_retry(
    fn: Callable[[], T],
    *,
    attempts: int = 3,
    base_delay: float = 0.2,
    budget_seconds: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    what: str = "exchange call",
) -> T:
    """Call ``fn``; on TemporaryError wait and try again (rate limits wait twice as long), then give up."""
    started = monotonic()
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except TemporaryError as exc:
            delay = base_delay * (2 ** (attempt - 1)) * (2 if isinstance(exc, RateLimitError) else 1)
            out_of_budget = monotonic() - started + delay > budget_seconds
            if attempt == attempts or out_of_budget:
                log.warning("giving up on %s after %d attempt(s): %s", what, attempt, exc)
                raise
            log.info("retrying %s in %.2fs after temporary error: %s", what, delay, exc)
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def retry_temporary(
    attempts: int = 3, base_delay: float = 0.2, budget_seconds: float = 5.0
) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Decorate a function so temporary errors are retried with backoff."""

    def decorate(fn: Callable[P, T]) -> Callable[P, T]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            return call_with_retry(
                lambda: fn(*args, **kwargs),
                attempts=attempts,
                base_delay=base_delay,
                budget_seconds=budget_seconds,
                what=fn.__qualname__,
            )

        return wrapper

    return decorate
