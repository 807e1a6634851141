"""Tables of the stop-loss watchdog and the store that reads and writes them.

What the watchdog knows about each position (since when it is unprotected, how many attempts failed) and
its counters live in the database, so the state survives a restart and every web worker shows the poller's
view. Each store method is one short transaction: none is held open while an exchange is called.

A placement the venue accepted is remembered as *pending* (its client id, when, at what levels) until the
venue lists it: a lagging stop list must not make the watchdog send the same stop again.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, Engine, Integer, String, Text, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from riskmgr.core.domain import PositionSide
from riskmgr.persistence.base import Base
from riskmgr.persistence.models import OrderIntent, UTCDateTime

COUNTERS = ("detected", "placed", "restored", "failed", "escalated", "wrong_side", "deferred")


class WatchedPosition(Base):
    """One (account, symbol, side) the watchdog has seen: the open position there and its protection episode.

    ``unprotected_since`` is set while the position lacks a stop-loss (or a wanted take-profit); ``attempts``,
    ``failures`` and ``escalations`` count within that episode. ``flat_since`` remembers when the key was last
    seen without a position, so a plan recorded at entry is only taken from an order sent after it.
    ``pending_*`` describe the last accepted placement the venue has not listed yet; ``resends`` counts the
    placements given up as lost (past the grace period) in this episode, so a re-placement gets a new intent.
    """

    __tablename__ = "watchdog_position"
    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    side: Mapped[str] = mapped_column(String(8), primary_key=True)
    open: Mapped[bool] = mapped_column(Boolean)
    identity: Mapped[str] = mapped_column(String(160))
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    flat_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    unprotected_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    missing: Mapped[str | None] = mapped_column(String(64), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_result: Mapped[str | None] = mapped_column(Text, nullable=True)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    escalation: Mapped[str | None] = mapped_column(String(32), nullable=True)
    escalations: Mapped[int] = mapped_column(Integer, default=0)
    pending_client_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    pending_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    pending_levels: Mapped[str | None] = mapped_column(String(160), nullable=True)
    resends: Mapped[int] = mapped_column(Integer, default=0)

    def start_episode(self, since: datetime | None, missing: str | None) -> None:
        """Mark the position unprotected from ``since`` (None: protected)."""
        self.unprotected_since, self.missing = since, missing
        self.attempts = self.failures = self.escalations = self.resends = 0
        self.last_attempt_at = self.last_result = self.escalated_at = self.escalation = None
        self.clear_pending()

    def clear_pending(self) -> None:
        """Forget the placement awaiting its listing."""
        self.pending_client_id = self.pending_at = self.pending_levels = None


class WatchdogCounter(Base):
    """One of the watchdog's running totals (see ``COUNTERS``)."""

    __tablename__ = "watchdog_counter"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


@dataclass(frozen=True)
class Episode:
    """One stretch of time a position has been unprotected, as read at the start of a check."""

    account: str
    symbol: str
    side: PositionSide
    identity: str
    since: datetime
    missing: str
    attempts: int
    failures: int
    escalation: str | None
    escalations: int
    flat_since: datetime | None
    pending_client_id: str | None = None
    pending_at: datetime | None = None
    pending_levels: str | None = None
    resends: int = 0

    @property
    def key(self) -> tuple[str, str, str]:
        return self.account, self.symbol, self.side.value

    def intent_id(self, what: str, number: int) -> str:
        """Return the deterministic intent id of one action in this episode."""
        return (f"watchdog:{what}:{self.account}:{self.symbol}:{self.side.value}:{self.identity}:"
                f"{self.since.isoformat()}:{number}")

    def protect_intent_id(self, stop: Decimal | None, target: Decimal | None) -> str:
        """Return the intent id of placing these levels: the same for every cycle until one is refused or lost.

        It names the position (identity), the episode and the levels; the number counts refusals and lost
        placements only, so a cycle that sees the accepted stop not yet listed would ask for the very same intent.
        """
        levels = f"sl={_text(stop)}:tp={_text(target)}"
        return self.intent_id(f"protect:{levels}", self.failures + self.resends)


@dataclass(frozen=True)
class Observation:
    """What one look at a position changed: the open episode, and whether one started or ended now."""

    episode: Episode | None
    started: bool
    ended_since: datetime | None
    ended_missing: str | None


def bump(session: Session, *names: str) -> None:
    """Add one to each named counter (a name given twice adds two)."""
    for name, times in Counter(names).items():
        if name not in COUNTERS:
            raise ValueError(f"unknown watchdog counter {name!r}")
        row = session.get(WatchdogCounter, name, with_for_update=True)
        if row is None:
            session.add(WatchdogCounter(name=name, value=times))
        else:
            row.value += times


class WatchStore:
    """Read and change the watchdog's rows, one short transaction per call (one per account for a whole read)."""

    def __init__(self, engine: Engine):
        self._engine = engine

    def _session(self) -> Session:
        return Session(self._engine, expire_on_commit=False)

    def count(self, *names: str) -> None:
        """Add one to each named counter."""
        with self._session() as session, session.begin():
            bump(session, *names)

    def counts(self) -> dict[str, int]:
        """Return every counter (zero for those never bumped: a count, not a measurement)."""
        with self._session() as session:
            found = {row.name: row.value for row in session.scalars(select(WatchdogCounter))}
        return {name: found.get(name, 0) for name in COUNTERS}

    def observe_accounts(self, seen: dict[str, Read]) -> dict[str, tuple[list[WatchedPosition], list[Observation]]]:
        """Record one poll's reads of these accounts in one transaction: every position seen, every key gone flat.

        Returns per account the rows that went flat while unprotected, and one Observation per sighting, in order.
        """
        try:
            return self._observe_accounts(seen)
        except IntegrityError:  # a racing check inserted a row first: it exists now, so update it
            return self._observe_accounts(seen)

    def _observe_accounts(self, seen: dict[str, Read]) -> dict[str, tuple[list[WatchedPosition], list[Observation]]]:
        bumps: Counter[str] = Counter()
        out: dict[str, tuple[list[WatchedPosition], list[Observation]]] = {}
        with self._session() as session, session.begin():
            stmt = select(WatchedPosition).where(WatchedPosition.account.in_(list(seen))).with_for_update()
            rows = {(r.account, r.symbol, r.side): r for r in session.scalars(stmt)}
            for account, read in seen.items():
                out[account] = _observe_account(session, rows, account, read, bumps)
            bump(session, *bumps.elements())
            session.flush()
            by_time: dict[datetime, list[str]] = {}
            for account, read in seen.items():
                by_time.setdefault(read.now, []).append(account)
            for now, accounts in by_time.items():  # one statement per read time (one a cycle), not one per position
                session.execute(update(WatchedPosition)
                                .where(WatchedPosition.account.in_(accounts), WatchedPosition.open)
                                .values(last_seen=now).execution_options(synchronize_session=False))
        return out

    def record_attempt(self, episode: Episode, now: datetime, accepted: bool, message: str,
                       pending: tuple[str, str] | None = None) -> int | None:
        """Store one placement's outcome; return the episode's failures (None: the episode ended meanwhile).

        ``pending`` (client id, levels) marks an accepted placement as awaiting its listing from ``now`` on.
        """
        with self._session() as session, session.begin():
            row = session.get(WatchedPosition, episode.key, with_for_update=True)
            if row is None or row.unprotected_since != episode.since:
                return None
            row.attempts, row.last_attempt_at, row.last_result = row.attempts + 1, now, message
            row.failures += 0 if accepted else 1
            if accepted and pending is not None:
                row.pending_client_id, row.pending_levels = pending
                row.pending_at = now
            bump(session, "placed" if accepted else "failed")
            return row.failures

    def drop_pending(self, episode: Episode, message: str) -> int | None:
        """Give up the episode's pending placement as lost; return the new resends count (None: another did)."""
        stmt = (update(WatchedPosition)
                .where(WatchedPosition.account == episode.account, WatchedPosition.symbol == episode.symbol,
                       WatchedPosition.side == episode.side.value,
                       WatchedPosition.unprotected_since == episode.since,
                       WatchedPosition.pending_client_id == episode.pending_client_id)
                .values(pending_client_id=None, pending_at=None, pending_levels=None,
                        resends=WatchedPosition.resends + 1, last_result=message))
        with self._session() as session, session.begin():
            # one conditional UPDATE: of two processes giving up the same placement, exactly one wins
            if session.execute(stmt).rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE's Result is a CursorResult (rowcount)
                return None
            return episode.resends + 1

    def record_escalation(self, episode: Episode, now: datetime, escalation: str, message: str) -> None:
        """Store that the episode was escalated and how."""
        with self._session() as session, session.begin():
            row = session.get(WatchedPosition, episode.key, with_for_update=True)
            if row is not None and row.unprotected_since == episode.since:
                row.escalated_at, row.escalation, row.last_result = now, escalation, message
                row.escalations += 1
            bump(session, "escalated")

    def unprotected(self, accounts: set[str], now: datetime) -> list[dict[str, Any]]:
        """Return the open positions without their protection, longest first, with how long."""
        stmt = (select(WatchedPosition).where(WatchedPosition.open, WatchedPosition.unprotected_since.is_not(None))
                .order_by(WatchedPosition.unprotected_since))
        with self._session() as session:
            rows = [r for r in session.scalars(stmt) if r.account in accounts and r.unprotected_since is not None]
        return [{
            "account": r.account, "symbol": r.symbol, "side": r.side, "missing": r.missing,
            "since": r.unprotected_since.isoformat(),  # type: ignore[union-attr]  # the rows kept have unprotected_since set
            "seconds": round((now - r.unprotected_since).total_seconds()),  # type: ignore[operator]  # the rows kept have unprotected_since set
            "attempts": r.attempts, "failures": r.failures, "last_result": r.last_result,
            "escalation": r.escalation, "last_seen": r.last_seen.isoformat(),
            "pending": None if r.pending_client_id is None else {
                "client_id": r.pending_client_id, "levels": r.pending_levels,
                "since": r.pending_at.isoformat() if r.pending_at else None},
        } for r in rows]

    def in_flight(self, account: str, symbol: str, after: datetime) -> bool:
        """Whether an order on ``symbol`` was sent or settled at or after ``after`` (a read may predate it)."""
        stmt = select(OrderIntent.request).where(
            OrderIntent.account == account, or_(OrderIntent.created_at >= after, OrderIntent.updated_at >= after)
        )
        with self._session() as session:
            return any((r or {}).get("symbol") == symbol for r in session.scalars(stmt))

    def plan(self, account: str, symbol: str, side: PositionSide, flat_since: datetime | None
             ) -> tuple[Decimal | None, Decimal | None, str]:
        """Return the stop and target last sent through the gate for this position, or (None, None, why).

        An entry carrying a stop, or a protective order placed after one, counts; the self-test's order does not.
        """
        stmt = (select(OrderIntent).where(OrderIntent.account == account, OrderIntent.status == "accepted",
                                          OrderIntent.purpose != "selftest")
                .order_by(OrderIntent.created_at.desc()).limit(200))
        if flat_since is not None:  # an order sent before the key was last flat belongs to an earlier position
            stmt = stmt.where(OrderIntent.created_at >= flat_since)
        wanted = {True: side.close_order_side.value, False: side.entry_order_side.value}
        with self._session() as session:
            for intent in session.scalars(stmt):
                r = intent.request or {}
                if r.get("symbol") == symbol and r.get("side") == wanted[bool(r.get("reduce_only"))] \
                        and r.get("stop_loss"):
                    target = Decimal(r["take_profit"]) if r.get("take_profit") else None
                    return Decimal(r["stop_loss"]), target, f"plan of {intent.purpose} order {intent.client_id}"
        return None, None, "default distance from entry"


def _episode(row: WatchedPosition) -> Episode:
    return Episode(row.account, row.symbol, PositionSide(row.side), row.identity,
                   row.unprotected_since,  # type: ignore[arg-type]  # called only on a row with an open episode
                   row.missing or "", row.attempts, row.failures, row.escalation, row.escalations, row.flat_since,
                   row.pending_client_id, row.pending_at, row.pending_levels, row.resends or 0)


def _text(price: Decimal | None) -> str:
    return "-" if price is None else format(price.normalize(), "f")


def _copy(row: WatchedPosition) -> WatchedPosition:
    return WatchedPosition(account=row.account, symbol=row.symbol, side=row.side, missing=row.missing,
                           unprotected_since=row.unprotected_since)


@dataclass(frozen=True)
class Sighting:
    """One position as read: its key on the account, its identity, and what protection it lacks (None: none)."""

    symbol: str
    side: str
    identity: str
    missing: str | None


def _observe_account(session: Session, rows: dict[tuple[str, str, str], WatchedPosition], account: str,
                     read: Read, bumps: Counter[str]) -> tuple[list[WatchedPosition], list[Observation]]:
    held = {(account, s.symbol, s.side) for s in read.sightings}
    cleared = [_forget(row, read.now) for key, row in rows.items()
               if key[0] == account and row.open and key not in held]
    observations = []
    for sight in read.sightings:
        key = (account, sight.symbol, sight.side)
        row = rows.get(key)
        if row is None:
            row = rows[key] = WatchedPosition(account=account, symbol=sight.symbol, side=sight.side, open=False,
                                              identity=sight.identity, first_seen=read.now, last_seen=read.now)
            session.add(row)
        observations.append(_observe(row, sight, read.now, bumps))
    return [c for c in cleared if c is not None], observations


@dataclass(frozen=True)
class Read:
    """One successful read of an account: when, and every position seen."""

    now: datetime
    sightings: list[Sighting]


def _forget(row: WatchedPosition, now: datetime) -> WatchedPosition | None:
    """Mark the key flat; return a copy of the row when it went while unprotected."""
    gone = _copy(row) if row.unprotected_since is not None else None
    row.open, row.flat_since = False, now
    row.start_episode(None, None)
    return gone


def _observe(row: WatchedPosition, sight: Sighting, now: datetime, bumps: Counter[str]) -> Observation:
    """Record the position as seen now; start or end its unprotected episode (counted in ``bumps``)."""
    started = False
    ended: tuple[datetime | None, str | None] = (None, None)
    if not row.open:
        row.open, row.first_seen = True, now
        row.start_episode(None, None)
    if row.identity != sight.identity:  # another position on the key: a stop placed for the old one is moot
        row.clear_pending()
        row.identity = sight.identity
    if sight.missing and row.unprotected_since is None:
        row.start_episode(now, sight.missing)
        bumps["detected"] += 1
        started = True
    elif sight.missing:
        row.missing = sight.missing
    elif row.unprotected_since is not None:
        ended = (row.unprotected_since, row.missing)
        row.start_episode(None, None)
        bumps["restored"] += 1
    episode = _episode(row) if row.unprotected_since is not None else None
    return Observation(episode, started, *ended)
