"""The candle store: closed OHLCV bars per (source, symbol, timeframe), for the scanner and the backtester.

Sources are ``sources()``: "simulated" (the built-in DEMO market, generated on demand: nothing to cache) and
the public market data of "binanceusdm", "bitget" and "bitunix" (no keys; see ``candles_sources``). Exchange
bars are cached in the database (table ``candle_bar``, one row per (source, symbol, timeframe, ts)) and the
most recent ones of each series in memory (bounded: ``MEMORY_SERIES`` series of ``MEMORY_BARS`` bars).

``fetch`` is incremental: it asks the exchange only for the slots of the window the database does not hold yet,
so a second fetch asks only for the bars that closed since. Every reply is checked (``candles_clean``):
duplicates are dropped, rows out of time order counted, broken bars refused; slots still empty between two
bars are gaps, asked for once more (repair) and reported with count and location if they stay empty.

``candles`` returns closed bars only (a forming bar still changes), oldest first. For an exchange source it
first fetches whatever part of the requested window is not stored yet, and it refuses (``CandleDataError``)
to hand out a series with a gap: the signal rules and the backtester must never see unevenly spaced bars.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from riskmgr.candles.clean import FetchReport, Gap, as_gaps, clean, holes, missing_ranges, series_gaps
from riskmgr.candles.sources import MarketSource, RawBar
from riskmgr.core.clock import Clock, from_ms, to_ms
from riskmgr.core.errors import RiskmgrError, ValidationError
from riskmgr.market.base import TIMEFRAME_SECONDS, CandleArrays
from riskmgr.scanner.models import CandleBar

SIMULATED = "simulated"
MEMORY_BARS = 2000
MEMORY_SERIES = 512
DEFAULT_LIMIT = 1000
MAX_BARS = 500_000
SIM_PAGE = 5000  # the simulated market's largest request
SYMBOLS_TTL_S = 3600
INSERT_BATCH = 500
Key = tuple[str, str, str]

__all__ = ["CandleDataError", "CandleStore", "FetchReport", "Gap"]


class CandleDataError(RiskmgrError):
    """The bars asked for are missing or have an unrepaired gap. Do not use the series; fetch again later
    (or choose another range) and show the reason."""


@dataclass
class _Progress:
    """Bars gathered during one fetch, merged over the first pass and the repair pass."""

    bars: dict[int, RawBar] = field(default_factory=dict)
    requests: int = 0
    received: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    conflicts: int = 0
    rejected: list[str] = field(default_factory=list)


def _aware(name: str, value: datetime | None) -> datetime | None:
    if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
        raise ValidationError(name, f"must be a timezone-aware datetime, got {value!r}")
    return value


def _to_arrays(rows: list[tuple]) -> CandleArrays:
    if not rows:
        return CandleArrays(np.zeros(0, np.int64), *(np.zeros(0) for _ in range(5)))
    table = np.array(rows, dtype=np.float64)
    return CandleArrays(table[:, 0].astype(np.int64), *(np.ascontiguousarray(table[:, k]) for k in range(1, 6)))


def _between(arrays: CandleArrays, first_ms: int, last_ms: int) -> CandleArrays:
    lo = int(arrays.ts.searchsorted(first_ms, side="left"))
    hi = int(arrays.ts.searchsorted(last_ms, side="right"))
    return arrays.slice(lo, hi)


class CandleStore:
    """Closed bars from the simulated market or exchanges' public data, cached in the database and memory."""

    def __init__(self, engine: Engine, clock: Clock, market: Any, sources: Mapping[str, MarketSource], *,
                 memory_bars: int = MEMORY_BARS, memory_series: int = MEMORY_SERIES):
        self._engine = engine
        self._clock = clock
        self._market = market
        self._sources = dict(sources)
        self._memory_bars = memory_bars
        self._memory_series = memory_series
        self._memory: OrderedDict[Key, CandleArrays] = OrderedDict()
        self._symbols: dict[str, tuple[datetime, dict[str, str]]] = {}
        self._history_start: dict[Key, int] = {}
        self._lock = threading.Lock()
        self._series_locks: dict[Key, threading.Lock] = {}

    # -- what there is -------------------------------------------------------------------------------
    def sources(self) -> list[str]:
        """Return the source names: "simulated" first, then the exchanges."""
        return [SIMULATED, *self._sources]

    def is_simulated(self, source: str) -> bool:
        return source == SIMULATED

    def timeframes(self, source: str) -> list[str]:
        """Return the timeframes a source serves."""
        self._check_source(source)
        if source == SIMULATED:
            return list(TIMEFRAME_SECONDS)
        return list(self._sources[source].timeframes())

    def symbols(self, source: str) -> list[str]:
        """Return the unified symbols of every USDT perpetual of a source."""
        self._check_source(source)
        if source == SIMULATED:
            return list(self._market.symbols())
        return sorted(self._native_ids(source))

    # -- reading -------------------------------------------------------------------------------------
    def candles(self, source: str, symbol: str, timeframe: str, *, start: datetime | None = None,
                end: datetime | None = None, limit: int | None = None) -> CandleArrays:
        """Return closed bars in [start, end] (end defaults to now), oldest first; ``limit`` keeps the latest ones.

        Without ``start``, the last ``limit`` (default 1000) bars up to ``end``. Exchange sources fetch what is
        not stored yet first; a series with a gap raises ``CandleDataError`` naming it.
        """
        bar_ms = self._check(source, symbol, timeframe)
        first, last = self._window(bar_ms, start, end, limit)
        if last < first:
            raise CandleDataError(f"no {timeframe} bar of {symbol} has closed in the range asked for")
        if source == SIMULATED:
            arrays = self._simulated(symbol, timeframe, first, last, bar_ms)
        else:
            arrays = self._exchange(source, symbol, timeframe, first, last, bar_ms)
        return arrays.tail(limit) if limit is not None else arrays

    def _window(self, bar_ms: int, start: datetime | None, end: datetime | None, limit: int | None) -> tuple[int, int]:
        """Return the open times of the first and last bar of the request (both closed by ``end``)."""
        _aware("start", start)
        now = self._clock.now()
        until = min(_aware("end", end) or now, now)
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_BARS):
            raise ValidationError("limit", f"must be a whole number in 1..{MAX_BARS}, got {limit!r}")
        if start is not None and start > until:
            raise ValidationError("start", f"{start.isoformat()} is after the end {until.isoformat()}")
        last = to_ms(until) // bar_ms * bar_ms - bar_ms  # the last bar closed by ``until``
        if start is None:
            return last - ((limit or DEFAULT_LIMIT) - 1) * bar_ms, last
        first = -(-to_ms(start) // bar_ms) * bar_ms
        if (last - first) // bar_ms + 1 > MAX_BARS and limit is None:
            raise ValidationError("start", f"the range holds more than {MAX_BARS} bars; narrow it or give a limit")
        if limit is not None:
            first = max(first, last - (limit - 1) * bar_ms)
        return first, last

    def _simulated(self, symbol: str, timeframe: str, first: int, last: int, bar_ms: int) -> CandleArrays:
        parts: list[CandleArrays] = []
        stop = last
        while stop >= first:
            count = min(SIM_PAGE - 1, (stop - first) // bar_ms + 1)
            # ``end`` at the close of ``stop``: the market adds the bar forming then, which is dropped below
            try:
                chunk = self._market.candles(symbol, timeframe, end=from_ms(stop + bar_ms), limit=count + 1)
            except ValueError as exc:
                raise ValidationError("start", str(exc)) from None
            chunk = _between(chunk, first, stop)
            if len(chunk):
                parts.append(chunk)
            if len(chunk) < count:
                break  # the market's history begins inside this chunk
            stop = int(chunk.ts[0]) - bar_ms
        parts.reverse()
        if not parts:
            raise CandleDataError(f"the simulated market has no {timeframe} bars of {symbol} in the range asked for")
        columns = ("ts", "open", "high", "low", "close", "volume")
        return CandleArrays(*(np.concatenate([getattr(p, name) for p in parts]) for name in columns))

    def _exchange(self, source: str, symbol: str, timeframe: str, first: int, last: int, bar_ms: int
                  ) -> CandleArrays:
        key = (source, symbol, timeframe)
        arrays = self._read(key, first, last)
        floor = max(first, self._history_start.get(key, first))
        if len(arrays) < (last - floor) // bar_ms + 1:
            self.fetch(source, symbol, timeframe, from_ms(first), until=from_ms(last + bar_ms))
            arrays = self._read(key, first, last)
        if len(arrays) == 0:
            raise CandleDataError(f"{source} has no {timeframe} bars of {symbol} from {from_ms(first).isoformat()} "
                                  f"to {from_ms(last).isoformat()}")
        gaps = series_gaps(arrays.ts, bar_ms)
        if gaps:
            shown = "; ".join(g.describe() for g in gaps[:3])
            raise CandleDataError(f"{source} {symbol} {timeframe}: {len(gaps)} unrepaired gap(s): {shown}")
        return arrays

    def _read(self, key: Key, first: int, last: int) -> CandleArrays:
        with self._lock:
            cached = self._memory.get(key)
            if cached is not None:
                self._memory.move_to_end(key)
        if cached is not None and len(cached) and int(cached.ts[0]) <= first:
            return _between(cached, first, last)
        return self._query(key, first, last)

    def _query(self, key: Key, first: int, last: int) -> CandleArrays:
        source, symbol, timeframe = key
        stmt = (select(CandleBar.ts, CandleBar.open, CandleBar.high, CandleBar.low, CandleBar.close, CandleBar.volume)
                .where(CandleBar.source == source, CandleBar.symbol == symbol, CandleBar.timeframe == timeframe,
                       CandleBar.ts >= first, CandleBar.ts <= last)
                .order_by(CandleBar.ts))
        with Session(self._engine) as session:
            return _to_arrays([tuple(row) for row in session.execute(stmt)])

    def _refresh_memory(self, key: Key) -> None:
        source, symbol, timeframe = key
        stmt = (select(CandleBar.ts, CandleBar.open, CandleBar.high, CandleBar.low, CandleBar.close, CandleBar.volume)
                .where(CandleBar.source == source, CandleBar.symbol == symbol, CandleBar.timeframe == timeframe)
                .order_by(CandleBar.ts.desc()).limit(self._memory_bars))
        with Session(self._engine) as session:
            arrays = _to_arrays([tuple(row) for row in reversed(session.execute(stmt).all())])
        with self._lock:
            self._memory[key] = arrays
            self._memory.move_to_end(key)
            while len(self._memory) > self._memory_series:
                self._memory.popitem(last=False)

    # -- fetching ------------------------------------------------------------------------------------
    def fetch(self, source: str, symbol: str, timeframe: str, since: datetime, *, until: datetime | None = None
              ) -> FetchReport:
        """Download the closed bars from ``since`` (to ``until``, default now) that are not stored yet."""
        bar_ms = self._check(source, symbol, timeframe)
        if _aware("since", since) is None:
            raise ValidationError("since", "is required (an ISO 8601 time with its zone)")
        now = self._clock.now()
        if since > now:
            raise ValidationError("since", f"{since.isoformat()} is in the future (now {now.isoformat()})")
        first = -(-to_ms(since) // bar_ms) * bar_ms
        last = to_ms(min(_aware("until", until) or now, now)) // bar_ms * bar_ms - bar_ms
        base = FetchReport(source, symbol, timeframe, from_ms(first), from_ms(last) if last >= first else None)
        if source == SIMULATED:
            count = max(0, (last - first) // bar_ms + 1)
            return replace(base, note=f"simulated bars are generated on demand ({count} closed bars in range); "
                                      "nothing to cache")
        if last < first:
            return replace(base, note="no bar has closed in the range yet")
        key = (source, symbol, timeframe)
        with self._series_lock(key):
            return self._fetch_locked(key, base, first, last, bar_ms)

    def _fetch_locked(self, key: Key, base: FetchReport, first: int, last: int, bar_ms: int) -> FetchReport:
        source, symbol, timeframe = key
        floor = max(first, self._history_start.get(key, first))
        stored = self._query(key, first, last).ts
        wanted = missing_ranges(stored, floor, last, bar_ms)
        progress = _Progress()
        self._download(key, wanted, bar_ms, progress)
        present = np.union1d(stored, np.fromiter(progress.bars, dtype=np.int64, count=len(progress.bars)))
        found = holes(present, floor, last, bar_ms)
        if found.interior:
            self._download(key, found.interior, bar_ms, progress)  # the repair pass: ask for each gap once more
            present = np.union1d(present, np.fromiter(progress.bars, dtype=np.int64, count=len(progress.bars)))
        after = holes(present, floor, last, bar_ms)
        repaired = [(a, b) for a, b in found.interior if not missing_ranges(present, a, b, bar_ms)]
        gaps = as_gaps(repaired, bar_ms, repaired=True) + as_gaps(after.interior, bar_ms)
        history_starts = None
        if after.leading is not None and after.first_present is not None and wanted and wanted[0][0] == floor:
            history_starts = after.first_present  # the exchange was asked from ``floor`` and began later
            self._history_start[key] = history_starts
        fetched = self._insert(key, progress.bars)
        self._refresh_memory(key)
        trailing = after.trailing
        return replace(
            base, requests=progress.requests, received=progress.received, fetched=fetched,
            already_stored=int(stored.size), duplicates=progress.duplicates, out_of_order=progress.out_of_order,
            conflicts=progress.conflicts, rejected=tuple(progress.rejected),
            gaps=tuple(sorted(gaps, key=lambda g: g.start)),
            history_starts=from_ms(history_starts) if history_starts is not None else None,
            not_yet_published=(trailing[1] - trailing[0]) // bar_ms + 1 if trailing else 0,
            note="" if present.size else f"{source} returned no bars of {symbol} {timeframe} in the range",
        )

    def _download(self, key: Key, ranges: list[tuple[int, int]], bar_ms: int, progress: _Progress) -> None:
        source, symbol, timeframe = key
        src = self._sources[source]
        native = self._native_ids(source)[symbol]
        for first, last in ranges:
            reply = src.fetch_range(native, timeframe, first, last)
            progress.requests += reply.requests
            progress.received += len(reply.rows)
            checked = clean(reply.rows, bar_ms, first, last, ordered=src.ordered)
            progress.duplicates += checked.duplicates
            progress.out_of_order += checked.out_of_order
            progress.conflicts += len(checked.conflicts)
            progress.rejected.extend(checked.rejected)
            progress.bars.update(checked.bars)

    def _insert(self, key: Key, bars: dict[int, RawBar]) -> int:
        """Store new bars (a bar already stored, e.g. by another worker, is left as it is); return how many."""
        if not bars:
            return 0
        source, symbol, timeframe = key
        rows = [{"source": source, "symbol": symbol, "timeframe": timeframe, "ts": ts, "open": o, "high": h,
                 "low": low, "close": c, "volume": v} for ts, o, h, low, c, v in sorted(bars.values())]
        insert = _dialect_insert(self._engine)
        added = 0
        with Session(self._engine) as session, session.begin():
            for k in range(0, len(rows), INSERT_BATCH):
                # count the rows the insert returns: a driver's rowcount for INSERT … ON CONFLICT DO NOTHING is
                # not reliable (psycopg 3 reports -1 for it unless told otherwise)
                stmt = insert(CandleBar).values(rows[k:k + INSERT_BATCH]).on_conflict_do_nothing().returning(
                    CandleBar.ts)
                added += len(session.execute(stmt).all())
        return added

    # -- validation and lookups ----------------------------------------------------------------------
    def _check_source(self, source: str) -> None:
        if source not in self.sources():
            known = ", ".join(self.sources())
            raise ValidationError("source", f"{source!r} is not a market-data source; one of {known}")

    def _check(self, source: str, symbol: str, timeframe: str) -> int:
        """Validate a series; return its bar length in ms."""
        allowed = self.timeframes(source)
        if timeframe not in allowed:
            raise ValidationError("timeframe", f"{timeframe!r} is not served by {source}; one of {', '.join(allowed)}")
        known = self.symbols(source)
        if symbol not in known:
            example = ", ".join(known[:3])
            raise ValidationError("symbol", f"{symbol!r} is not a USDT perpetual on {source} (e.g. {example})")
        return TIMEFRAME_SECONDS[timeframe] * 1000

    def _native_ids(self, source: str) -> dict[str, str]:
        now = self._clock.now()
        with self._lock:
            cached = self._symbols.get(source)
        if cached is not None and (now - cached[0]).total_seconds() < SYMBOLS_TTL_S:
            return cached[1]
        ids = self._sources[source].symbols()
        with self._lock:
            self._symbols[source] = (now, ids)
        return ids

    def _series_lock(self, key: Key) -> threading.Lock:
        with self._lock:
            return self._series_locks.setdefault(key, threading.Lock())


def _dialect_insert(engine: Engine) -> Any:
    """Return the INSERT construct that supports ON CONFLICT DO NOTHING on this database."""
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    if engine.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert
    raise RiskmgrError(f"the candle store supports SQLite and PostgreSQL, not {engine.dialect.name}")
