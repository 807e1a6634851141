import numpy as np
import pytest

from riskmgr.market.sim.store import HourStore, Lru


def test_lru_evicts_the_least_recently_used_entry():
    cache: Lru[str, int] = Lru(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "b" is now the oldest
    cache.put("c", 3)
    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c"), len(cache)) == (1, 3, 2)


def test_lru_size_must_be_positive():
    with pytest.raises(ValueError, match="cache size 0"):
        Lru(0)


def _day(value: float) -> tuple[np.ndarray, ...]:
    hours = np.arange(24, dtype=float)[None, :] + value
    return tuple(hours + offset for offset in range(5))


def test_hour_store_reports_missing_days_and_reads_across_days():
    store = HourStore()
    assert store.missing(0, 2) == [0, 1, 2]
    store.write([1, 2], tuple(np.concatenate(pair) for pair in zip(_day(100), _day(200), strict=True)))
    assert store.missing(0, 3) == [0, 3]
    got = store.read(24 + 22, 48 + 2)  # 22:00 of day 1 to 02:00 of day 2
    assert got.shape == (5, 4)
    assert got[0].tolist() == [122.0, 123.0, 200.0, 201.0]
    assert got[4].tolist() == [126.0, 127.0, 204.0, 205.0]
