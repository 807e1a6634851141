"""The candle store: incremental fetches from mocked exchange klines, gap repair, cleaning, simulated bars."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pytest
import responses

from riskmgr.candles.ccxt_source import BinanceSource, BitgetSource
from riskmgr.candles.sources import BitunixSource
from riskmgr.candles.store import CandleDataError, CandleStore
from riskmgr.core.clock import from_ms, to_ms
from riskmgr.core.errors import RateLimitError, TemporaryError, ValidationError

BAR = 900_000  # 15m
BTC = "BTC/USDT:USDT"
BINANCE_KLINES = "https://fapi.binance.com/fapi/v1/klines"
BITGET_CANDLES = "https://api.bitget.com/api/v2/mix/market/candles"
BITGET_HISTORY = "https://api.bitget.com/api/v2/mix/market/history-candles"
BITUNIX_KLINE = "https://fapi.bitunix.com/api/v1/futures/market/kline"


def bar(ts: int) -> tuple[int, float, float, float, float, float]:
    """A deterministic sound bar for any open time."""
    k = ts // BAR
    o = 100 + (k % 37) * 0.5
    c = o + (0.25 if k % 2 else -0.25)
    return ts, o, max(o, c) + 0.1, min(o, c) - 0.1, c, 10.0 + k % 5


class KlineServer:
    """Answers kline requests for any window with ``bar`` rows, minus what a test takes away."""

    def __init__(self, clock):
        self.clock = clock
        self.calls: list[dict[str, str]] = []
        self.omit: set[int] = set()  # never served
        self.omit_once: set[int] = set()  # missing from the first reply that should contain it
        self.listing_ms = 0  # no bars before this
        self.edit: Callable[[list[tuple]], list[tuple]] = lambda rows: rows  # applied once to the first reply

    def rows(self, start: int, end: int, limit: int) -> list[tuple]:
        first = max(-(-start // BAR) * BAR, -(-self.listing_ms // BAR) * BAR)
        out = []
        for ts in range(first, min(end, to_ms(self.clock.now())) + 1, BAR):
            if ts in self.omit or ts in self.omit_once:
                self.omit_once.discard(ts)
                continue
            out.append(bar(ts))
        out = out[:limit]
        edit, self.edit = self.edit, (lambda rows: rows)
        return edit(out)


def query(request) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(request.url).query))


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def now(clock):
    clock.advance(minutes=7)  # mid-bar: a forming bar exists and must never be stored
    return clock.now()


@pytest.fixture
def server(clock, now) -> KlineServer:
    return KlineServer(clock)


def _noop(_seconds: float) -> None:
    return None


@pytest.fixture
def store(runtime, clock) -> CandleStore:
    sources = {
        "binanceusdm": BinanceSource(clock, throttle=False, sleep=_noop),
        "bitget": BitgetSource(clock, throttle=False, sleep=_noop),
        "bitunix": BitunixSource(clock, sleep=_noop),
    }
    return CandleStore(runtime.engine, clock, runtime.market, sources)


def serve_binance(http: responses.RequestsMock, server: KlineServer) -> None:
    http.add(responses.GET, "https://fapi.binance.com/fapi/v1/exchangeInfo", json={"symbols": [
        {"symbol": "BTCUSDT", "baseAsset": "BTC", "quoteAsset": "USDT", "marginAsset": "USDT",
         "contractType": "PERPETUAL", "status": "TRADING"},
        {"symbol": "BTCUSDT_261225", "baseAsset": "BTC", "quoteAsset": "USDT", "marginAsset": "USDT",
         "contractType": "CURRENT_QUARTER", "status": "TRADING"},
    ]})

    def klines(request):
        q = query(request)
        server.calls.append(q)
        rows = server.rows(int(q["startTime"]), int(q["endTime"]), int(q["limit"]))
        body = [[ts, str(o), str(h), str(lo), str(c), str(v), ts + BAR - 1, "1", 1, "0", "0", "0"]
                for ts, o, h, lo, c, v in rows]
        return 200, {}, json.dumps(body)

    http.add_callback(responses.GET, re.compile(re.escape(BINANCE_KLINES) + r"\?.*"), callback=klines)


def serve_bitget(http: responses.RequestsMock, server: KlineServer) -> None:
    http.add(responses.GET, re.compile(r"https://api\.bitget\.com/api/v2/mix/market/contracts\?.*"), json={
        "code": "00000", "msg": "success", "requestTime": 1, "data": [
            {"symbol": "BTCUSDT", "baseCoin": "BTC", "quoteCoin": "USDT", "symbolType": "perpetual",
             "symbolStatus": "normal"},
            {"symbol": "OLDUSDT", "baseCoin": "OLD", "quoteCoin": "USDT", "symbolType": "perpetual",
             "symbolStatus": "off"},
        ]})

    def candles(request):
        q = query(request)
        server.calls.append(q | {"path": urlsplit(request.url).path})
        rows = server.rows(int(q["startTime"]), int(q["endTime"]), int(q["limit"]))
        data = [[str(ts), str(o), str(h), str(lo), str(c), str(v), str(v * c)] for ts, o, h, lo, c, v in rows]
        return 200, {}, json.dumps({"code": "00000", "msg": "success", "requestTime": 1, "data": data})

    for url in (BITGET_CANDLES, BITGET_HISTORY):
        http.add_callback(responses.GET, re.compile(re.escape(url) + r"\?.*"), callback=candles)


def serve_bitunix(http: responses.RequestsMock, server: KlineServer) -> None:
    http.add(responses.GET, "https://fapi.bitunix.com/api/v1/futures/market/trading_pairs", json={
        "code": 0, "msg": "Success", "data": [
            {"symbol": "BTCUSDT", "base": "BTC", "quote": "USDT", "minTradeVolume": "0.0001", "basePrecision": 4,
             "quotePrecision": 1, "maxLeverage": 125, "symbolStatus": "OPEN"}]})

    def kline(request):
        q = query(request)
        server.calls.append(q)
        rows = server.rows(int(q["startTime"]), int(q["endTime"]), int(q["limit"]))
        # documented shape: OHLC as numbers, volumes as strings; newest first (the docs promise no order)
        data = [{"open": o, "high": h, "low": lo, "close": c, "time": ts, "quoteVol": str(v), "baseVol": str(v * c),
                 "type": "LAST_PRICE"} for ts, o, h, lo, c, v in reversed(rows)]
        return 200, {}, json.dumps({"code": 0, "msg": "Success", "data": data})

    http.add_callback(responses.GET, re.compile(re.escape(BITUNIX_KLINE) + r"\?.*"), callback=kline)


def last_closed(now) -> int:
    return to_ms(now) // BAR * BAR - BAR


# -- incremental fetches -----------------------------------------------------------------------------------


def test_binance_second_fetch_asks_only_for_the_bars_closed_since(store, http, server, clock, now):
    serve_binance(http, server)
    since = from_ms(last_closed(now) - 9 * BAR)

    first = store.fetch("binanceusdm", BTC, "15m", since)
    clock.advance(minutes=30)
    second = store.fetch("binanceusdm", BTC, "15m", since)

    assert (first.fetched, first.requests, first.gaps) == (10, 1, ())
    assert server.calls[0]["startTime"] == str(to_ms(since)) and server.calls[0]["interval"] == "15m"
    assert server.calls[0]["symbol"] == "BTCUSDT"
    assert (second.fetched, second.already_stored, second.requests) == (2, 10, 1)
    assert server.calls[1]["startTime"] == str(last_closed(now) + BAR)
    assert server.calls[1]["limit"] == "2"


def test_binance_fetch_with_everything_stored_sends_no_kline_request(store, http, server, now):
    serve_binance(http, server)
    since = from_ms(last_closed(now) - 4 * BAR)
    store.fetch("binanceusdm", BTC, "15m", since)

    again = store.fetch("binanceusdm", BTC, "15m", since)

    assert (again.requests, again.fetched, again.already_stored) == (0, 0, 5)
    assert len(server.calls) == 1


def test_bitget_recent_bars_come_from_candles_and_the_second_fetch_only_asks_for_new_ones(
        store, http, server, clock, now):
    serve_bitget(http, server)
    since = from_ms(last_closed(now) - 99 * BAR)

    first = store.fetch("bitget", BTC, "15m", since)
    clock.advance(minutes=15)
    second = store.fetch("bitget", BTC, "15m", since)

    assert (first.fetched, first.requests) == (100, 1)
    call = server.calls[0]
    assert call["path"] == "/api/v2/mix/market/candles"
    assert (call["productType"], call["granularity"], call["symbol"]) == ("USDT-FUTURES", "15m", "BTCUSDT")
    assert (second.fetched, server.calls[1]["startTime"]) == (1, str(last_closed(now) + BAR))


def test_bitget_bars_older_than_the_recent_window_come_from_history_candles_200_at_a_time(
        store, http, server, now):
    serve_bitget(http, server)
    since = from_ms(last_closed(now)) - timedelta(days=40)
    until = since + timedelta(minutes=15 * 450)

    report = store.fetch("bitget", BTC, "15m", since, until=until)

    paths = [c["path"] for c in server.calls]
    assert paths == ["/api/v2/mix/market/history-candles"] * 3
    assert [c["limit"] for c in server.calls] == ["200", "200", "50"]
    assert (report.fetched, report.gaps_found) == (450, 0)


def test_bitunix_pages_200_bars_a_request_and_sorts_newest_first_replies_without_complaint(
        store, http, server, clock, now):
    serve_bitunix(http, server)
    since = from_ms(last_closed(now) - 449 * BAR)

    first = store.fetch("bitunix", BTC, "15m", since)
    clock.advance(minutes=15)
    second = store.fetch("bitunix", BTC, "15m", since)

    assert (first.fetched, first.requests, first.out_of_order, first.gaps) == (450, 3, 0, ())
    assert [c["limit"] for c in server.calls[:3]] == ["200", "200", "50"]
    assert server.calls[0]["interval"] == "15m" and server.calls[0]["symbol"] == "BTCUSDT"
    assert (second.fetched, second.requests, server.calls[3]["startTime"]) == (1, 1, str(last_closed(now) + BAR))
    series = store.candles("bitunix", BTC, "15m", limit=451)
    assert len(series) == 451 and set(np.diff(series.ts).tolist()) == {BAR}


# -- gaps, order, duplicates, broken rows ------------------------------------------------------------------


def test_a_missing_bar_is_asked_for_again_and_the_repair_is_reported(store, http, server, now):
    serve_binance(http, server)
    hole = last_closed(now) - 5 * BAR
    server.omit_once = {hole}

    report = store.fetch("binanceusdm", BTC, "15m", from_ms(last_closed(now) - 9 * BAR))

    assert (report.gaps_found, report.gaps_repaired, report.unrepaired) == (1, 1, [])
    assert report.gaps[0].start == from_ms(hole) and report.gaps[0].count == 1
    assert (server.calls[1]["startTime"], server.calls[1]["limit"]) == (str(hole), "1")
    assert report.fetched == 10


def test_a_gap_the_exchange_cannot_fill_is_reported_with_count_and_place_and_the_series_refused(
        store, http, server, now):
    serve_binance(http, server)
    holes = {last_closed(now) - 5 * BAR, last_closed(now) - 4 * BAR}
    server.omit = holes

    report = store.fetch("binanceusdm", BTC, "15m", from_ms(last_closed(now) - 9 * BAR))

    (gap,) = report.unrepaired
    assert (gap.start, gap.count, gap.repaired) == (from_ms(min(holes)), 2, False)
    assert "2 bars missing at " + from_ms(min(holes)).isoformat() in gap.describe()
    with pytest.raises(CandleDataError, match="1 unrepaired gap"):
        store.candles("binanceusdm", BTC, "15m", limit=10)


def test_rows_out_of_order_and_identical_duplicates_are_counted_and_stored_once_in_order(store, http, server, now):
    serve_binance(http, server)
    server.edit = lambda rows: [rows[1], rows[0], *rows[2:], rows[3]]

    report = store.fetch("binanceusdm", BTC, "15m", from_ms(last_closed(now) - 9 * BAR))

    assert (report.out_of_order, report.duplicates, report.fetched, report.gaps) == (2, 1, 10, ())
    series = store.candles("binanceusdm", BTC, "15m", limit=10)
    assert series.ts.tolist() == list(range(last_closed(now) - 9 * BAR, last_closed(now) + 1, BAR))


def test_a_time_sent_twice_with_different_values_is_refused_and_fetched_again(store, http, server, now):
    serve_binance(http, server)
    ts = last_closed(now) - 3 * BAR
    server.edit = lambda rows: [*rows, (ts, 1.0, 2.0, 0.5, 1.5, 1.0)]

    report = store.fetch("binanceusdm", BTC, "15m", from_ms(last_closed(now) - 9 * BAR))

    assert (report.conflicts, report.gaps_repaired, report.unrepaired) == (1, 1, [])
    series = store.candles("binanceusdm", BTC, "15m", limit=10)
    assert series.close[series.ts.tolist().index(ts)] == bar(ts)[4]


def test_a_broken_bar_is_refused_with_its_reason_and_fetched_again(store, http, server, now):
    serve_binance(http, server)
    ts = last_closed(now) - 2 * BAR
    server.edit = lambda rows: [r if r[0] != ts else (ts, 100.0, 99.0, 101.0, 100.0, 1.0) for r in rows]

    report = store.fetch("binanceusdm", BTC, "15m", from_ms(last_closed(now) - 9 * BAR))

    assert report.rejected == (f"{from_ms(ts).isoformat()}: high 99 / low 101 do not contain open 100 and close 100",)
    assert (report.gaps_repaired, report.fetched) == (1, 10)


def test_the_forming_bar_is_never_stored(store, http, server, now):
    serve_binance(http, server)

    report = store.fetch("binanceusdm", BTC, "15m", from_ms(last_closed(now) - 2 * BAR))
    series = store.candles("binanceusdm", BTC, "15m", limit=3)

    assert report.end == from_ms(last_closed(now))
    assert int(series.ts[-1]) == last_closed(now)
    assert int(series.ts[-1]) + BAR <= to_ms(now)


def test_bars_before_a_listing_are_history_not_a_gap(store, http, server, now):
    serve_binance(http, server)
    server.listing_ms = last_closed(now) - 4 * BAR

    report = store.fetch("binanceusdm", BTC, "15m", from_ms(last_closed(now) - 9 * BAR))
    series = store.candles("binanceusdm", BTC, "15m", limit=10)

    assert (report.gaps, report.history_starts, report.fetched) == ((), from_ms(server.listing_ms), 5)
    assert len(series) == 5
    assert len(server.calls) == 1  # the store remembers where the history starts: no new request


# -- reading -----------------------------------------------------------------------------------------------


def test_candles_fetches_what_is_missing_then_serves_from_memory(store, http, server, now):
    serve_binance(http, server)

    first = store.candles("binanceusdm", BTC, "15m", limit=20)
    second = store.candles("binanceusdm", BTC, "15m", limit=20)

    assert len(first) == 20 and np.array_equal(first.close, second.close)
    assert len(server.calls) == 1
    assert first.close[-1] == bar(last_closed(now))[4]


def test_a_new_store_on_the_same_database_reads_the_cache_without_asking_the_exchange(
        store, http, server, runtime, clock, now):
    serve_binance(http, server)
    store.candles("binanceusdm", BTC, "15m", limit=20)
    fresh = CandleStore(runtime.engine, clock, runtime.market,
                        {"binanceusdm": BinanceSource(clock, throttle=False, sleep=_noop)})

    series = fresh.candles("binanceusdm", BTC, "15m", start=from_ms(last_closed(now) - 19 * BAR))

    assert len(series) == 20
    assert len(server.calls) == 1


def test_simulated_candles_are_closed_evenly_spaced_bars_of_the_simulated_market(store, runtime, now):
    series = store.candles("simulated", BTC, "15m", limit=1000)
    market = runtime.market.candles(BTC, "15m", limit=1001)

    assert len(series) == 1000
    assert int(series.ts[-1]) == last_closed(now)
    assert set(np.diff(series.ts).tolist()) == {BAR}
    assert np.array_equal(series.close, market.close[:-1])  # the market's last bar is still forming


def test_simulated_candles_longer_than_one_market_request_are_joined_without_gap(store, now):
    start = now - timedelta(minutes=6500)

    series = store.candles("simulated", BTC, "1m", start=start, end=now)

    assert len(series) == 6500
    assert set(np.diff(series.ts).tolist()) == {60_000}


def test_simulated_fetch_caches_nothing_and_says_so(store, now):
    report = store.fetch("simulated", BTC, "15m", now - timedelta(hours=1))

    assert (report.fetched, report.requests) == (0, 0)
    assert "generated on demand" in report.note


def test_sources_and_symbols(store, http, server):
    serve_binance(http, server)

    assert store.sources() == ["simulated", "binanceusdm", "bitget", "bitunix"]
    assert store.symbols("binanceusdm") == [BTC]
    assert store.symbols("simulated")[0] == BTC and len(store.symbols("simulated")) == 20


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("nowhere", BTC, "15m"), "source"),
        (("simulated", "NOPE/USDT:USDT", "15m"), "symbol"),
        (("simulated", BTC, "7m"), "timeframe"),
    ],
)
def test_bad_series_names_are_refused_naming_the_field(store, now, args, field):
    with pytest.raises(ValidationError) as exc:
        store.fetch(*args, now - timedelta(hours=1))
    assert exc.value.field == field


def test_a_naive_or_future_since_is_refused(store, now):
    with pytest.raises(ValidationError, match="timezone-aware") as naive:
        store.fetch("simulated", BTC, "15m", now.replace(tzinfo=None))
    with pytest.raises(ValidationError, match="in the future") as future:
        store.fetch("simulated", BTC, "15m", now + timedelta(minutes=1))
    assert naive.value.field == future.value.field == "since"


def test_limit_out_of_range_is_refused(store):
    with pytest.raises(ValidationError) as exc:
        store.candles("simulated", BTC, "15m", limit=0)
    assert exc.value.field == "limit"


def test_an_exchange_outage_is_a_temporary_error_not_an_empty_series(store, http, server, now):
    serve_binance(http, server)
    http.replace(responses.GET, re.compile(re.escape(BINANCE_KLINES) + r"\?.*"), status=503, body="busy")

    with pytest.raises(TemporaryError, match="binanceusdm"):
        store.fetch("binanceusdm", BTC, "15m", now - timedelta(hours=1))


def test_a_rate_limit_answer_is_a_rate_limit_error(store, http, server, now):
    serve_bitget(http, server)
    http.replace(responses.GET, re.compile(re.escape(BITGET_CANDLES) + r"\?.*"), status=429,
                 json={"code": "429", "msg": "Too Many Requests"})

    with pytest.raises(RateLimitError):
        store.fetch("bitget", BTC, "15m", now - timedelta(hours=1))


def test_fetch_report_as_dict_is_json_safe(store, http, server, now):
    serve_binance(http, server)
    server.omit_once = {last_closed(now) - BAR}

    data = store.fetch("binanceusdm", BTC, "15m", from_ms(last_closed(now) - 3 * BAR)).as_dict()

    assert data["gaps"] == [{"start": from_ms(last_closed(now) - BAR).isoformat(),
                             "end": from_ms(last_closed(now) - BAR).isoformat(), "count": 1, "repaired": True}]
    assert (data["fetched"], data["gaps_found"], data["gaps_repaired"]) == (4, 1, 1)
    assert Decimal(str(data["requests"])) == 2


def test_exchange_sources_are_built_on_first_use_only_once(clock):
    from riskmgr.candles.sources import Download, LazySource

    built = []

    class Probe:
        def timeframes(self):
            return ("15m",)

        def symbols(self):
            return {BTC: "BTCUSDT"}

        def fetch_range(self, native, timeframe, first, last):
            return Download([bar(first)], 1)

    lazy = LazySource("probe", True, lambda: built.append(1) or Probe())

    assert built == []
    assert lazy.symbols() == {BTC: "BTCUSDT"} and lazy.timeframes() == ("15m",)
    assert lazy.fetch_range("BTCUSDT", "15m", 0, 0).rows == [bar(0)]
    assert built == [1] and lazy.ordered is True
