import numpy as np
import pytest

from riskmgr.market.sim.ticks import generate_ticks

# three hand-made minutes: a rise, a fall, and a minute that never moved
OPEN = np.array([100.0, 101.0, 99.5])
HIGH = np.array([101.2, 101.0, 99.5])
LOW = np.array([99.9, 98.7, 99.5])
CLOSE = np.array([101.0, 99.5, 99.5])
VOLUME = np.array([12.0, 30.0, 0.5])
SD = np.array([0.004, 0.006, 0.001])


@pytest.fixture(scope="module")
def ticks():
    return generate_ticks(3, 4, 5, (OPEN, HIGH, LOW, CLOSE, VOLUME), SD, 1, 0.1)


def test_ticks_run_from_the_open_to_the_close(ticks):
    assert ticks.price[:, 0].tolist() == OPEN.tolist()
    assert ticks.price[:, -1].tolist() == CLOSE.tolist()


def test_ticks_stay_within_the_minute_and_touch_its_high_and_low(ticks):
    assert ticks.price.max(axis=1).tolist() == HIGH.tolist()
    assert ticks.price.min(axis=1).tolist() == LOW.tolist()


def test_ticks_sit_on_the_price_tick(ticks):
    assert np.array_equal(np.round(ticks.price, 1), ticks.price)


def test_tick_volumes_add_up_to_the_minute_volume(ticks):
    np.testing.assert_allclose(ticks.volume.sum(axis=1), VOLUME, rtol=1e-12)
    assert ticks.cum_volume[:, -1].tolist() == VOLUME.tolist()
    assert np.all(np.diff(ticks.cum_volume, axis=1) > 0)


def test_same_keys_give_the_same_ticks_and_other_hours_differ(ticks):
    again = generate_ticks(3, 4, 5, (OPEN, HIGH, LOW, CLOSE, VOLUME), SD, 1, 0.1)
    other = generate_ticks(3, 4, 6, (OPEN, HIGH, LOW, CLOSE, VOLUME), SD, 1, 0.1)
    assert np.array_equal(again.price, ticks.price)
    assert not np.array_equal(other.price, ticks.price)


def test_ticks_are_read_only(ticks):
    with pytest.raises(ValueError):
        ticks.price[0, 0] = 1.0
