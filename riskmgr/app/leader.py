"""Who runs the background jobs: one leader per database, elected by a lock that dies with its holder.

- SQLite: an exclusive ``flock`` on a file beside the database (``<db>.scheduler.lock``), so every process on the
  same database file contends for the same lock whatever its instance folder; the OS releases it when the
  process dies.
- PostgreSQL: a session advisory lock (``pg_try_advisory_lock``) held on a dedicated connection opened for it,
  keyed on the database and schema; the server releases it when that connection or its process dies (``kill -9``
  closes the socket), so a follower retrying every few seconds takes over within two poll intervals. A leader
  checks its connection every few seconds and steps down when it is gone (the lock may have passed on).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)


class LeaderLock(Protocol):
    def try_acquire(self) -> bool:
        """Take the lock if it is free; return whether this process holds it."""

    def still_held(self) -> bool:
        """Return whether this process still holds the lock it took."""

    def release(self) -> None:
        """Give the lock up (nothing when not held)."""

    def describe(self) -> str:
        """Say what the lock is, for the log."""


class FileLock:
    """An exclusive advisory file lock held by one process at a time."""

    def __init__(self, path: Path):
        self.path = path
        self._fh: IO[str] | None = None

    def try_acquire(self) -> bool:
        if self._fh is not None:
            return True
        fh = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held open while the lock is held)
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            return False
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._fh = fh
        return True

    def still_held(self) -> bool:
        return self._fh is not None  # a flock lasts as long as the open file

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    def describe(self) -> str:
        return f"file lock {self.path}"


# the lock's key: the database and schema, hashed by the server, so every spelling of the same URL agrees
_KEY_SQL = "SELECT hashtextextended('riskmgr-scheduler/' || current_database() || '/' || current_schema(), 0)"


class PostgresLock:
    """A session advisory lock on a connection of its own (not from the pool: it lives as long as the lead)."""

    def __init__(self, database_url: str, connect_timeout: int = 5):
        url = make_url(database_url).set(drivername="postgresql")
        self._conninfo = url.render_as_string(hide_password=False)
        self._where = url.render_as_string(hide_password=True)
        self._timeout = connect_timeout
        self._conn: psycopg.Connection[Any] | None = None  # imported when the lock is first tried

    def try_acquire(self) -> bool:
        if self._conn is not None:
            return True
        import psycopg

        try:
            conn = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=self._timeout)
        except psycopg.Error as exc:
            log.warning("scheduler election: cannot reach the database: %s", type(exc).__name__)
            return False
        try:
            row = conn.execute(f"SELECT pg_try_advisory_lock(({_KEY_SQL}))").fetchone()
        except psycopg.Error:
            conn.close()
            return False
        if not (row and row[0]):
            conn.close()
            return False
        self._conn = conn
        return True

    def still_held(self) -> bool:
        if self._conn is None:
            return False
        import psycopg

        try:
            self._conn.execute("SELECT 1").fetchone()
        except psycopg.Error:
            log.error("scheduler election: the lock's connection is gone; stepping down")
            self._drop()
            return False
        return True

    def release(self) -> None:
        if self._conn is None:
            return
        import psycopg

        with contextlib.suppress(psycopg.Error):  # a connection that is gone took the lock with it
            self._conn.execute(f"SELECT pg_advisory_unlock(({_KEY_SQL}))")
        self._drop()

    def describe(self) -> str:
        return f"PostgreSQL advisory lock on {self._where}"

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # closing a broken connection may fail; it is gone either way
                conn.close()


def lock_for(database_url: str, instance_path: Path) -> LeaderLock:
    """Return the leader lock for the database at ``database_url``."""
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        return PostgresLock(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        db_file = Path(url.database).resolve()
        return FileLock(db_file.with_name(db_file.name + ".scheduler.lock"))
    return FileLock(instance_path / "scheduler.lock")
