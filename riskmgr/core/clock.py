"""Injected clocks: the wall clock live, a fixed or stepping clock in tests and backtests."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Return the current time, timezone-aware in UTC."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to; thread-safe."""

    def __init__(self, start: datetime):
        if start.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float = 0, **kwargs: float) -> datetime:
        with self._lock:
            self._now = self._now + timedelta(seconds=seconds, **kwargs)
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when


def to_ms(when: datetime) -> int:
    """Return milliseconds since the epoch for an aware datetime."""
    return int(when.timestamp() * 1000)


def from_ms(ms: int | float) -> datetime:
    """Return an aware UTC datetime for milliseconds since the epoch."""
    return datetime.fromtimestamp(ms / 1000, UTC)
