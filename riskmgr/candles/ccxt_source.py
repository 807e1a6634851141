"""Binance USDⓈ-M and Bitget public market data through ccxt sync clients built without keys.

The documented REST endpoints are called directly (``/fapi/v1/exchangeInfo`` and ``/fapi/v1/klines``;
``/api/v2/mix/market/contracts``, ``candles`` and ``history-candles``) so the candle store sees the rows exactly as
the exchange sent them (ccxt's unified ``fetch_ohlcv`` sorts and trims, which would hide what the store must
detect). ccxt supplies the transport, its rate-limit spacing and its error classes, which are translated here.
Imported only when one of these sources is first used (``candles_sources.build_sources``): ccxt is slow to import.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import ccxt

from riskmgr.candles.sources import RETRY_BUDGET_S, Download, RawBar, array_row, windows
from riskmgr.core.clock import Clock, to_ms
from riskmgr.core.errors import ExchangeError, MalformedResponseError, NotFoundError, RateLimitError, TemporaryError
from riskmgr.exchanges.ccxt.adapter import sanitize
from riskmgr.exchanges.retry import call_with_retry
from riskmgr.market.base import TIMEFRAME_SECONDS

DAY_MS = 86_400_000
BINANCE_PAGE = 1000  # /fapi/v1/klines allows 1500; ccxt caps at 1000, and so do we (weight grows with limit)
BITGET_RECENT_PAGE = 1000  # /api/v2/mix/market/candles: limit max 1000
BITGET_HISTORY_PAGE = 200  # /api/v2/mix/market/history-candles: limit max 200
BITGET_MAX_SPAN_MS = 90 * DAY_MS  # contracts: at most 90 days between startTime and endTime
BITGET_PRODUCT = "USDT-FUTURES"


class _CcxtSource:
    """Shared plumbing of the ccxt-backed sources: one keyless client, retries and error translation."""

    name = "ccxt"
    ordered = True

    def __init__(self, client: ccxt.Exchange, clock: Clock, *, timeout_s: float, throttle: bool,
                 sleep: Callable[[float], None]):
        client.timeout = int(timeout_s * 1000)
        client.enableRateLimit = throttle  # ccxt spaces calls by the exchange's documented rate
        self.client = client
        self._clock = clock
        self._sleep = sleep

    def _call(self, operation: str, fn: Callable[[], Any]) -> Any:
        def once() -> Any:
            try:
                return fn()
            except ccxt.BaseError as exc:
                raise translate(exc, self.name, operation) from exc

        return call_with_retry(once, budget_seconds=RETRY_BUDGET_S, sleep=self._sleep, what=f"{self.name} {operation}")


def translate(exc: ccxt.BaseError, source: str, operation: str) -> ExchangeError:
    """Return the riskmgr error for a ccxt failure on public data (no account, nothing secret involved)."""
    message = sanitize(f"{source}: {exc}", ())
    kinds: tuple[tuple[type[Exception], type[ExchangeError]], ...] = (
        (ccxt.RateLimitExceeded, RateLimitError), (ccxt.DDoSProtection, RateLimitError),
        (ccxt.BadResponse, MalformedResponseError), (ccxt.OperationFailed, TemporaryError),
        (ccxt.BadSymbol, NotFoundError),
    )
    kind = next((ours for theirs, ours in kinds if isinstance(exc, theirs)), ExchangeError)
    return kind(message, operation=operation)


class BinanceSource(_CcxtSource):
    """Binance USDⓈ-M public data: exchangeInfo for the listing, /fapi/v1/klines for bars."""

    name = "binanceusdm"

    def __init__(self, clock: Clock, *, timeout_s: float = 10, throttle: bool = True,
                 sleep: Callable[[float], None] = time.sleep):
        client = ccxt.binanceusdm({"options": {"fetchCurrencies": False}})
        super().__init__(client, clock, timeout_s=timeout_s, throttle=throttle, sleep=sleep)

    def timeframes(self) -> tuple[str, ...]:
        return tuple(tf for tf in TIMEFRAME_SECONDS if tf in (self.client.timeframes or {}))

    def symbols(self) -> dict[str, str]:
        reply = self._call("exchangeInfo", self.client.fapiPublicGetExchangeInfo)
        listed = reply.get("symbols") if isinstance(reply, Mapping) else None
        if not isinstance(listed, list):
            raise MalformedResponseError("binanceusdm exchangeInfo: field 'symbols' is missing", operation="symbols")
        out: dict[str, str] = {}
        for item in listed:
            if not isinstance(item, Mapping):
                raise MalformedResponseError("binanceusdm exchangeInfo: a symbol is not an object")
            usdt = item.get("quoteAsset") == "USDT" and item.get("marginAsset") == "USDT"
            if usdt and item.get("contractType") == "PERPETUAL" and item.get("status") == "TRADING":
                out[f"{item['baseAsset']}/USDT:USDT"] = str(item["symbol"])
        return out

    def fetch_range(self, native: str, timeframe: str, first_ms: int, last_ms: int) -> Download:
        bar_ms = TIMEFRAME_SECONDS[timeframe] * 1000
        found: list[RawBar] = []
        spans = windows(first_ms, last_ms, bar_ms, lambda _start: BINANCE_PAGE)
        for start, end in spans:
            query = {"symbol": native, "interval": timeframe, "startTime": start, "endTime": end + bar_ms - 1,
                     "limit": (end - start) // bar_ms + 1}
            reply = self._call("klines", partial(self.client.fapiPublicGetKlines, query))
            if not isinstance(reply, list):
                got = type(reply).__name__
                raise MalformedResponseError(f"binanceusdm klines {native}: expected a list, got {got}")
            found.extend(array_row(row, f"binanceusdm klines {native}") for row in reply)
        return Download(found, len(spans))


class BitgetSource(_CcxtSource):
    """Bitget v2 USDT-M public data: contracts for the listing, candles / history-candles for bars."""

    name = "bitget"

    def __init__(self, clock: Clock, *, timeout_s: float = 10, throttle: bool = True,
                 sleep: Callable[[float], None] = time.sleep):
        # uta False and swap only: otherwise ccxt may probe /api/v3 and switch to the UTA endpoints (exchanges.md)
        client = ccxt.bitget({
            "has": {"fetchCurrencies": False},
            "options": {"defaultType": "swap", "uta": False, "fetchMarkets": {"types": ["swap"]}},
        })
        super().__init__(client, clock, timeout_s=timeout_s, throttle=throttle, sleep=sleep)
        options = self.client.options["fetchOHLCV"]
        self._granularity: dict[str, str] = dict(options["timeframes"]["swap"])
        # how far back the "recent" candles endpoint reaches, per timeframe (ccxt keeps Bitget's table)
        self._recent_days: dict[str, int] = dict(options["maxRecentDaysPerTimeframe"])

    def timeframes(self) -> tuple[str, ...]:
        return tuple(tf for tf in TIMEFRAME_SECONDS if tf in self._granularity)

    def symbols(self) -> dict[str, str]:
        reply = self._call("contracts", lambda: self.client.publicMixGetV2MixMarketContracts(
            {"productType": BITGET_PRODUCT}))
        out: dict[str, str] = {}
        for item in _bitget_data(reply, "contracts"):
            if not isinstance(item, Mapping):
                raise MalformedResponseError("bitget contracts: a contract is not an object")
            live = item.get("symbolStatus") == "normal" and item.get("symbolType") == "perpetual"
            if live and item.get("quoteCoin") == "USDT":
                out[f"{item['baseCoin']}/USDT:USDT"] = str(item["symbol"])
        return out

    def _recent(self, timeframe: str, start_ms: int) -> bool:
        days = self._recent_days.get(timeframe)
        return days is None or start_ms > to_ms(self._clock.now()) - (days - 1) * DAY_MS

    def _page(self, timeframe: str, start_ms: int) -> int:
        if self._recent(timeframe, start_ms):
            return BITGET_RECENT_PAGE
        bar_ms = TIMEFRAME_SECONDS[timeframe] * 1000
        return max(1, min(BITGET_HISTORY_PAGE, BITGET_MAX_SPAN_MS // bar_ms))

    def fetch_range(self, native: str, timeframe: str, first_ms: int, last_ms: int) -> Download:
        bar_ms = TIMEFRAME_SECONDS[timeframe] * 1000
        found: list[RawBar] = []
        spans = windows(first_ms, last_ms, bar_ms, lambda start: self._page(timeframe, start))
        for start, end in spans:
            query = {"symbol": native, "productType": BITGET_PRODUCT, "granularity": self._granularity[timeframe],
                     "startTime": start, "endTime": end + bar_ms - 1, "limit": (end - start) // bar_ms + 1}
            if self._recent(timeframe, start):
                reply = self._call("candles", partial(self.client.publicMixGetV2MixMarketCandles, query))
            else:
                reply = self._call("history-candles",
                                   partial(self.client.publicMixGetV2MixMarketHistoryCandles, query))
            found.extend(array_row(row, f"bitget candles {native}") for row in _bitget_data(reply, "candles"))
        return Download(found, len(spans))


def _bitget_data(reply: Any, what: str) -> list:
    data = reply.get("data") if isinstance(reply, Mapping) else None
    if data is None:
        return []  # Bitget answers "nothing" with a null data
    if not isinstance(data, list):
        raise MalformedResponseError(f"bitget {what}: field 'data' is not a list")
    return data
