"""The per-account gate lock: "read exposure → run the rules → send" for one account, one caller at a time.

Held across threads *and* processes (gunicorn workers, the scheduler worker, the CLI), one lock per account so
accounts never wait for each other:

- SQLite (one machine by nature): an exclusive ``flock`` on a file per account beside the database file, so every
  process that opens the same database shares the same locks, whatever its instance folder. SQLite's own
  ``BEGIN IMMEDIATE`` would lock the whole database (every account, every poll write) for the length of a venue
  call, and the gate's own intent and audit writes would then wait on it.
- PostgreSQL: a transaction-scoped advisory lock (``pg_advisory_xact_lock``) keyed on the account, on a
  connection held for the critical section; released at commit or when the connection dies.
- An in-memory SQLite database cannot be shared between processes: a thread lock alone.

The lock is re-entrant per thread. Waiting is bounded: past ``timeout`` the caller gets ``GateBusyError`` (a
temporary error: the order was not sent, try again), never an unguarded send.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, text

from riskmgr.core.errors import TemporaryError

DEFAULT_TIMEOUT = 15.0
_POLL = 0.002


class GateBusyError(TemporaryError):
    """The account's gate could not be taken in time: nothing was sent; try again."""


def _key(account: str) -> str:
    return hashlib.sha256(account.encode()).hexdigest()[:32]


class GateLock:
    """Serialize the gate per account across threads and processes (see the module docstring)."""

    def __init__(self, engine: Engine, timeout: float = DEFAULT_TIMEOUT):
        self._engine = engine
        self._timeout = timeout
        self._guard = threading.Lock()
        self._threads: dict[str, threading.RLock] = {}
        self._held = threading.local()
        url = engine.url
        self._dialect = url.get_backend_name()
        database = url.database or ""
        self._dir: Path | None = None
        if self._dialect == "sqlite" and database not in ("", ":memory:") and not database.startswith("file:"):
            self._dir = Path(database).resolve().parent / (Path(database).name + ".gates")

    @contextlib.contextmanager
    def hold(self, account: str) -> Iterator[None]:
        """Hold ``account``'s gate for the body of the ``with`` block."""
        depth: dict[str, int] = self._held.__dict__.setdefault("depth", {})
        if depth.get(account):
            depth[account] += 1
            try:
                yield
            finally:
                depth[account] -= 1
            return
        deadline = time.monotonic() + self._timeout
        local = self._thread_lock(account)
        if not local.acquire(timeout=self._timeout):
            raise GateBusyError(f"the order gate of {account!r} stayed busy for {self._timeout:g} s; nothing was sent",
                                account=account, operation="gate")
        try:
            with self._process_lock(account, deadline):
                depth[account] = 1
                try:
                    yield
                finally:
                    depth[account] = 0
        finally:
            local.release()

    def fence(self, accounts: list[str]) -> None:
        """Wait until every send that started before now on ``accounts`` has returned (take and drop each gate)."""
        for account in accounts:
            with self.hold(account):
                pass

    # -- internals ---------------------------------------------------------------------------------------------
    def _thread_lock(self, account: str) -> threading.RLock:
        with self._guard:
            return self._threads.setdefault(account, threading.RLock())

    @contextlib.contextmanager
    def _process_lock(self, account: str, deadline: float) -> Iterator[None]:
        if self._dialect == "postgresql":
            with self._engine.connect() as conn, conn.begin():
                ms = max(1, int((deadline - time.monotonic()) * 1000))
                conn.execute(text(f"SET LOCAL lock_timeout = {ms}"))
                key = int(_key(account)[:15], 16)  # fits a signed 64-bit integer
                try:
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
                except Exception as exc:  # lock_timeout: the gate stayed busy
                    raise GateBusyError(f"the order gate of {account!r} stayed busy: {exc}", account=account,
                                        operation="gate") from exc
                yield
            return
        if self._dir is None:
            yield
            return
        self._dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._dir / f"{_key(account)}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise GateBusyError(
                            f"the order gate of {account!r} stayed busy in another process; nothing was sent",
                            account=account, operation="gate",
                        ) from None
                    time.sleep(_POLL)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
