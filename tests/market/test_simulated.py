import itertools
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from riskmgr.core.clock import FixedClock
from riskmgr.market.base import TIMEFRAME_SECONDS, CandleArrays
from riskmgr.market.sim.market import SimulatedMarket

NOW = datetime(2026, 11, 21, 13, 37, 42, tzinfo=UTC)
BTC, ETH, SOL = "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"


@pytest.fixture(scope="module")
def market() -> SimulatedMarket:
    return SimulatedMarket(seed=42, clock=FixedClock(NOW))


def _same(a: CandleArrays, b: CandleArrays) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a._columns(), b._columns(), strict=True))


def _aggregate(minutes: CandleArrays, start_ms: int, step_s: int) -> tuple[float, float, float, float, float]:
    inside = (minutes.ts >= start_ms) & (minutes.ts < start_ms + step_s * 1000)
    assert inside.sum() == step_s // 60
    idx = np.flatnonzero(inside)
    return (
        minutes.open[idx[0]],
        minutes.high[idx].max(),
        minutes.low[idx].min(),
        minutes.close[idx[-1]],
        minutes.volume[idx].sum(),
    )


# -- the MarketData surface --------------------------------------------------------------------------


def test_market_is_labelled_simulated(market):
    assert market.source == "simulated"
    assert market.simulated is True


def test_offers_the_twenty_usdt_perpetuals_by_default(market):
    assert len(market.symbols()) == 20
    assert market.symbols()[:3] == [BTC, ETH, SOL]
    assert set(market.specs()) == set(market.symbols())


def test_symbols_can_be_restricted_to_a_subset():
    small = SimulatedMarket(seed=1, clock=FixedClock(NOW), symbols=[ETH, BTC])
    assert small.symbols() == [ETH, BTC]
    with pytest.raises(ValueError, match="SOL/USDT:USDT"):
        small.candles(SOL, "1h")


def test_unknown_symbol_in_constructor_is_refused():
    with pytest.raises(ValueError, match="'PEPE/USDT:USDT'"):
        SimulatedMarket(seed=1, clock=FixedClock(NOW), symbols=["PEPE/USDT:USDT"])


@pytest.mark.parametrize("seed", [-1, 1.5, True, "7"])
def test_seed_must_be_a_non_negative_whole_number(seed):
    with pytest.raises(ValueError, match="seed"):
        SimulatedMarket(seed=seed, clock=FixedClock(NOW))


def test_unknown_symbol_raises_naming_it(market):
    with pytest.raises(ValueError, match="'BTCUSDT'"):
        market.candles("BTCUSDT", "1h")
    with pytest.raises(ValueError, match="'BTCUSDT'"):
        market.ticker("BTCUSDT")
    with pytest.raises(ValueError, match="'BTCUSDT'"):
        market.path("BTCUSDT", NOW - timedelta(minutes=1), NOW)


@pytest.mark.parametrize("timeframe", ["7m", "1w", "1M", "", "60"])
def test_unknown_timeframe_raises_naming_it(market, timeframe):
    with pytest.raises(ValueError, match=f"unknown timeframe '{timeframe}'"):
        market.candles(BTC, timeframe)


@pytest.mark.parametrize("limit", [0, -5, 5001, True, 2.0])
def test_limit_outside_1_to_5000_raises_naming_it(market, limit):
    with pytest.raises(ValueError, match=f"limit={limit!r} is out of range; allowed 1..5000"):
        market.candles(BTC, "1h", limit=limit)


def test_time_before_the_anchor_or_naive_is_refused(market):
    with pytest.raises(ValueError, match="before the simulated market opens"):
        market.candles(BTC, "1h", end=datetime(2023, 12, 31, tzinfo=UTC))
    with pytest.raises(ValueError, match="timezone-aware"):
        market.ticker(BTC, at=datetime(2025, 1, 1))


# -- history and aggregation -------------------------------------------------------------------------


@pytest.mark.parametrize("timeframe", list(TIMEFRAME_SECONDS))
def test_every_timeframe_has_500_bars_of_history(market, timeframe):
    bars = market.candles(BTC, timeframe, limit=500)
    step_ms = TIMEFRAME_SECONDS[timeframe] * 1000
    assert len(bars) == 500
    assert np.all(np.diff(bars.ts) == step_ms)
    assert bars.ts[-1] <= NOW.timestamp() * 1000 < bars.ts[-1] + step_ms
    assert np.all(bars.low > 0)
    assert np.all((bars.low <= np.minimum(bars.open, bars.close)) & (bars.high >= np.maximum(bars.open, bars.close)))


@pytest.mark.parametrize("timeframe", [tf for tf in TIMEFRAME_SECONDS if tf != "1m"])
def test_closed_bars_are_the_exact_aggregate_of_their_1m_bars(market, timeframe):
    step = TIMEFRAME_SECONDS[timeframe]
    end = NOW - timedelta(days=3)
    bars = market.candles(ETH, timeframe, end=end, limit=3)
    minutes = market.candles(ETH, "1m", end=end, limit=min(5000, 2 * step // 60 + 1440))
    for i in range(2):  # the two closed bars
        o, h, lo, c, v = _aggregate(minutes, int(bars.ts[i]), step)
        assert (bars.open[i], bars.high[i], bars.low[i], bars.close[i]) == (o, h, lo, c)
        assert bars.volume[i] == pytest.approx(v, rel=1e-12)


def test_daily_bars_are_the_aggregate_of_their_hourly_bars(market):
    days = market.candles(SOL, "1d", limit=4)
    hours = market.candles(SOL, "1h", limit=4 * 24)
    for i in range(3):
        o, h, lo, c, v = _aggregate_hours(hours, int(days.ts[i]))
        assert (days.open[i], days.high[i], days.low[i], days.close[i]) == (o, h, lo, c)
        assert days.volume[i] == pytest.approx(v, rel=1e-12)


def _aggregate_hours(hours: CandleArrays, start_ms: int) -> tuple[float, ...]:
    idx = np.flatnonzero((hours.ts >= start_ms) & (hours.ts < start_ms + 86_400_000))
    assert idx.size == 24
    return (hours.open[idx[0]], hours.high[idx].max(), hours.low[idx].min(), hours.close[idx[-1]],
            hours.volume[idx].sum())


def test_each_bar_opens_at_the_previous_close(market):
    bars = market.candles(BTC, "15m", limit=200)
    assert np.array_equal(bars.open[1:], bars.close[:-1])


def test_a_bar_completed_by_its_last_second_equals_the_closed_bar(market):
    hour_end = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    forming = market.candles(BTC, "1h", end=hour_end - timedelta(seconds=1), limit=1)
    closed = market.candles(BTC, "1h", end=hour_end, limit=2)
    assert forming.ts[0] == closed.ts[0]
    assert (forming.open[0], forming.high[0], forming.low[0], forming.close[0]) == (
        closed.open[0], closed.high[0], closed.low[0], closed.close[0])
    assert forming.volume[0] == pytest.approx(closed.volume[0], rel=1e-12)


def test_limit_beyond_the_anchor_returns_the_history_there_is(market):
    bars = market.candles(BTC, "1d", end=datetime(2024, 1, 10, 12, tzinfo=UTC), limit=500)
    assert len(bars) == 10
    assert bars.ts[0] == datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000
    assert bars.open[0] == 42300.0


# -- the forming bar ---------------------------------------------------------------------------------


def test_forming_bar_moves_as_the_clock_advances():
    clock = FixedClock(datetime(2026, 11, 21, 9, 59, 50, tzinfo=UTC))
    market = SimulatedMarket(seed=42, clock=clock)
    seen = [market.candles(ETH, "1h", limit=2)]
    for _ in range(9):
        clock.advance(1)
        seen.append(market.candles(ETH, "1h", limit=2))
    lasts = [(b.ts[-1], b.high[-1], b.low[-1], b.close[-1], b.volume[-1]) for b in seen]
    assert len({ts for ts, *_ in lasts}) == 1
    assert len({close for *_, close, _ in lasts}) > 1
    assert all(a[1] <= b[1] and a[2] >= b[2] and a[4] < b[4] for a, b in itertools.pairwise(lasts))
    clock.advance(1)  # 10:00:00 — a new hour bar opens at the old one's close
    after = market.candles(ETH, "1h", limit=2)
    assert after.ts[-1] == after.ts[-2] + 3_600_000
    assert after.open[-1] == after.close[-2]


# -- determinism -------------------------------------------------------------------------------------


def _queries(market: SimulatedMarket, order: list[str]) -> dict[str, object]:
    run = {
        "1d": lambda: market.candles(SOL, "1d", limit=30),
        "1m": lambda: market.candles(SOL, "1m", limit=300),
        "4h": lambda: market.candles(SOL, "4h", limit=50),
        "path": lambda: market.path(SOL, NOW - timedelta(hours=4), NOW),
        "ticker": lambda: market.ticker(SOL),
    }
    return {name: run[name]() for name in order}


def test_same_seed_gives_identical_data_whatever_the_query_order():
    first = _queries(SimulatedMarket(seed=9, clock=FixedClock(NOW)), ["1d", "1m", "4h", "path", "ticker"])
    tiny_cache = SimulatedMarket(seed=9, clock=FixedClock(NOW), cache_days=1, cache_tick_hours=1)
    second = _queries(tiny_cache, ["ticker", "path", "4h", "1m", "1d"])
    for name in ("1d", "1m", "4h", "path"):
        assert _same(first[name], second[name]), name
    assert first["ticker"] == second["ticker"]


def test_concurrent_callers_get_the_same_data_as_a_single_caller():
    expected = _queries(SimulatedMarket(seed=9, clock=FixedClock(NOW)), ["1d", "1m", "4h", "path", "ticker"])
    shared = SimulatedMarket(seed=9, clock=FixedClock(NOW), cache_days=3, cache_tick_hours=2)
    orders = [["1d", "1m", "4h", "path", "ticker"], ["ticker", "path", "4h", "1m", "1d"]] * 3
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda order: _queries(shared, order), orders))
    for result in results:
        assert all(_same(expected[name], result[name]) for name in ("1d", "1m", "4h", "path"))
        assert result["ticker"] == expected["ticker"]


def test_different_seeds_give_different_paths():
    a = SimulatedMarket(seed=1, clock=FixedClock(NOW)).candles(BTC, "1d", limit=30)
    b = SimulatedMarket(seed=2, clock=FixedClock(NOW)).candles(BTC, "1d", limit=30)
    assert not np.array_equal(a.close, b.close)


_CHILD = """
from datetime import UTC, datetime
from riskmgr.core.clock import FixedClock
from riskmgr.market.sim.market import SimulatedMarket
m = SimulatedMarket(seed=9, clock=FixedClock(datetime(2026, 11, 21, 13, 37, 42, tzinfo=UTC)))
print(m.ticker("SOL/USDT:USDT").last, m.candles("SOL/USDT:USDT", "1h", limit=5).close.tolist())
"""


def test_another_process_with_another_hash_seed_gets_the_same_prices():
    market = SimulatedMarket(seed=9, clock=FixedClock(NOW))
    expected = f"{market.ticker(SOL).last} {market.candles(SOL, '1h', limit=5).close.tolist()}"
    root = Path(__file__).resolve().parents[2]
    env = {"PYTHONHASHSEED": "123", "PYTHONPATH": str(root)}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD], capture_output=True, text=True, env=env, cwd=root, check=True, timeout=60
    )
    assert out.stdout.strip() == expected


# -- tickers -----------------------------------------------------------------------------------------


def test_ticker_last_is_the_close_of_the_forming_minute_and_mark_equals_last(market):
    at = datetime(2026, 11, 21, 8, 15, 27, 600000, tzinfo=UTC)
    ticker = market.ticker(BTC, at=at)
    minute = market.candles(BTC, "1m", end=at, limit=1)
    assert ticker.last == Decimal(str(minute.close[0]))
    assert ticker.mark == ticker.last
    assert ticker.timestamp == datetime(2026, 11, 21, 8, 15, 27, tzinfo=UTC)
    assert ticker.last == ticker.last.quantize(market.specs()[BTC].price_tick)


def test_ticker_quote_volume_is_the_last_1440_closed_minutes(market):
    at = datetime(2026, 11, 21, 8, 15, 27, tzinfo=UTC)
    minutes = market.candles(BTC, "1m", end=at, limit=1441)
    expected = float(np.dot(minutes.volume[:-1], minutes.close[:-1]))
    assert float(market.ticker(BTC, at=at).volume_quote_24h) == pytest.approx(expected, rel=1e-9)


def test_tickers_gives_every_symbol_at_the_same_second(market):
    tickers = market.tickers()
    assert list(tickers) == market.symbols()
    assert all(t.timestamp == NOW.replace(microsecond=0) for t in tickers.values())
    assert tickers[ETH] == market.ticker(ETH)
