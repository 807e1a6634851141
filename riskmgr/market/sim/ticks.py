"""The second layer of the simulated market: 60 one-second ticks inside each minute bar.

Tick 0 of a minute is its open (the previous minute's close) and tick 59 its close. Two other ticks, at random
seconds, are set to the minute's high and low, and the ticks in between follow Brownian bridges joining these
four points, clipped to the minute's range. So the ticks of a minute stay within its high and low and touch
both, and the minute bar is exactly the aggregate of its ticks. Ticks are generated an hour at a time, from a
stream keyed by (seed, symbol, hour).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from riskmgr.market.sim.daily import STREAM_TICKS, rng_for
from riskmgr.market.sim.intraday import to_grid

SECONDS = 60
_SECOND_INDEX = np.arange(SECONDS)


@dataclass(frozen=True)
class TickBlock:
    """Ticks of consecutive minutes, one row per minute: prices and base-coin volumes."""

    price: np.ndarray  # (n, 60)
    volume: np.ndarray  # (n, 60); each row sums to the minute's volume
    cum_volume: np.ndarray  # (n, 60) running total within the minute, for a forming bar


def _anchors(rng: np.random.Generator, n: int, bars: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Return per minute the 4 anchor seconds (0, first extreme, second extreme, 59) and their prices."""
    open_, high, low, close = bars
    at_high = rng.integers(1, SECONDS - 1, n)
    at_low = rng.integers(1, SECONDS - 2, n)
    at_low = at_low + (at_low >= at_high)  # a distinct second in 1..58
    high_first = at_high < at_low
    seconds = np.stack(
        [np.zeros(n, np.int64), np.minimum(at_high, at_low), np.maximum(at_high, at_low), np.full(n, SECONDS - 1)],
        axis=1,
    )
    values = np.stack([open_, np.where(high_first, high, low), np.where(high_first, low, high), close], axis=1)
    return seconds, values


def generate_ticks(
    seed: int, key: int, hour: int, bars: tuple[np.ndarray, ...], sd: np.ndarray, decimals: int, tick: float
) -> TickBlock:
    """Generate the ticks of the minutes of one hour (numbered from the anchor) from their OHLCV bars."""
    open_, high, low, close, volume = bars
    n = open_.shape[0]
    rng = rng_for(seed, key, STREAM_TICKS, hour)
    seconds, values = _anchors(rng, n, (open_, high, low, close))
    shocks = rng.standard_normal((n, SECONDS - 1))
    spread = rng.standard_exponential((n, SECONDS))
    step_sd = close * sd / np.sqrt(SECONDS)  # price units per second
    walk = np.zeros((n, SECONDS))
    np.cumsum(shocks * step_sd[:, None], axis=1, out=walk[:, 1:])
    ahead = _SECOND_INDEX[None, :]
    segment = (ahead >= seconds[:, 1:2]).astype(np.int64) + (ahead >= seconds[:, 2:3])
    first = np.take_along_axis(seconds, segment, axis=1)
    last = np.take_along_axis(seconds, np.minimum(segment + 1, 3), axis=1)
    v0, v1 = np.take_along_axis(values, segment, axis=1), np.take_along_axis(values, np.minimum(segment + 1, 3), axis=1)
    w0, w1 = np.take_along_axis(walk, first, axis=1), np.take_along_axis(walk, last, axis=1)
    frac = (_SECOND_INDEX[None, :] - first) / np.maximum(last - first, 1)
    prices = v0 + frac * (v1 - v0) + (walk - w0 - frac * (w1 - w0))
    prices = to_grid(np.clip(prices, low[:, None], high[:, None]), decimals, tick)
    np.put_along_axis(prices, seconds, values, axis=1)  # exact open, close, high and low
    moves = np.abs(np.diff(prices, axis=1, prepend=prices[:, :1])) / np.maximum(step_sd, tick)[:, None]
    share = spread * (0.3 + moves)
    cum = np.cumsum(share, axis=1)
    tick_volume = volume[:, None] * share / cum[:, -1:]
    cum_volume = volume[:, None] * cum / cum[:, -1:]
    for arr in (prices, tick_volume, cum_volume):
        arr.flags.writeable = False
    return TickBlock(prices, tick_volume, cum_volume)
