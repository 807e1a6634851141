"""The simulated market: the default, clearly labelled DEMO data source of riskmgr.

Twenty USDT perpetuals (BTC, ETH, SOL, BNB, XRP, DOGE, ADA, AVAX, LINK, DOT, LTC, TRX, BCH, NEAR, APT, ARB, OP,
SUI, ATOM, FIL) trade in a made-up market that starts on 2024-01-01 UTC at roughly the prices of that day and
runs for a century from there. Contract specs resemble Binance USDⓈ-M's (minimum notional 5 USDT everywhere).

How prices move, from the coarsest level to the finest:

* **Days.** Each symbol's daily log return is a trend plus a random shock plus, now and then, a jump. The size
  of the shock follows a volatility that wanders slowly from day to day (log volatility is an AR(1) process),
  so calm and stormy periods come in spells. The trend comes in regimes that last a couple of weeks on average
  and then switch to a new up, down or flat drift. Jumps of several percent hit every month or two, more
  often down than up, and push volatility up for the following days. Part of every ingredient is market-wide,
  so the alts follow BTC. A weak pull towards the starting price keeps levels realistic over the years.
  Typical daily volatility is about 2.5 % for BTC, 3 % for ETH and 4-5.5 % for most alts. Daily turnover
  grows with the volatility regime and with the size of the day's move.
* **Minutes.** Inside a day, the price runs as a Brownian bridge from the previous close to the day's close,
  faster in the busy hours of the Asian, European and US sessions and at random in some hours; a jump is a
  step at a random minute, followed by a more volatile rest of the day. Each minute's high and low are drawn
  from the exact law of the extremes of a Brownian bridge between its open and close. Minute volume follows
  the session and the size of the minute's move.
* **Seconds.** Inside a minute, 60 ticks run from the minute's open (tick 0) to its close (tick 59) through its
  high and its low, each touched once at a random second, along Brownian bridges clipped to the minute's range.

All prices sit on the symbol's tick. Every random number comes from a stream keyed by (seed, symbol, day or
hour), so a price is a pure function of (seed, symbol, time): two instances with the same seed, in any
processes, asked in any order, agree exactly. Every timeframe from 1m to 1d is the exact aggregate of the 1m
bars (first open, highest high, lowest low, last close, summed volume) and each 1m bar the aggregate of its
ticks. The last bar returned by ``candles`` is the one forming at the current second. The mark price is the
last price: there is no separate index or funding in this market.
"""

from __future__ import annotations

import math
import threading
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np

from riskmgr.core.clock import Clock
from riskmgr.core.domain import MarketSpec, Ticker
from riskmgr.market.base import TIMEFRAME_SECONDS, CandleArrays
from riskmgr.market.sim.daily import ANCHOR, ANCHOR_S, DAY_S, MAX_DAYS, DailyModel, symbol_key
from riskmgr.market.sim.intraday import MINUTES, MinuteDays, generate_minutes, hourly
from riskmgr.market.sim.specs import SIM_BY_SYMBOL, SimSymbol
from riskmgr.market.sim.store import HourStore, Lru
from riskmgr.market.sim.ticks import TickBlock, generate_ticks

MAX_LIMIT = 5000
TICK_WINDOW_S = 3 * 3600  # path() gives 1 s ticks for at least the last three hours of a span, 1m bars before
BATCH_DAYS = 64  # days generated per vectorized batch; bounds the temporary memory
HOUR_S = 3600


def _empty() -> CandleArrays:
    return CandleArrays(np.zeros(0, np.int64), *(np.zeros(0) for _ in range(5)))


def _concat(parts: list[CandleArrays]) -> CandleArrays:
    parts = [p for p in parts if len(p)]
    if not parts:
        return _empty()
    return CandleArrays(*(np.concatenate(cols) for cols in zip(*(p._columns() for p in parts), strict=True)))


def _group(start_s: int, step_s: int, cols: tuple[np.ndarray, ...], per_bar: int) -> CandleArrays:
    """Aggregate consecutive runs of ``per_bar`` bars (open, high, low, close, volume) into one bar each."""
    open_, high, low, close, volume = (c.reshape(-1, per_bar) for c in cols)
    n = open_.shape[0]
    ts = (ANCHOR_S + start_s + step_s * np.arange(n, dtype=np.int64)) * 1000
    return CandleArrays(ts, open_[:, 0], high.max(axis=1), low.min(axis=1), close[:, -1], volume.sum(axis=1))


class SimulatedMarket:
    """A deterministic simulated market implementing ``MarketData`` and ``PricePath``; thread-safe."""

    source = "simulated"
    simulated = True

    def __init__(
        self,
        seed: int,
        clock: Clock,
        symbols: list[str] | None = None,
        *,
        cache_days: int = 320,
        cache_tick_hours: int = 96,
    ):
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
            raise ValueError(f"seed={seed!r} is out of range; allowed a whole number 0..2**63-1")
        names = list(dict.fromkeys(SIM_BY_SYMBOL if symbols is None else symbols))
        if not names:
            raise ValueError("symbols is empty; give at least one symbol or None for all")
        for name in names:
            self._sim_for(name)
        self._seed = seed
        self._clock = clock
        self._sims: dict[str, SimSymbol] = {name: SIM_BY_SYMBOL[name] for name in names}
        self._keys = {name: symbol_key(name) for name in names}
        self._daily = DailyModel(seed)
        self._lock = threading.Lock()
        self._days: Lru[tuple[str, int], MinuteDays] = Lru(cache_days)
        self._ticks: Lru[tuple[str, int], TickBlock] = Lru(cache_tick_hours)
        self._hours = {name: HourStore() for name in names}

    # -- MarketData ---------------------------------------------------------------------------------
    def symbols(self) -> list[str]:
        """Return the unified symbols of the simulated perpetuals."""
        return list(self._sims)

    def specs(self) -> dict[str, MarketSpec]:
        """Return the contract specs by symbol."""
        return {name: sim.spec for name, sim in self._sims.items()}

    def ticker(self, symbol: str, at: datetime | None = None) -> Ticker:
        """Return the 1 s tick at ``at`` (default now) as last and mark price, with the last 24 h turnover."""
        self._check_symbol(symbol)
        return self._ticker(symbol, self._second(at, "at"))

    def tickers(self, at: datetime | None = None) -> dict[str, Ticker]:
        """Return the tickers of every symbol at the same second."""
        t = self._second(at, "at")
        return {name: self._ticker(name, t) for name in self._sims}

    def candles(self, symbol: str, timeframe: str, *, end: datetime | None = None, limit: int = 500) -> CandleArrays:
        """Return the last ``limit`` bars up to ``end`` (default now), oldest first, the last one still forming."""
        self._check_symbol(symbol)
        step = self._check_timeframe(timeframe)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit={limit!r} is out of range; allowed 1..{MAX_LIMIT}")
        t = self._second(end, "end")
        last_start = t - t % step
        first_start = max(0, last_start - (limit - 1) * step)
        closed = self._closed_bars(symbol, step, first_start, last_start)
        return _concat([closed, self._forming_bar(symbol, last_start, t)])

    # -- PricePath ----------------------------------------------------------------------------------
    def path(self, symbol: str, start: datetime, end: datetime) -> CandleArrays:
        """Return bars covering (start, end]: 1 s ticks (o=h=l=c) for the last three hours (from a whole minute)
        and for a partial first minute, 1m bars with their real high and low in between."""
        self._check_symbol(symbol)
        last = self._second(end, "end")
        first = max(0, self._second(start, "start", allow_before_anchor=True) + 1)
        if first > last:
            return _empty()
        zone = max(first, (last - TICK_WINDOW_S + 1) // 60 * 60)
        lead_end = min(-(-first // 60) * 60, zone)
        minutes = self._minute_cols(symbol, lead_end // 60, zone // 60)
        return _concat(
            [
                self._tick_bars(symbol, first, lead_end),
                _group(lead_end, 60, minutes, 1),
                self._tick_bars(symbol, zone, last + 1),
            ]
        )

    # -- validation ---------------------------------------------------------------------------------
    @staticmethod
    def _sim_for(symbol: str) -> SimSymbol:
        sim = SIM_BY_SYMBOL.get(symbol) if isinstance(symbol, str) else None
        if sim is None:
            raise ValueError(f"unknown symbol {symbol!r}; the simulated market has {', '.join(SIM_BY_SYMBOL)}")
        return sim

    def _check_symbol(self, symbol: str) -> None:
        if symbol not in self._sims:
            known = ", ".join(self._sims)
            raise ValueError(f"unknown symbol {symbol!r}; this simulated market has {known}")

    @staticmethod
    def _check_timeframe(timeframe: str) -> int:
        step = TIMEFRAME_SECONDS.get(timeframe) if isinstance(timeframe, str) else None
        if step is None:
            raise ValueError(f"unknown timeframe {timeframe!r}; allowed {', '.join(TIMEFRAME_SECONDS)}")
        return step

    def _second(self, when: datetime | None, name: str, *, allow_before_anchor: bool = False) -> int:
        """Return whole seconds since the anchor for ``when`` (default now)."""
        when = self._clock.now() if when is None else when
        if not isinstance(when, datetime) or when.tzinfo is None:
            raise ValueError(f"{name}={when!r} is not a timezone-aware datetime")
        t = math.floor(when.timestamp()) - ANCHOR_S
        if t < 0 and not allow_before_anchor:
            raise ValueError(f"{name}={when.isoformat()} is before the simulated market opens ({ANCHOR.isoformat()})")
        if t >= MAX_DAYS * DAY_S:
            raise ValueError(f"{name}={when.isoformat()} is beyond the simulated range ({MAX_DAYS} days)")
        return t

    # -- bars ---------------------------------------------------------------------------------------
    def _closed_bars(self, symbol: str, step: int, first_start: int, stop: int) -> CandleArrays:
        if stop <= first_start:
            return _empty()
        if step >= HOUR_S:
            cols = tuple(self._hour_cols(symbol, first_start // HOUR_S, stop // HOUR_S))
            return _group(first_start, step, cols, step // HOUR_S)
        return _group(first_start, step, self._minute_cols(symbol, first_start // 60, stop // 60), step // 60)

    def _forming_bar(self, symbol: str, bar_start: int, t: int) -> CandleArrays:
        """Aggregate the closed minutes of the bar so far (all in t's day) and the ticks of the forming minute."""
        day = self._day_rows(symbol, [t // DAY_S])[0]
        first, now = bar_start // 60 - (t // DAY_S) * MINUTES, t // 60 - (t // DAY_S) * MINUTES
        ticks, row, s = self._tick_block(symbol, t // HOUR_S), (t // 60) % 60, t % 60
        seconds = ticks.price[row, : s + 1]
        open_, high, low = seconds[0], seconds.max(), seconds.min()
        volume = ticks.cum_volume[row, s]
        if now > first:
            open_ = day.price[0, first]
            high = max(high, day.high[0, first:now].max())
            low = min(low, day.low[0, first:now].min())
            volume = volume + day.volume[0, first:now].sum()
        ts = np.array([(ANCHOR_S + bar_start) * 1000], dtype=np.int64)
        values = (open_, high, low, seconds[-1], volume)
        return CandleArrays(ts, *(np.array([float(v)]) for v in values))

    def _minute_cols(self, symbol: str, first: int, stop: int) -> tuple[np.ndarray, ...]:
        """Return open, high, low, close and volume of the closed minutes [first, stop) since the anchor."""
        if stop <= first:
            return tuple(np.zeros(0) for _ in range(5))
        first_day = first // MINUTES
        rows = self._day_rows(symbol, list(range(first_day, (stop - 1) // MINUTES + 1)))
        offset, count = first - first_day * MINUTES, stop - first
        cols = (
            np.concatenate([r.price[0, :-1] for r in rows]),
            np.concatenate([r.high[0] for r in rows]),
            np.concatenate([r.low[0] for r in rows]),
            np.concatenate([r.price[0, 1:] for r in rows]),
            np.concatenate([r.volume[0] for r in rows]),
        )
        return tuple(c[offset : offset + count] for c in cols)

    def _hour_cols(self, symbol: str, first: int, stop: int) -> np.ndarray:
        """Return the (5, n) hourly open, high, low, close and volume of hours [first, stop) since the anchor."""
        store = self._hours[symbol]
        with self._lock:
            missing = store.missing(first // 24, (stop - 1) // 24)
        for i in range(0, len(missing), BATCH_DAYS):
            batch = missing[i : i + BATCH_DAYS]
            fields = hourly(self._generate_days(symbol, batch))
            with self._lock:
                store.write(batch, fields)
        with self._lock:
            return store.read(first, stop)

    def _tick_bars(self, symbol: str, first: int, stop: int) -> CandleArrays:
        """Return the 1 s ticks of seconds [first, stop) as o=h=l=c bars."""
        if stop <= first:
            return _empty()
        first_hour = first // HOUR_S
        blocks = [self._tick_block(symbol, h) for h in range(first_hour, (stop - 1) // HOUR_S + 1)]
        offset = first - first_hour * HOUR_S
        prices = np.concatenate([b.price.ravel() for b in blocks])[offset : offset + stop - first]
        volumes = np.concatenate([b.volume.ravel() for b in blocks])[offset : offset + stop - first]
        ts = (ANCHOR_S + np.arange(first, stop, dtype=np.int64)) * 1000
        return CandleArrays(ts, prices, prices.copy(), prices.copy(), prices.copy(), volumes)

    # -- caches -------------------------------------------------------------------------------------
    def _generate_days(self, symbol: str, days: list[int]) -> MinuteDays:
        sim = self._sims[symbol]
        daily = self._daily.path(sim, max(days))
        return generate_minutes(
            self._seed, self._keys[symbol], days, daily, sim.price_decimals, float(sim.spec.price_tick)
        )

    def _day_rows(self, symbol: str, days: list[int]) -> list[MinuteDays]:
        """Return the minute bars of each day, from the LRU or generated in vectorized batches."""
        found: dict[int, MinuteDays] = {}
        with self._lock:
            for day in days:
                cached = self._days.get((symbol, day))
                if cached is not None:
                    found[day] = cached
        missing = [day for day in dict.fromkeys(days) if day not in found]
        for i in range(0, len(missing), BATCH_DAYS):
            batch = missing[i : i + BATCH_DAYS]
            generated = self._generate_days(symbol, batch)
            with self._lock:
                for j, day in enumerate(batch):
                    found[day] = generated.row(j)
                    self._days.put((symbol, day), found[day])
        return [found[day] for day in days]

    def _tick_block(self, symbol: str, hour: int) -> TickBlock:
        with self._lock:
            block = self._ticks.get((symbol, hour))
        if block is not None:
            return block
        day = self._day_rows(symbol, [hour // 24])[0]
        first = (hour % 24) * 60
        bars = (
            day.price[0, first : first + 60],
            day.high[0, first : first + 60],
            day.low[0, first : first + 60],
            day.price[0, first + 1 : first + 61],
            day.volume[0, first : first + 60],
        )
        sim = self._sims[symbol]
        block = generate_ticks(
            self._seed, self._keys[symbol], hour, bars, day.sd[0, first : first + 60],
            sim.price_decimals, float(sim.spec.price_tick),
        )
        with self._lock:
            self._ticks.put((symbol, hour), block)
        return block

    # -- tickers ------------------------------------------------------------------------------------
    def _ticker(self, symbol: str, t: int) -> Ticker:
        block = self._tick_block(symbol, t // HOUR_S)
        price = float(block.price[(t // 60) % 60, t % 60])
        decimals = self._sims[symbol].price_decimals
        last = Decimal(f"{price:.{decimals}f}")
        return Ticker(
            symbol=symbol,
            last=last,
            mark=last,  # no index price in this market: the mark is the last trade
            timestamp=datetime.fromtimestamp(ANCHOR_S + t, UTC),
            volume_quote_24h=self._quote_volume_24h(symbol, t),
        )

    def _quote_volume_24h(self, symbol: str, t: int) -> Decimal:
        """Return the USDT turnover of the last 1440 closed minutes (fewer on the very first day)."""
        day, minute = t // DAY_S, (t // 60) % MINUTES
        today = self._day_rows(symbol, [day])[0]
        total = float(np.dot(today.volume[0, :minute], today.price[0, 1 : minute + 1]))
        if day > 0:
            yesterday = self._day_rows(symbol, [day - 1])[0]
            total += float(np.dot(yesterday.volume[0, minute:], yesterday.price[0, minute + 1 :]))
        return Decimal(f"{total:.2f}")
