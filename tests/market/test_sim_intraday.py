import math

import numpy as np
import pytest

from riskmgr.market.sim.daily import DailyModel, symbol_key
from riskmgr.market.sim.intraday import MINUTES, SESSION_PROFILE, generate_minutes, hourly, to_grid
from riskmgr.market.sim.specs import SIM_BY_SYMBOL

SEED = 77
DOGE = SIM_BY_SYMBOL["DOGE/USDT:USDT"]
KEY = symbol_key(DOGE.spec.symbol)
TICK = float(DOGE.spec.price_tick)


@pytest.fixture(scope="module")
def daily():
    return DailyModel(SEED).path(DOGE, 40)


def _minutes(daily, days: list[int]):
    return generate_minutes(SEED, KEY, days, daily, DOGE.price_decimals, TICK)


def test_to_grid_rounds_to_the_tick_and_never_below_one_tick():
    prices = np.array([0.123456, 0.0000001, 1.000004])
    assert to_grid(prices, 5, 0.00001).tolist() == [0.12346, 0.00001, 1.0]


def test_a_day_opens_at_the_previous_close_and_closes_at_its_daily_close(daily):
    day = _minutes(daily, [10])
    assert day.price[0, 0] == round(math.exp(daily.close_log[9]), 5)
    assert day.price[0, -1] == round(math.exp(daily.close_log[10]), 5)


def test_a_day_is_the_same_generated_alone_or_in_a_batch(daily):
    alone = _minutes(daily, [12])
    batch = _minutes(daily, [3, 12, 30])
    for a, b in zip((alone.price, alone.high, alone.low, alone.volume, alone.sd),
                    (batch.price, batch.high, batch.low, batch.volume, batch.sd), strict=True):
        assert np.array_equal(a[0], b[1])


def test_minute_high_and_low_bound_open_and_close_and_sit_on_the_tick(daily):
    days = _minutes(daily, list(range(20)))
    open_, close = days.price[:, :-1], days.price[:, 1:]
    assert np.all(days.high >= np.maximum(open_, close))
    assert np.all(days.low <= np.minimum(open_, close))
    assert np.all(days.low > 0)
    for prices in (days.price, days.high, days.low):
        assert np.array_equal(np.round(prices, 5), prices)


def test_minute_volumes_add_up_to_the_days_turnover(daily):
    days = _minutes(daily, [5, 6])
    turnover = (days.volume * days.price[:, 1:]).sum(axis=1)
    np.testing.assert_allclose(turnover, daily.quote_volume[[5, 6]], rtol=1e-9)


def test_a_jump_shows_as_one_big_minute():
    daily = DailyModel(SEED).path(DOGE, 400)
    day = int(np.flatnonzero(daily.jump)[0])
    bars = _minutes(daily, [day])
    moves = np.abs(np.diff(np.log(bars.price[0])))
    assert int(np.argmax(moves)) == daily.jump_minute[day]
    assert moves.max() > 0.5 * abs(daily.jump[day])


def test_busy_hours_are_more_volatile_than_quiet_ones():
    us_session, late_evening = SESSION_PROFILE[14 * 60 : 16 * 60].mean(), SESSION_PROFILE[20 * 60 : 22 * 60].mean()
    assert us_session > 1.5 * late_evening
    assert SESSION_PROFILE.shape == (MINUTES,)


def test_hourly_aggregates_each_block_of_60_minutes(daily):
    days = _minutes(daily, [7])
    open_, high, low, close, volume = hourly(days)
    assert open_[0, 3] == days.price[0, 180]
    assert close[0, 3] == days.price[0, 240]
    assert high[0, 3] == days.high[0, 180:240].max()
    assert low[0, 3] == days.low[0, 180:240].min()
    assert volume[0, 3] == pytest.approx(days.volume[0, 180:240].sum(), rel=1e-12)
