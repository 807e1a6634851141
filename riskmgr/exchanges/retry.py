"""Retry only temporary exchange errors, with exponential backoff, inside a time budget.

A rate limit that names its wait (``Retry-After``) is waited out when the wait fits in what is left of the
budget; when it does not, the call gives up at once rather than sleep past the budget.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import ParamSpec, TypeVar

from riskmgr.core.errors import RateLimitError, TemporaryError

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
            asked = exc.retry_after if isinstance(exc, RateLimitError) else None
            if asked is not None:  # the venue named its wait: never come back sooner
                delay = max(delay, asked)
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


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Return the wait a ``Retry-After`` value asks for in seconds (delta-seconds or HTTP-date), None if unreadable.

    An HTTP-date needs ``now`` (the reply's own ``Date`` header or the injected clock); without it, None.
    """
    text = (value or "").strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = None
    if seconds is not None:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if now is None or when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def retry_after_from(headers: Mapping[str, str] | None, now: datetime | None = None) -> float | None:
    """Return the ``Retry-After`` wait of a reply's headers (case-insensitive), measured from its ``Date`` if any."""
    found = {str(k).lower(): v for k, v in (headers or {}).items()}
    reference = now
    if found.get("date"):
        try:
            reference = parsedate_to_datetime(str(found["date"]))
        except (TypeError, ValueError, IndexError):
            reference = now  # an unreadable Date header: fall back to the caller's clock
    return parse_retry_after(found.get("retry-after"), reference)
