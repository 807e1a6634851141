"""Exchanges' PUBLIC market data for the candle store: USDT perpetual listings and raw klines, no keys.

Binance USDⓈ-M and Bitget go through keyless ccxt sync clients (``candles_ccxt``, imported on first use).
Bitunix goes through the project's own client (``/api/v1/futures/market/kline``, 200 bars a request,
unsigned GET). Every source returns the rows exactly as the exchange sent them: order, duplicates and all.
Each source pages a range of bar open times in fixed windows, retries temporary errors, and turns every
vendor failure into the riskmgr exception tree. Rows come back as ``RawBar`` tuples; whether a bar is sane
(prices above zero, high >= low, on the bar grid) is the store's judgement, not the source's. See
/work/shared/docs/exchanges.md for the endpoint facts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from riskmgr.core.clock import Clock
from riskmgr.core.errors import MalformedResponseError
from riskmgr.exchanges.bitunix import constants as BX
from riskmgr.exchanges.bitunix.client import BitunixClient
from riskmgr.exchanges.bitunix.parse import Row, is_supported_native, unified
from riskmgr.exchanges.retry import call_with_retry
from riskmgr.market.base import TIMEFRAME_SECONDS

RawBar = tuple[int, float, float, float, float, float]  # open time ms, open, high, low, close, base volume
RETRY_BUDGET_S = 8.0


@dataclass(frozen=True)
class Download:
    """What one range request brought back: the rows in reply order and how many HTTP requests it took."""

    rows: list[RawBar]
    requests: int


class MarketSource(Protocol):
    """One exchange's public market data. ``ordered``: the exchange promises rows in ascending time."""

    name: str
    ordered: bool

    def timeframes(self) -> tuple[str, ...]:
        """Return the riskmgr timeframes this source serves."""
        ...

    def symbols(self) -> dict[str, str]:
        """Return {unified symbol: native id} of every USDT perpetual open for trading."""
        ...

    def fetch_range(self, native: str, timeframe: str, first_ms: int, last_ms: int) -> Download:
        """Return the bars whose open times lie in [first_ms, last_ms], paging as the exchange requires."""
        ...


def windows(first_ms: int, last_ms: int, bar_ms: int, page: Callable[[int], int]) -> list[tuple[int, int]]:
    """Split [first_ms, last_ms] into consecutive windows of at most ``page(window_start)`` bars."""
    out: list[tuple[int, int]] = []
    start = first_ms
    while start <= last_ms:
        end = min(start + (page(start) - 1) * bar_ms, last_ms)
        out.append((start, end))
        start = end + bar_ms
    return out


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise MalformedResponseError(f"{where} is not a number (got {value!r:.60})")
    try:
        return float(value)
    except ValueError:
        raise MalformedResponseError(f"{where} is not a number (got {value!r:.60})") from None


def _timestamp(value: Any, where: str) -> int:
    number = _number(value, where)
    if number != int(number):
        raise MalformedResponseError(f"{where} is not a whole millisecond timestamp (got {value!r:.60})")
    return int(number)


def array_row(row: Any, where: str) -> RawBar:
    """Read ``[openTime, open, high, low, close, baseVolume, ...]`` (Binance and Bitget kline rows)."""
    if not isinstance(row, list | tuple) or len(row) < 6:
        raise MalformedResponseError(f"{where}: expected a list of at least 6 fields, got {row!r:.80}")
    ts = _timestamp(row[0], f"{where} open time")
    o, h, low, c, v = (_number(row[k], f"{where} field {k}") for k in range(1, 6))
    return ts, o, h, low, c, v


class BitunixSource:
    """Bitunix public data through the project's client: trading_pairs for the listing, kline for bars."""

    name = "bitunix"
    ordered = False  # the kline docs do not say in which order rows come; sorting them is not a repair

    def __init__(self, clock: Clock, *, timeout_s: float = 10, sleep: Callable[[float], None] = time.sleep,
                 client: BitunixClient | None = None):
        # Public endpoints are called unsigned (signed=False): the placeholder credentials are never used.
        self._client = client or BitunixClient("unsigned-public-data", "unsigned-public-data", timeout=timeout_s,
                                               clock=clock, account="market-data")
        self._sleep = sleep

    def timeframes(self) -> tuple[str, ...]:
        return tuple(tf for tf in TIMEFRAME_SECONDS if tf in BX.INTERVALS)

    def _call(self, operation: str, fn: Callable[[], Any]) -> Any:
        return call_with_retry(fn, budget_seconds=RETRY_BUDGET_S, sleep=self._sleep, what=f"bitunix {operation}")

    def symbols(self) -> dict[str, str]:
        pairs: list[Row] = self._call("trading_pairs", self._client.get_trading_pairs)
        out: dict[str, str] = {}
        for row in pairs:
            native = row.text("symbol").upper()
            status = row.opt_text("symbolStatus")
            if is_supported_native(native) and row.text("quote").upper() == "USDT" and status in (None, "OPEN"):
                out[unified(row.text("base").upper(), "USDT")] = native
        return out

    def fetch_range(self, native: str, timeframe: str, first_ms: int, last_ms: int) -> Download:
        interval, seconds = BX.INTERVALS[timeframe]
        bar_ms = seconds * 1000
        found: list[RawBar] = []
        spans = windows(first_ms, last_ms, bar_ms, lambda _start: BX.KLINE_LIMIT)
        for start, end in spans:
            count = (end - start) // bar_ms + 1
            reply = self._call("kline", partial(
                self._client.get_klines, native, interval, start, end + bar_ms - 1, count))
            found.extend(_bitunix_bar(row) for row in reply)
        return Download(found, len(spans))


def _bitunix_bar(row: Row) -> RawBar:
    values = (row.decimal(name) for name in ("open", "high", "low", "close", BX.BASE_VOLUME_FIELD))
    o, h, low, c, v = (float(x) for x in values)
    return row.integer("time"), o, h, low, c, v


class LazySource:
    """A source built on first use: the ccxt package (slow to import) is loaded only if an exchange is used."""

    def __init__(self, name: str, ordered: bool, factory: Callable[[], MarketSource]):
        self.name = name
        self.ordered = ordered
        self._factory = factory
        self._source: MarketSource | None = None
        self._lock = threading.Lock()

    def _built(self) -> MarketSource:
        with self._lock:
            if self._source is None:
                self._source = self._factory()
            return self._source

    def timeframes(self) -> tuple[str, ...]:
        return self._built().timeframes()

    def symbols(self) -> dict[str, str]:
        return self._built().symbols()

    def fetch_range(self, native: str, timeframe: str, first_ms: int, last_ms: int) -> Download:
        return self._built().fetch_range(native, timeframe, first_ms, last_ms)


def build_sources(clock: Clock, timeout_s: float = 10) -> dict[str, MarketSource]:
    """Return the exchange sources; each is built on first use (no network, no ccxt import until then)."""

    def binance() -> MarketSource:
        from riskmgr.candles.ccxt_source import BinanceSource

        return BinanceSource(clock, timeout_s=timeout_s)

    def bitget() -> MarketSource:
        from riskmgr.candles.ccxt_source import BitgetSource

        return BitgetSource(clock, timeout_s=timeout_s)

    return {
        "binanceusdm": LazySource("binanceusdm", True, binance),
        "bitget": LazySource("bitget", True, bitget),
        "bitunix": LazySource("bitunix", False, lambda: BitunixSource(clock, timeout_s=timeout_s)),
    }
