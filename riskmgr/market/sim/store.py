"""Caches of the simulated market: a bounded LRU for minute days and tick hours, and a per-symbol hourly store.

Neither class locks: the market holds its own lock around every call. Everything cached is a pure function of
(seed, symbol, time), so two threads that both miss simply compute the same values twice.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

import numpy as np

K = TypeVar("K")
V = TypeVar("V")

HOURLY_FIELDS = 5  # open, high, low, close, volume


class Lru(Generic[K, V]):
    """A least-recently-used map holding at most ``size`` entries."""

    def __init__(self, size: int):
        if size < 1:
            raise ValueError(f"cache size {size} is out of range; allowed at least 1")
        self._size = size
        self._data: OrderedDict[K, V] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: K) -> V | None:
        """Return the value for ``key`` (marking it recently used), or None when absent."""
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        """Store a value, evicting the least recently used entries beyond the size."""
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self._size:
            self._data.popitem(last=False)


class HourStore:
    """Hourly OHLCV of one symbol by day: 24 bars a day, ~1 KB, kept for every day ever asked for.

    The hourly layer is what every timeframe from 1h to 1d is aggregated from, so it is kept whole; its size is
    bounded by the number of simulated days (about 1 MB per symbol per three years).
    """

    def __init__(self) -> None:
        self._data = np.zeros((0, HOURLY_FIELDS, 24))
        self._have = np.zeros(0, dtype=bool)

    def missing(self, first_day: int, last_day: int) -> list[int]:
        """Return the days in first_day..last_day not stored yet."""
        have = np.zeros(last_day - first_day + 1, dtype=bool)
        known = self._have[first_day : last_day + 1]
        have[: known.shape[0]] = known
        return [first_day + int(i) for i in np.flatnonzero(~have)]

    def write(self, days: list[int], fields: tuple[np.ndarray, ...]) -> None:
        """Store the (n, 24) hourly open, high, low, close and volume of the given days."""
        need = max(days) + 1
        if need > self._have.shape[0]:
            size = max(need, 2 * self._have.shape[0])
            data = np.zeros((size, HOURLY_FIELDS, 24))
            data[: self._data.shape[0]] = self._data
            have = np.zeros(size, dtype=bool)
            have[: self._have.shape[0]] = self._have
            self._data, self._have = data, have
        idx = np.asarray(days)
        self._data[idx] = np.stack(fields, axis=1)
        self._have[idx] = True

    def read(self, first_hour: int, stop_hour: int) -> np.ndarray:
        """Return a (5, n) copy of the stored hours [first_hour, stop_hour); all their days must be stored."""
        first_day, last_day = first_hour // 24, (stop_hour - 1) // 24
        days = self._data[first_day : last_day + 1]
        flat = days.transpose(1, 0, 2).reshape(HOURLY_FIELDS, -1)
        offset = first_hour - first_day * 24
        return flat[:, offset : offset + stop_hour - first_hour].copy()
