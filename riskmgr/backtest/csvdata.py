"""Bars from an uploaded CSV file: columns checked, every line checked, gaps counted and located.

The file needs a header naming a time column (``timestamp``, ``time``, ``ts``, ``date``, ``datetime`` or
``open_time``) and ``open``, ``high``, ``low``, ``close`` and ``volume`` (any order, any case; other columns are
ignored). Times are the bars' open times: epoch seconds or milliseconds, or ISO 8601 (a time without a zone is
UTC). Times must increase in whole steps of the timeframe; a longer step is a gap, reported with how many bars
are missing and where. Prices lie in (0, 1e12), volumes in [0, 1e15) and times between 1970 and 2100. The first bad
line rejects the file, with its line number and what is wrong.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from riskmgr.core.clock import from_ms
from riskmgr.core.errors import ValidationError
from riskmgr.market.base import TIMEFRAME_SECONDS, CandleArrays

TIME_COLUMNS = ("timestamp", "time", "ts", "date", "datetime", "open_time")
PRICE_COLUMNS = ("open", "high", "low", "close")
MAX_BYTES = 64 * 1024 * 1024  # the default of MAX_UPLOAD_BYTES
PRICE_MAX = 1e12
VOLUME_MAX = 1e15
TS_MAX_MS = 4_102_444_800_000  # 2100-01-01
MAX_ROWS = 2_000_000
GAPS_SHOWN = 20
FIELD = "file"


@dataclass(frozen=True)
class GapReport:
    """Where the bars skip time: how many gaps, how many bars are missing, and the first few gaps."""

    count: int
    missing_bars: int
    first: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        """Return the report JSON-safe."""
        return {"count": self.count, "missing_bars": self.missing_bars, "first": self.first,
                "shown": len(self.first)}


def gap_report(ts: np.ndarray, bar_ms: int, lines: np.ndarray | None = None) -> GapReport:
    """Return the gaps of increasing bar times (``lines``: the file line of each bar, for the report)."""
    steps = np.diff(ts)
    where = np.flatnonzero(steps > bar_ms)
    missing = steps[where] // bar_ms - 1
    first = [
        {
            "after": from_ms(int(ts[k])).isoformat(),
            "next": from_ms(int(ts[k + 1])).isoformat(),
            "missing_bars": int(m),
            **({"line": int(lines[k + 1])} if lines is not None else {}),
        }
        for k, m in zip(where[:GAPS_SHOWN].tolist(), missing[:GAPS_SHOWN].tolist(), strict=True)
    ]
    return GapReport(int(where.size), int(missing.sum()), first)


@dataclass(frozen=True)
class ParsedCsv:
    candles: CandleArrays
    gaps: GapReport


def parse_csv(raw: bytes, timeframe: str, *, max_bytes: int = MAX_BYTES) -> ParsedCsv:
    """Parse and check a CSV of bars; raise ValidationError("file", "line N: ...") at the first problem."""
    if timeframe not in TIMEFRAME_SECONDS:
        raise ValidationError("timeframe", f"{timeframe!r} is not allowed; one of {', '.join(TIMEFRAME_SECONDS)}")
    if len(raw) > max_bytes:
        raise ValidationError(FIELD, f"is more than {max_bytes} bytes; at most {max_bytes} are accepted "
                                     "(MAX_UPLOAD_BYTES)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(FIELD, f"is not UTF-8 text (byte {exc.start})") from None
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    if header is None:
        raise ValidationError(FIELD, "is empty")
    columns = _columns(header)
    bar_ms = TIMEFRAME_SECONDS[timeframe] * 1000
    table, lines = _read_rows(rows, columns, len(header), bar_ms)
    if len(lines) < 2:
        raise ValidationError(FIELD, f"holds {len(lines)} bar(s); at least 2 are needed")
    ts = np.array(table[0], dtype=np.int64)
    candles = CandleArrays(ts, *(np.array(col, dtype=np.float64) for col in table[1:]))
    return ParsedCsv(candles, gap_report(ts, bar_ms, np.array(lines)))


def _columns(header: list[str]) -> list[int]:
    names = [h.strip().lower() for h in header]
    time_col = next((names.index(n) for n in TIME_COLUMNS if n in names), None)
    if time_col is None:
        raise ValidationError(FIELD, f"line 1: no time column; name one of {', '.join(TIME_COLUMNS)}")
    found = [time_col]
    for name in (*PRICE_COLUMNS, "volume"):
        if name not in names:
            raise ValidationError(FIELD, f"line 1: missing column {name!r}; the header has {', '.join(names)}")
        found.append(names.index(name))
    return found


def _read_rows(
    rows: Iterator[list[str]], columns: list[int], width: int, bar_ms: int
) -> tuple[list[list[Any]], list[int]]:
    table: list[list[Any]] = [[] for _ in range(6)]
    lines: list[int] = []
    previous: int | None = None
    for number, row in enumerate(rows, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue  # blank lines carry nothing
        if len(row) != width:
            raise ValidationError(FIELD, f"line {number}: {len(row)} fields, but the header has {width}")
        ts = _timestamp(row[columns[0]], number)
        o, h, lo, c, v = (_number(row[k], name, number) for k, name in zip(columns[1:], (*PRICE_COLUMNS, "volume"),
                                                                                 strict=True))
        _check_bar(number, o, h, lo, c, v)
        if previous is not None:
            _check_step(number, previous, ts, bar_ms)
        previous = ts
        for k, value in enumerate((ts, o, h, lo, c, v)):
            table[k].append(value)
        lines.append(number)
        if len(lines) > MAX_ROWS:
            raise ValidationError(FIELD, f"line {number}: more than {MAX_ROWS} bars; split the file")
    return table, lines


def _timestamp(cell: str, number: int) -> int:
    text = cell.strip()
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if math.isfinite(value):
        if value != int(value) or value < 0:
            raise ValidationError(FIELD, f"line {number}: time {text[:40]!r} is not whole epoch seconds or "
                                         "milliseconds")
        # epoch milliseconds since 1973 are above 1e11; epoch seconds stay below it until the year 5138
        return _in_time_range(int(value) if value >= 1e11 else int(value) * 1000, text, number)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(FIELD, f"line {number}: time {text[:40]!r} is neither epoch seconds/milliseconds nor "
                                     "ISO 8601") from None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return _in_time_range(int(when.timestamp() * 1000), text, number)


def _in_time_range(ms: int, text: str, number: int) -> int:
    if not 0 <= ms < TS_MAX_MS:
        raise ValidationError(FIELD, f"line {number}: time {text[:40]!r} is outside 1970-01-01 – 2100-01-01")
    return ms


def _number(cell: str, name: str, number: int) -> float:
    try:
        value = float(cell.strip())
    except ValueError:
        raise ValidationError(FIELD, f"line {number}: {name} {cell.strip()[:40]!r} is not a number") from None
    if not math.isfinite(value):
        raise ValidationError(FIELD, f"line {number}: {name} {cell.strip()[:40]!r} is not a finite number")
    return value


def _check_bar(number: int, o: float, h: float, lo: float, c: float, v: float) -> None:
    if min(o, h, lo, c) <= 0:
        raise ValidationError(FIELD, f"line {number}: prices must be above 0 (open {o}, high {h}, low {lo}, close {c})")
    if max(o, h, lo, c) >= PRICE_MAX:
        raise ValidationError(FIELD, f"line {number}: prices must be below {PRICE_MAX:g} (open {o}, high {h}, "
                                     f"low {lo}, close {c})")
    if v >= VOLUME_MAX:
        raise ValidationError(FIELD, f"line {number}: volume {v} is not below {VOLUME_MAX:g}")
    if h < max(o, c, lo) or lo > min(o, c):
        raise ValidationError(FIELD, f"line {number}: the high {h} and low {lo} do not contain the open {o} and "
                                     f"close {c}")
    if v < 0:
        raise ValidationError(FIELD, f"line {number}: volume {v} is below 0")


def _check_step(number: int, previous: int, ts: int, bar_ms: int) -> None:
    if ts <= previous:
        raise ValidationError(FIELD, f"line {number}: time {from_ms(ts).isoformat()} is not after the previous "
                                     f"bar's {from_ms(previous).isoformat()}; times must increase")
    if (ts - previous) % bar_ms:
        raise ValidationError(FIELD, f"line {number}: {(ts - previous) / 1000:g} s after the previous bar is not a "
                                     f"whole number of {bar_ms // 1000} s bars")
