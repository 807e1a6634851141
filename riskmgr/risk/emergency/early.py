"""Work of the emergency stop's next step started while the step before it waits on the venue.

``Ahead`` (one per service) keeps, per running sequence: step 3's read of the positions, started during step 2;
and step 4's first re-read (``EarlyReads``), started account by account during step 3.
After a resume none of it exists and each step does its own work, as it always can.

Step 4's first re-read is taken account by account the moment step 3's closes of that account have all answered.

Step 3 sends every close of every account at once, but the answers come back spread out (a venue works through one
account's orders one after another). Rather than wait for the slowest account, record step 3, and only then start
step 4's reads, each account is re-read as soon as its own closes have answered: the very read step 4 would make
(the gate fenced on that account first, then the positions fetched from the venue), only sooner. Step 4 takes these
readings as its first round; an account that was not read early (one of its closes never answered, the read broke,
a resumed sequence) is read then, as before. Nothing here decides flatness: step 4 does, from venue reads only.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait

from riskmgr.core.domain import Position
from riskmgr.risk.emergency.config import EmergencySettings
from riskmgr.risk.emergency.steps import Reading, RunContext, cancel_entry_orders, read_positions

log = logging.getLogger(__name__)


class EarlyReads:
    """Re-read accounts in the background as their closes finish; hand step 4 its first reading."""

    def __init__(self, ctx: RunContext, accounts: list[str], read_step: int):
        """``read_step``: the number of the step whose reads these are (step 4: a read that fails is its record)."""
        self._ctx = ctx
        self._accounts = accounts
        self._read_step = read_step
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
        wait(started.values(), timeout=self._ctx.settings.call_timeout_seconds)  # a normal read's deadline
        positions: dict[str, list[Position]] = {}
        for account, future in started.items():
            if future.done() and not future.cancelled() and future.exception() is None:
                positions[account] = list(future.result())
        self._pool.shutdown(wait=False, cancel_futures=True)
        missing = [a for a in self._accounts if a not in positions]
        if not missing:
            return Reading(positions, {})
        now = read_positions(self._ctx, self._read_step, missing)  # records the reads that fail
        return Reading(positions | now.positions, now.failures)

    def close(self) -> None:
        """Drop reads nobody will use (a sequence that stopped before step 4)."""
        self._pool.shutdown(wait=False, cancel_futures=True)


class Ahead:
    """Per sequence: step 3's read started in step 2; step 4's first re-reads started in step 3."""

    def __init__(self, settings: EmergencySettings):
        self._settings = settings
        self._lock = threading.Lock()
        self._prefetched: dict[int, Future[Reading]] = {}  # step 3's read, taken while step 2 runs
        self._early: dict[int, EarlyReads] = {}  # step 4's first reads, started as step 3's closes answer

    def cancel_and_prefetch(self, ctx: RunContext, read_step: int) -> tuple[bool, str]:
        """Step 2, with step 3's read of the positions in flight meanwhile: a cancel never changes a position,
        so step 3 can send its closes at once (step 4's re-read catches an entry that filled in between).

        ``read_step``: the number of the step whose read that is (step 3)."""
        if self._settings.max_workers == 1:  # one worker means one exchange call at a time, strictly
            return cancel_entry_orders(ctx)
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="emergency-read")
        future = pool.submit(read_positions, ctx, read_step, list(ctx.runtime.accounts))
        pool.shutdown(wait=False)
        with self._lock:
            self._prefetched[ctx.seq_id] = future
        return cancel_entry_orders(ctx)

    def prefetched_reading(self, seq_id: int) -> Reading | None:
        """Return the positions read during step 2, or None (after a resume, or if that read broke) to read anew."""
        with self._lock:
            future = self._prefetched.pop(seq_id, None)
        if future is None:
            return None
        try:
            return future.result(timeout=self._settings.call_timeout_seconds * 2)
        except Exception:  # the read is simply done again in step 3
            log.exception("emergency stop #%s: the early read of positions failed; reading again", seq_id)
            return None

    def read_early(self, ctx: RunContext, read_step: int) -> Callable[[str], None] | None:
        """Return what starts step 4's first read of an account once step 3's closes there answered.

        ``read_step``: the number of the step whose reads these are (step 4)."""
        if self._settings.max_workers == 1:  # one worker means one exchange call at a time, strictly
            return None
        early = EarlyReads(ctx, list(ctx.runtime.accounts), read_step)
        with self._lock:
            stale = self._early.pop(ctx.seq_id, None)
            self._early[ctx.seq_id] = early
        if stale is not None:
            stale.close()
        return early.start

    def early_reading(self, seq_id: int) -> Callable[[], Reading] | None:
        """Return step 4's first reading from the early reads, or None (after a resume) to read everything then."""
        with self._lock:
            early = self._early.pop(seq_id, None)
        return early.reading if early is not None else None
