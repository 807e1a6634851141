"""Equity history for the chart: raw points for short windows, roll-ups (last reading per bucket) for long ones.

Every poll adds one raw point per account and moves that account's 1 min, 15 min and 1 h roll-up buckets to it
(``record``), so a week is read as 672 rows per account instead of 120,960. A bucket no reading fell into has no
row: gaps stay gaps. The answer names its resolution.

Per request a worker reads only each series' tail bucket (its older buckets never change and stay in memory as JSON
fragments), on a plain connection with statements built once: building a SQLAlchemy statement and going through the
ORM session cost four times what the reads themselves do.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import threading
import weakref
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, Table, bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from riskmgr.core.formatting import dec
from riskmgr.persistence.models import EquityPoint, EquityRollup

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime

MAX_POINTS = 2000  # per account and answer
WIDTHS = (60, 900, 3600)  # roll-up bucket widths in seconds, finest first
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def bucket_start(ts: datetime, width_s: int) -> datetime:
    """Return the start of the ``width_s`` bucket holding ``ts`` (buckets aligned on the Unix epoch)."""
    seconds = int((ts - _EPOCH).total_seconds())
    return _EPOCH + timedelta(seconds=seconds - seconds % width_s)


def record(session: Session, readings: Iterable[tuple[str, datetime, Decimal]]) -> None:
    """Move each account's roll-up buckets to its reading (account, time, equity); a later reading wins."""
    latest: dict[tuple[str, int, datetime], tuple[datetime, Decimal]] = {}
    for account, ts, equity in readings:  # one row per bucket: an upsert may not touch a row twice (PostgreSQL)
        for w in WIDTHS:
            key = (account, w, bucket_start(ts, w))
            if key not in latest or ts >= latest[key][0]:
                latest[key] = (ts, equity)
    rows = [{"account": a, "width_s": w, "bucket": b, "ts": ts, "equity": eq} for (a, w, b), (ts, eq) in latest.items()]
    if rows:
        session.connection().execute(_upsert(session.get_bind().dialect.name), rows)


_UPSERTS: dict[str, Any] = {}


def _upsert(dialect: str) -> Any:
    """Return the roll-up upsert for ``dialect``, built once and run as one executemany per poll."""
    if dialect not in _UPSERTS:
        maker = pg_insert if dialect == "postgresql" else sqlite_insert
        table = cast(Table, EquityRollup.__table__)  # a declarative model's table
        stmt = maker(table)
        _UPSERTS[dialect] = stmt.on_conflict_do_update(
            index_elements=["account", "width_s", "bucket"],
            set_={"ts": stmt.excluded.ts, "equity": stmt.excluded.equity},
            where=stmt.excluded.ts >= table.c.ts,
        )
    return _UPSERTS[dialect]


def resolution(span: timedelta, poll_seconds: int) -> int | None:
    """Return the roll-up width for a window (None: raw points fit within MAX_POINTS)."""
    seconds = span.total_seconds()
    if seconds / max(poll_seconds, 1) <= MAX_POINTS:
        return None
    return next((w for w in WIDTHS if seconds / w <= MAX_POINTS), WIDTHS[-1])


GAP_READINGS = 3  # readings missed in a row before the chart breaks its line


def gap_seconds(width: int | None, poll_seconds: int) -> int:
    """Return the spacing beyond which two points have no data between them (raw: polls; roll-ups: buckets)."""
    return GAP_READINGS * (width or max(poll_seconds, 1))


def history(runtime: Runtime, account: str | None, since: datetime | None) -> dict[str, Any]:
    """Return equity points per account since ``since`` (default 24 h), at most MAX_POINTS each, and the resolution."""
    return json.loads(history_json(runtime, account, since))


def history_json(runtime: Runtime, account: str | None, since: datetime | None) -> str:
    """Return ``history`` as JSON text; roll-up points come from this worker's memory, refreshed at the tail."""
    now = runtime.clock.now()
    since = since or now - timedelta(hours=24)
    width = resolution(now - since, runtime.settings.poll_seconds)
    names = [account] if account else list(runtime.accounts)
    with runtime.engine.connect() as connection:  # plain reads: no ORM session, statements built once
        if width is None:
            points = {name: [_fragment(ts, eq) for ts, eq in connection.execute(
                _RAW, {"account": name, "since": since})] for name in names}
        else:
            points = _rollup_fragments([_series(runtime, name, width) for name in names], connection, since)
    parts = [f"{json.dumps(name)}:[{','.join(_thin(points[name]))}]" for name in names]
    head = {"since": since.isoformat(), "resolution": "raw" if width is None else f"last reading per {width // 60} min",
            "resolution_seconds": width, "gap_seconds": gap_seconds(width, runtime.settings.poll_seconds)}
    return json.dumps(head, separators=(",", ":"))[:-1] + ',"series":{' + ",".join(parts) + "}}"


# built once: composing a statement costs more than running it (SQLAlchemy caches the compiled form)
_RAW = (select(EquityPoint.ts, EquityPoint.equity)
        .where(EquityPoint.account == bindparam("account"), EquityPoint.ts >= bindparam("since"))
        .order_by(EquityPoint.ts))
_ROLLUPS = (select(EquityRollup.bucket, EquityRollup.ts, EquityRollup.equity)
            .where(EquityRollup.account == bindparam("account"), EquityRollup.width_s == bindparam("width"),
                   EquityRollup.bucket >= bindparam("start"))
            .order_by(EquityRollup.bucket))
_TAILS = (select(EquityRollup.account, EquityRollup.bucket, EquityRollup.ts, EquityRollup.equity)
          .where(EquityRollup.account.in_(bindparam("accounts", expanding=True)),
                 EquityRollup.width_s == bindparam("width"), EquityRollup.bucket >= bindparam("start"))
          .order_by(EquityRollup.account, EquityRollup.bucket))


def _fragment(ts: datetime, equity: Decimal) -> str:
    return f'{{"ts":"{ts.isoformat()}","equity":"{dec(equity)}"}}'


class _Series:
    """One account's roll-up points of one width, in bucket order, as JSON fragments; older buckets never change."""

    def __init__(self, account: str, width: int):
        self.account, self.width = account, width
        self.buckets: list[datetime] = []
        self.times: list[datetime] = []
        self.fragments: list[str] = []
        self.covers_from: datetime | None = None  # every bucket from here on is held
        self.lock = threading.Lock()

    def covers(self, first: datetime) -> bool:
        """Say whether every bucket from ``first`` on is held (the caller holds the lock)."""
        return self.covers_from is not None and first >= self.covers_from

    def tail(self, first: datetime) -> datetime:
        """Return the bucket to read again from when ``covers(first)``: the last one held (it may have moved on)."""
        return self.buckets[-1] if self.buckets else first

    def since(self, since: datetime) -> list[str]:
        """Return the held fragments of readings at or after ``since`` (the caller holds the lock)."""
        i = bisect.bisect_left(self.buckets, bucket_start(since, self.width))
        if i < len(self.times) and self.times[i] < since:  # the first bucket's reading came before ``since``
            i += 1
        return self.fragments[i:]

    def load(self, connection: Connection, start: datetime) -> None:
        """Read every bucket from ``start`` on afresh (the caller holds the lock)."""
        rows = connection.execute(_ROLLUPS, {"account": self.account, "width": self.width, "start": start}).all()
        self.apply(start, rows, reset=True)

    def apply(self, start: datetime, rows: Iterable[Any], *, reset: bool = False) -> None:
        """Replace what is held from ``start`` on with ``rows`` (bucket, ts, equity) (the caller holds the lock)."""
        if reset:
            self.buckets, self.times, self.fragments, self.covers_from = [], [], [], start
        keep = bisect.bisect_left(self.buckets, start)  # the tail bucket may have moved on: read it again
        del self.buckets[keep:], self.times[keep:], self.fragments[keep:]
        for bucket, ts, equity in rows:
            self.buckets.append(bucket)
            self.times.append(ts)
            self.fragments.append(_fragment(ts, equity))
        if len(self.buckets) > 4 * MAX_POINTS:  # hold no more than the longest window at this width needs
            drop = len(self.buckets) - 2 * MAX_POINTS
            del self.buckets[:drop], self.times[:drop], self.fragments[:drop]
            self.covers_from = self.buckets[0]


# per worker process and per database (engine): an engine that goes away takes its series with it
_cache: weakref.WeakKeyDictionary[Any, dict[tuple[str, int], _Series]] = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def _rollup_fragments(held: list[_Series], connection: Connection, since: datetime) -> dict[str, list[str]]:
    """Return each series' fragments since ``since``: one read of every series' tail bucket (the rest is held)."""
    with contextlib.ExitStack() as locked:
        for series in sorted(held, key=lambda s: s.account):  # one order everywhere: no two requests deadlock
            locked.enter_context(series.lock)
        first = bucket_start(since, held[0].width) if held else since
        tails = {}
        for series in held:
            if series.covers(first):
                tails[series.account] = series.tail(first)
            else:  # new to this worker, or a window reaching further back than held: read it whole
                series.load(connection, first)
        if tails:
            rows: dict[str, list[Any]] = {name: [] for name in tails}
            for row in connection.execute(_TAILS, {"accounts": list(tails), "width": held[0].width,
                                                   "start": min(tails.values())}):
                if row.bucket >= tails[row.account]:
                    rows[row.account].append((row.bucket, row.ts, row.equity))
            for series in held:
                if series.account in tails:
                    series.apply(tails[series.account], rows[series.account])
        return {series.account: series.since(since) for series in held}


def _series(runtime: Runtime, account: str, width: int) -> _Series:
    with _cache_lock:
        per_engine = _cache.setdefault(runtime.engine, {})
        if (account, width) not in per_engine:
            per_engine[(account, width)] = _Series(account, width)
        return per_engine[(account, width)]


def _thin(rows: list[str]) -> list[str]:
    """Keep at most MAX_POINTS evenly spaced rows, always ending on the latest reading."""
    if len(rows) <= MAX_POINTS:
        return rows
    step = -(-len(rows) // MAX_POINTS)
    thinned = rows[::step]
    if thinned[-1] is not rows[-1]:
        thinned.append(rows[-1])
    return thinned
