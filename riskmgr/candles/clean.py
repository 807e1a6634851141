"""Judging raw kline rows before the candle store keeps them, finding the holes a series has, and the report.

A row is kept only if it sits on the timeframe's grid, inside the window asked for, with finite prices above
zero, a high and low that contain the open and close, and a volume not below zero. A time sent twice with the
same values is a harmless duplicate (one is kept); sent twice with different values it is a conflict and
neither is kept, so the slot stays empty and the store asks for it again. Holes are told apart by where they
are: before the first bar (the market has no older history), after the last (not published yet) or in
between (a gap: the series cannot be used until it is repaired). ``FetchReport`` says what one fetch did.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from riskmgr.candles.sources import RawBar
from riskmgr.core.clock import from_ms

MAX_REJECTIONS_SHOWN = 20


@dataclass(frozen=True)
class Gap:
    """Missing bars between two present ones: ``count`` bars from ``start`` (the first missing open time)."""

    start: datetime
    count: int
    bar_seconds: int
    repaired: bool = False

    @property
    def end(self) -> datetime:
        """Return the open time of the last missing bar."""
        return self.start + timedelta(seconds=self.bar_seconds * (self.count - 1))

    def describe(self) -> str:
        """Describe the gap in one line, e.g. ``3 bars missing from 2026-01-01T10:15:00+00:00 to ...``."""
        state = " (repaired)" if self.repaired else ""
        span = self.start.isoformat() if self.count == 1 else f"{self.start.isoformat()} to {self.end.isoformat()}"
        return f"{self.count} bar{'s' if self.count != 1 else ''} missing at {span}{state}"

    def as_dict(self) -> dict[str, object]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "count": self.count,
                "repaired": self.repaired}


@dataclass
class Cleaned:
    """The usable bars of some replies, and what was wrong with the rest."""

    bars: dict[int, RawBar] = field(default_factory=dict)
    duplicates: int = 0
    conflicts: set[int] = field(default_factory=set)
    out_of_order: int = 0
    rejected: list[str] = field(default_factory=list)


def bar_problem(row: RawBar, bar_ms: int) -> str | None:
    """Return why a bar cannot be used, or None when it is sound."""
    ts, o, h, low, c, v = row
    if ts % bar_ms:
        return f"open time {ts} is not on the {bar_ms // 1000} s grid"
    if not all(math.isfinite(x) for x in (o, h, low, c, v)):
        return "a price or the volume is not a finite number"
    if low <= 0:
        return f"low {low:g} is not above 0"
    if h < max(o, c, low) or low > min(o, c):
        return f"high {h:g} / low {low:g} do not contain open {o:g} and close {c:g}"
    if v < 0:
        return f"volume {v:g} is below 0"
    return None


def clean(rows: Iterable[RawBar], bar_ms: int, first_ms: int, last_ms: int, *, ordered: bool) -> Cleaned:
    """Keep the sound bars of ``rows`` inside [first_ms, last_ms]; count duplicates, conflicts and disorder."""
    out = Cleaned()
    bad: set[int] = set()
    previous: int | None = None
    for row in rows:
        ts = row[0]
        if ordered and previous is not None and ts < previous:
            out.out_of_order += 1
        previous = ts
        if not first_ms <= ts <= last_ms:
            continue  # outside the window: the forming bar, or a neighbour the exchange added
        problem = bar_problem(row, bar_ms)
        if problem is not None:
            bad.add(ts)
            if len(out.rejected) < MAX_REJECTIONS_SHOWN:
                out.rejected.append(f"{from_ms(ts).isoformat()}: {problem}")
            continue
        kept = out.bars.get(ts)
        if kept is None:
            out.bars[ts] = row
        elif kept == row:
            out.duplicates += 1
        else:
            out.conflicts.add(ts)
    for ts in out.conflicts | bad:
        out.bars.pop(ts, None)  # one sound copy next to a broken one is still not trustworthy
    return out


def runs(missing: np.ndarray) -> list[tuple[int, int]]:
    """Return (first index, last index) of each run of True in a boolean array."""
    if not missing.any():
        return []
    edges = np.diff(np.concatenate(([0], missing.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1) - 1
    return list(zip(starts.tolist(), stops.tolist(), strict=True))


def missing_ranges(present: np.ndarray, first_ms: int, last_ms: int, bar_ms: int) -> list[tuple[int, int]]:
    """Return [(first, last)] open times of every run of grid slots in [first_ms, last_ms] not in ``present``."""
    if last_ms < first_ms:
        return []
    slots = np.arange(first_ms, last_ms + 1, bar_ms, dtype=np.int64)
    absent = ~np.isin(slots, present)
    return [(int(slots[a]), int(slots[b])) for a, b in runs(absent)]


@dataclass(frozen=True)
class Holes:
    """Where a window lacks bars: before the first present one, between present ones, after the last."""

    leading: tuple[int, int] | None
    interior: list[tuple[int, int]]
    trailing: tuple[int, int] | None
    first_present: int | None


def holes(present: np.ndarray, first_ms: int, last_ms: int, bar_ms: int) -> Holes:
    """Classify the missing slots of [first_ms, last_ms] given the present open times (sorted)."""
    inside = present[(present >= first_ms) & (present <= last_ms)]
    if inside.size == 0:
        whole = (first_ms, last_ms) if last_ms >= first_ms else None
        return Holes(whole, [], None, None)
    lo, hi = int(inside[0]), int(inside[-1])
    leading = (first_ms, lo - bar_ms) if lo > first_ms else None
    trailing = (hi + bar_ms, last_ms) if hi < last_ms else None
    return Holes(leading, missing_ranges(inside, lo, hi, bar_ms), trailing, lo)


def as_gaps(ranges: Iterable[tuple[int, int]], bar_ms: int, *, repaired: bool = False) -> list[Gap]:
    """Return ``Gap`` values for (first, last) open-time ranges."""
    return [Gap(from_ms(a), (b - a) // bar_ms + 1, bar_ms // 1000, repaired) for a, b in ranges]


def series_gaps(ts: np.ndarray, bar_ms: int) -> list[Gap]:
    """Return the gaps inside a stored series (its open times, ascending)."""
    if ts.size < 2:
        return []
    steps = np.diff(ts)
    where = np.flatnonzero(steps != bar_ms)
    return [Gap(from_ms(int(ts[k]) + bar_ms), int(steps[k]) // bar_ms - 1, bar_ms // 1000) for k in where.tolist()]


@dataclass(frozen=True)
class FetchReport:
    """What one ``fetch`` did. ``gaps`` lists every gap found, each marked repaired or not."""

    source: str
    symbol: str
    timeframe: str
    start: datetime
    end: datetime | None  # open time of the last closed bar the fetch covered (None: nothing closed yet)
    requests: int = 0
    received: int = 0  # rows in the replies
    fetched: int = 0  # new bars stored
    already_stored: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    conflicts: int = 0
    rejected: tuple[str, ...] = ()
    gaps: tuple[Gap, ...] = ()
    history_starts: datetime | None = None  # the exchange has no bars before this (listing)
    not_yet_published: int = 0  # closed bars at the end the exchange does not serve yet
    note: str = ""

    @property
    def gaps_found(self) -> int:
        return len(self.gaps)

    @property
    def gaps_repaired(self) -> int:
        return sum(1 for gap in self.gaps if gap.repaired)

    @property
    def unrepaired(self) -> list[Gap]:
        return [gap for gap in self.gaps if not gap.repaired]

    def as_dict(self) -> dict[str, Any]:
        """Return the report JSON-safe."""
        return {
            "source": self.source, "symbol": self.symbol, "timeframe": self.timeframe,
            "start": self.start.isoformat(), "end": self.end.isoformat() if self.end else None,
            "requests": self.requests, "received": self.received, "fetched": self.fetched,
            "already_stored": self.already_stored, "duplicates": self.duplicates,
            "out_of_order": self.out_of_order, "conflicts": self.conflicts, "rejected": list(self.rejected),
            "gaps": [g.as_dict() for g in self.gaps], "gaps_found": self.gaps_found,
            "gaps_repaired": self.gaps_repaired,
            "history_starts": self.history_starts.isoformat() if self.history_starts else None,
            "not_yet_published": self.not_yet_published, "note": self.note,
        }
