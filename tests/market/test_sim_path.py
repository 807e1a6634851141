from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest

from riskmgr.core.clock import FixedClock
from riskmgr.market.sim.market import SimulatedMarket

NOW = datetime(2026, 11, 21, 13, 37, 42, tzinfo=UTC)
BTC, DOGE = "BTC/USDT:USDT", "DOGE/USDT:USDT"
SECOND = timedelta(seconds=1)


@pytest.fixture(scope="module")
def market() -> SimulatedMarket:
    return SimulatedMarket(seed=11, clock=FixedClock(NOW))


def _ms(when: datetime) -> int:
    return int(when.timestamp()) * 1000


def test_short_path_is_every_second_after_start_up_to_end(market):
    start = NOW - timedelta(minutes=10)
    path = market.path(BTC, start, NOW)
    assert len(path) == 600
    assert path.ts[0] == _ms(start + SECOND)
    assert path.ts[-1] == _ms(NOW)
    assert np.all(np.diff(path.ts) == 1000)
    assert np.array_equal(path.open, path.close) and np.array_equal(path.high, path.low)
    assert np.array_equal(path.high, path.close)


def test_path_is_empty_when_end_is_not_after_start(market):
    assert len(market.path(BTC, NOW, NOW)) == 0
    assert len(market.path(BTC, NOW, NOW - SECOND)) == 0


def test_ticks_of_a_minute_start_at_its_open_end_at_its_close_and_touch_its_high_and_low(market):
    hour = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)
    ticks = market.path(DOGE, hour - SECOND, hour + timedelta(seconds=3599))
    minutes = market.candles(DOGE, "1m", end=hour + timedelta(seconds=3599), limit=60)
    prices, volumes = ticks.close.reshape(60, 60), ticks.volume.reshape(60, 60)
    assert minutes.ts[0] == _ms(hour)
    assert np.array_equal(prices[:, 0], minutes.open)
    assert np.array_equal(prices[:, -1], minutes.close)
    assert np.array_equal(prices.max(axis=1), minutes.high)
    assert np.array_equal(prices.min(axis=1), minutes.low)
    np.testing.assert_allclose(volumes.sum(axis=1), minutes.volume, rtol=1e-12)


def test_tick_prices_are_the_ticker_prices_of_those_seconds(market):
    path = market.path(BTC, NOW - timedelta(seconds=5), NOW)
    for ts, price in zip(path.ts, path.close, strict=True):
        at = datetime.fromtimestamp(ts / 1000, UTC)
        assert market.ticker(BTC, at=at).last == Decimal(str(price))


def test_long_path_tiles_the_span_with_minutes_then_seconds(market):
    start = NOW - timedelta(days=2, seconds=17)
    path = market.path(BTC, start, NOW)
    steps = np.diff(path.ts)
    assert path.ts[0] == _ms(start + SECOND) and path.ts[-1] == _ms(NOW)
    assert set(steps.tolist()) == {1000, 60_000}
    minute_bars = np.flatnonzero(steps == 60_000)
    # a partial first minute in seconds, whole minutes, then the last three hours in seconds
    assert path.ts[minute_bars[0]] % 60_000 == 0
    tick_span = path.ts[-1] - path.ts[minute_bars[-1] + 1] + 1000
    assert 3 * 3600 * 1000 <= tick_span < 3 * 3600 * 1000 + 60_000


def test_minute_bars_in_a_long_path_carry_the_real_high_and_low(market):
    start = NOW - timedelta(days=1)
    path = market.path(BTC, start, NOW)
    minutes = market.candles(BTC, "1m", end=NOW, limit=1440)
    in_path = np.isin(minutes.ts, path.ts[:-1][np.diff(path.ts) == 60_000])
    assert in_path.sum() > 1200
    picked = np.flatnonzero(np.isin(path.ts, minutes.ts[in_path]))
    assert np.array_equal(path.high[picked], minutes.high[in_path])
    assert np.array_equal(path.low[picked], minutes.low[in_path])


@pytest.mark.parametrize("hours_ago", [20, 1])
def test_a_level_inside_a_minute_range_is_crossed_by_the_path(market, hours_ago):
    minute_end = (NOW - timedelta(hours=hours_ago)).replace(second=59)
    bar = market.candles(DOGE, "1m", end=minute_end, limit=1)
    level = (bar.low[0] + bar.high[0]) / 2
    path = market.path(DOGE, NOW - timedelta(days=1), NOW)
    inside = (path.ts >= bar.ts[0]) & (path.ts < bar.ts[0] + 60_000)
    assert np.any(path.low[inside] <= level) and np.any(path.high[inside] >= level)
