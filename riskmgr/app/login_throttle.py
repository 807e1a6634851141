"""Login throttling in the database: per client address and globally, exponential back-off, no lock-out.

Every worker and every restart sees the same counters (one row per client address plus one ``*global*`` row):

- **Per address**: the first ``FREE_FAILURES`` failures in a row cost nothing; each further one doubles the
  wait before the next attempt (1 s, 2 s, 4 s, ... at most ``MAX_DELAY``). A successful login clears the
  address; a day without failures forgets it. One address can therefore try about four times an hour at most.
- **Globally**: a rate cap (a GCRA / leaky bucket) of ``GLOBAL_BURST`` attempts at once and one more every
  ``GLOBAL_INTERVAL``, which only binds when many addresses attack together. When it binds, the address gets a
  *reserved slot*: a moment at which it will be let in whatever the others do. So an attacker cannot push the
  operator out for good: the operator waits at most one interval per attacking address that already holds a
  slot, and a single attacking address never reaches the cap (its own back-off stops it long before).

An attempt is counted when it is let in, before the password is checked (so concurrent attempts cannot slip
past the count), and cleared again when the password was right. Every decision runs in one transaction that
first locks the ``*global*`` row (an ``UPDATE`` on it), so workers and processes take turns; the counters are
raised with ``failures = failures + 1`` and the rows created with insert-on-conflict-do-nothing.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, String, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from riskmgr.core.clock import Clock
from riskmgr.persistence.base import Base
from riskmgr.persistence.models import UTCDateTime

GLOBAL_KEY = "*global*"
FREE_FAILURES = 3
BASE_DELAY_S = 1.0
MAX_DELAY_S = 900.0
FORGET_AFTER = timedelta(hours=24)
GLOBAL_INTERVAL_S = 2.0
GLOBAL_BURST = 60


class LoginFailure(Base):
    """Failed-login counter of one client address (``addr:...``) or of all of them (``*global*``)."""

    __tablename__ = "login_failure"
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    # per address: no attempt before this; *global*: the rate cap's theoretical arrival time
    next_allowed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # per address: a slot reserved in the global rate cap (let in at this time whatever the others do)
    slot_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


@dataclass(frozen=True)
class Admission:
    """Whether a login attempt may be checked now; if not, when to try again."""

    allowed: bool
    retry_at: datetime | None = None
    retry_after_s: int = 0


def address_key(address: str) -> str:
    """Return the counter key of a client address (an IPv6 address counts by its /64, as one host owns those)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        ip = None
    if ip is not None and ip.version == 6 and ip.ipv4_mapped is None:
        address = str(ipaddress.ip_network(f"{ip}/64", strict=False))
    elif ip is not None and ip.version == 6:
        address = str(ip.ipv4_mapped)
    if len(address) > 64:
        return "addr#" + hashlib.sha256(address.encode()).hexdigest()[:40]
    return "addr:" + address


def backoff_s(failures: int) -> float:
    """Return how long an address waits after its ``failures``-th failure in a row."""
    if failures <= FREE_FAILURES:
        return 0.0
    return min(BASE_DELAY_S * 2 ** min(failures - FREE_FAILURES - 1, 30), MAX_DELAY_S)


class LoginThrottle:
    """Decide whether a login attempt from an address may be checked, and record how it went."""

    def __init__(self, engine: Engine, clock: Clock):
        self._engine = engine
        self._clock = clock

    def admit(self, address: str) -> Admission:
        """Let an attempt in (counting it as a failure until ``succeeded``) or say when to come back."""
        now = self._clock.now()
        key = address_key(address)
        with self._engine.begin() as conn:
            self._lock(conn, key, now)
            row = self._row(conn, key)
            glob = self._row(conn, GLOBAL_KEY)
            retry_at = self._refusal(conn, key, row, glob, now)
            if retry_at is not None:
                return Admission(False, retry_at, max(1, math.ceil((retry_at - now).total_seconds())))
            self._count(conn, key, row, glob, now)
        return Admission(True)

    def succeeded(self, address: str) -> None:
        """Clear the address's counter after a correct password."""
        with self._engine.begin() as conn:
            conn.execute(update(LoginFailure).where(LoginFailure.key == address_key(address))
                         .values(failures=0, next_allowed_at=None, slot_at=None))

    def state(self, address: str | None = None) -> LoginFailure | None:
        """Return the stored counter of ``address`` (or the global one) — for tests and diagnostics."""
        key = GLOBAL_KEY if address is None else address_key(address)
        with self._engine.connect() as conn:
            return self._row(conn, key)

    def _lock(self, conn: Connection, key: str, now: datetime) -> None:
        """Create the rows if missing, take the global row's lock, forget old failures and stale addresses."""
        maker = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        for k in (GLOBAL_KEY, key):
            conn.execute(maker(LoginFailure).values(key=k, failures=0).on_conflict_do_nothing())
        conn.execute(update(LoginFailure).where(LoginFailure.key == GLOBAL_KEY)
                     .values(failures=LoginFailure.failures))  # the lock: admissions take turns from here on
        cutoff = now - FORGET_AFTER
        conn.execute(delete(LoginFailure).where(LoginFailure.key != GLOBAL_KEY, LoginFailure.key != key,
                                                LoginFailure.last_failure_at < cutoff, LoginFailure.slot_at.is_(None)))
        conn.execute(update(LoginFailure).where(LoginFailure.key == key, LoginFailure.last_failure_at < cutoff)
                     .values(failures=0, next_allowed_at=None))

    @staticmethod
    def _row(conn: Connection, key: str):
        return conn.execute(select(LoginFailure.__table__).where(LoginFailure.key == key)).one_or_none()

    def _refusal(self, conn: Connection, key: str, row, glob, now: datetime) -> datetime | None:
        """Return when the address may try again, or None to let it in now (reserving a slot when capped)."""
        own = row.next_allowed_at if row.next_allowed_at is not None and row.next_allowed_at > now else None
        if own is not None:
            return max(own, row.slot_at) if row.slot_at is not None else own
        if row.slot_at is not None:  # a reserved slot in the global cap: let in at its time, already counted there
            return row.slot_at if row.slot_at > now else None
        tat = _global_after(glob, now)
        tolerance = timedelta(seconds=GLOBAL_INTERVAL_S * GLOBAL_BURST)
        if tat - now <= tolerance:
            return None
        slot = tat - tolerance
        conn.execute(update(LoginFailure).where(LoginFailure.key == GLOBAL_KEY).values(next_allowed_at=tat))
        conn.execute(update(LoginFailure).where(LoginFailure.key == key).values(slot_at=slot))
        return slot

    def _count(self, conn: Connection, key: str, row, glob, now: datetime) -> None:
        """Count the admitted attempt as a failure of the address and of the global cap."""
        conn.execute(update(LoginFailure).where(LoginFailure.key == key)
                     .values(failures=LoginFailure.failures + 1, last_failure_at=now, slot_at=None))
        failures = conn.execute(select(LoginFailure.failures).where(LoginFailure.key == key)).scalar_one()
        wait = backoff_s(failures)
        conn.execute(update(LoginFailure).where(LoginFailure.key == key)
                     .values(next_allowed_at=now + timedelta(seconds=wait) if wait else None))
        values: dict = {"failures": LoginFailure.failures + 1, "last_failure_at": now}
        if row.slot_at is None:  # a reserved slot was counted in the cap when it was reserved
            values["next_allowed_at"] = _global_after(glob, now)
        conn.execute(update(LoginFailure).where(LoginFailure.key == GLOBAL_KEY).values(**values))


def _global_after(glob, now: datetime) -> datetime:
    """Return the global cap's theoretical arrival time after one more attempt now."""
    tat = glob.next_allowed_at if glob.next_allowed_at is not None and glob.next_allowed_at > now else now
    return tat + timedelta(seconds=GLOBAL_INTERVAL_S)
