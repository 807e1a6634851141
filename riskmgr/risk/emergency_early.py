"""Step 4's first re-read, taken account by account the moment step 3's closes of that account have all answered.

Step 3 sends every close of every account at once, but the answers come back spread out (a venue works through one
account's orders one after another). Rather than wait for the slowest account, record step 3, and only then start
step 4's reads, each account is re-read as soon as its own closes have answered: the very read step 4 would make
(the gate fenced on that account first, then the positions fetched from the venue), only sooner. Step 4 takes these
readings as its first round; an account that was not read early (one of its closes never answered, the read broke,
a resumed sequence) is read then, as before. Nothing here decides flatness: step 4 does, from venue reads only.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait

from riskmgr.domain import Position
from riskmgr.risk.emergency_steps import Reading, RunContext, read_positions


class EarlyReads:
    """Re-read accounts in the background as their closes finish; hand step 4 its first reading."""

    def __init__(self, ctx: RunContext, accounts: list[str]):
        self._ctx = ctx
        self._accounts = accounts
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(accounts)), thread_name_prefix="emergency-verify")
        self._futures: dict[str, Future[list[Position]]] = {}
        self._lock = threading.Lock()

    def start(self, account: str) -> None:
        """Fence the gate on ``account`` and read its positions, in the background (once per account)."""
        with self._lock:
            if account not in self._futures:
                self._futures[account] = self._pool.submit(self._read, account)

    def _read(self, account: str) -> list[Position]:
        # as step 4: "flat" only once every send that started before the HALT has returned
        self._ctx.runtime.gateway.fence([account])
        reader = self._ctx.runtime.accounts[account]
        return self._ctx.with_retry(reader.fetch_positions, f"{account} positions")

    def reading(self) -> Reading:
        """Return step 4's first reading: every early read that succeeded, and a read now of every other account."""
        with self._lock:
            started = dict(self._futures)
        limit = self._ctx.settings.call_timeout_seconds * 2
        wait(started.values(), timeout=limit)
        positions: dict[str, list[Position]] = {}
        for account, future in started.items():
            if future.done() and not future.cancelled() and future.exception() is None:
                positions[account] = list(future.result())
        self._pool.shutdown(wait=False, cancel_futures=True)
        missing = [a for a in self._accounts if a not in positions]
        if not missing:
            return Reading(positions, {})
        now = read_positions(self._ctx, 4, missing)  # records the reads that fail
        return Reading(positions | now.positions, now.failures)

    def close(self) -> None:
        """Drop reads nobody will use (a sequence that stopped before step 4)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
