"""The minute layer of the simulated market: 1440 one-minute bars inside each UTC day.

The log price inside a day is a Brownian bridge from the previous close to the day's close, run on a clock
that ticks faster in the busy hours (Asian open, European morning, US session) and, at random, faster in some
hours than others. A jump, if the day has one, is a step at its minute, after which the rest of the day is
more volatile. Each minute's high and low are drawn from the exact distribution of the maximum and minimum of
a Brownian bridge between the minute's open and close, so no per-second path is needed to know them. Prices
are rounded to the symbol's tick. Every day draws from its own stream keyed by (seed, symbol, day).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from riskmgr.market.sim.daily import STREAM_MINUTES, DailyPath, rng_for

MINUTES = 1440
HOUR_VOL_SD = 0.35  # spread of the random hour-to-hour variance factor (intraday volatility clustering)
POST_JUMP_VAR = 2.5  # variance multiplier for the minutes after a jump
_MINUTE_INDEX = np.arange(MINUTES)
_POINT_INDEX = np.arange(MINUTES + 1)


def _session_profile() -> np.ndarray:
    hours = _MINUTE_INDEX / 60.0
    busy = (
        0.8 * np.exp(-(((hours - 14.5) / 1.5) ** 2))  # US session
        + 0.35 * np.exp(-(((hours - 1.0) / 1.5) ** 2))  # Asian open
        + 0.3 * np.exp(-(((hours - 8.0) / 1.0) ** 2))  # European morning
    )
    return 1.0 + busy


SESSION_PROFILE = _session_profile()


def to_grid(prices: np.ndarray, decimals: int, tick: float) -> np.ndarray:
    """Round prices to the tick (a power of ten) and keep them at least one tick; monotone, so order survives."""
    return np.maximum(np.round(prices, decimals), tick)


@dataclass(frozen=True)
class MinuteDays:
    """Minute bars of several days, one row per day."""

    price: np.ndarray  # (n, 1441): price[:, m] opens minute m and price[:, m + 1] closes it
    high: np.ndarray  # (n, 1440)
    low: np.ndarray
    volume: np.ndarray  # base-coin volume
    sd: np.ndarray  # standard deviation of the minute's log return (without a jump)

    def row(self, i: int) -> MinuteDays:
        """Return day ``i`` alone as read-only (1, ...) arrays."""
        parts = [a[i : i + 1].copy() for a in (self.price, self.high, self.low, self.volume, self.sd)]
        for a in parts:
            a.flags.writeable = False
        return MinuteDays(*parts)


def _draws(seed: int, key: int, days: list[int]) -> tuple[np.ndarray, ...]:
    n = len(days)
    shocks, extremes = np.empty((n, MINUTES)), np.empty((n, 2, MINUTES))
    noise, hour_noise = np.empty((n, MINUTES)), np.empty((n, 24))
    for i, day in enumerate(days):  # one stream per day: a loop per day, the draws themselves vectorized
        rng = rng_for(seed, key, STREAM_MINUTES, day)
        rng.standard_normal(out=shocks[i])
        rng.standard_exponential(out=extremes[i])
        rng.standard_normal(out=noise[i])
        rng.standard_normal(out=hour_noise[i])
    return shocks, extremes, noise, hour_noise


def _clock(sigma: np.ndarray, jump_minute: np.ndarray, hour_noise: np.ndarray) -> tuple[np.ndarray, ...]:
    """Return the minute weights, the bridge's time (0..1 at each minute boundary) and each minute's variance."""
    weight = SESSION_PROFILE[None, :] * np.exp(HOUR_VOL_SD * np.repeat(hour_noise, 60, axis=1))
    after_jump = (_MINUTE_INDEX[None, :] > jump_minute[:, None]) & (jump_minute[:, None] >= 0)
    weight = np.where(after_jump, weight * POST_JUMP_VAR, weight)
    cum = np.cumsum(weight, axis=1)
    total = cum[:, -1:]  # cumsum rather than sum: the same arithmetic whatever the batch
    tau = np.zeros((weight.shape[0], MINUTES + 1))
    tau[:, 1:] = cum / total
    variance = weight / total * (sigma * sigma)[:, None]
    return weight, tau, variance


def generate_minutes(seed: int, key: int, days: list[int], daily: DailyPath, decimals: int, tick: float) -> MinuteDays:
    """Generate the minute bars of the given days (numbered from the anchor) of one symbol."""
    idx = np.asarray(days, dtype=np.int64)
    shocks, extremes, noise, hour_noise = _draws(seed, key, days)
    start, end = daily.open_log[idx][:, None], daily.close_log[idx][:, None]
    jump, jump_minute = daily.jump[idx][:, None], daily.jump_minute[idx]
    weight, tau, variance = _clock(daily.sigma[idx], jump_minute, hour_noise)
    sd = np.sqrt(variance)
    walk = np.zeros_like(tau)
    np.cumsum(sd * shocks, axis=1, out=walk[:, 1:])
    bridge = walk - tau * walk[:, -1:]
    # point m + 1 closes minute m, so a jump in minute j shows from point j + 1 on
    stepped = (_POINT_INDEX[None, :] > jump_minute[:, None]) & (jump_minute[:, None] >= 0)
    path = start + tau * (end - start - jump) + bridge + np.where(stepped, jump, 0.0)
    path[:, :1], path[:, -1:] = start, end  # exact ends: the next day starts where this one closed
    price = to_grid(np.exp(path), decimals, tick)
    open_, close = price[:, :-1], price[:, 1:]
    high, low = _extremes(path, variance, extremes, decimals, tick)
    high = np.maximum(high, np.maximum(open_, close))
    low = np.minimum(low, np.minimum(open_, close))
    activity = np.abs(np.diff(path, axis=1)) / sd
    share = weight * (0.5 + activity) * np.exp(0.3 * noise)  # busier minutes and bigger moves trade more
    cum_share = np.cumsum(share, axis=1)
    volume = daily.quote_volume[idx][:, None] * (share / cum_share[:, -1:]) / close
    return MinuteDays(price, high, low, volume, sd)


def _extremes(
    path: np.ndarray, variance: np.ndarray, extremes: np.ndarray, decimals: int, tick: float
) -> tuple[np.ndarray, np.ndarray]:
    """Draw each minute's high and low from the law of a Brownian bridge's maximum and minimum.

    For a bridge from a to b with variance v, P(max > m) = exp(-2 (m - a)(m - b) / v); solving for m at an
    Exp(1) draw E gives m = (a + b + sqrt((a - b)² + 2 v E)) / 2, and symmetrically for the minimum.
    """
    first, last = path[:, :-1], path[:, 1:]
    mid, gap2 = 0.5 * (first + last), (first - last) ** 2
    high = mid + 0.5 * np.sqrt(gap2 + 2.0 * variance * extremes[:, 0])
    low = mid - 0.5 * np.sqrt(gap2 + 2.0 * variance * extremes[:, 1])
    return to_grid(np.exp(high), decimals, tick), to_grid(np.exp(low), decimals, tick)


def hourly(days: MinuteDays) -> tuple[np.ndarray, ...]:
    """Aggregate minute bars to (n, 24) hourly open, high, low, close and volume."""
    n = days.high.shape[0]
    open_ = days.price[:, :-1].reshape(n, 24, 60)[:, :, 0]
    close = days.price[:, 1:].reshape(n, 24, 60)[:, :, -1]
    high = days.high.reshape(n, 24, 60).max(axis=2)
    low = days.low.reshape(n, 24, 60).min(axis=2)
    volume = days.volume.reshape(n, 24, 60).sum(axis=2)
    return open_, high, low, close, volume
