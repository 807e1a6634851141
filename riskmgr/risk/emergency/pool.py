"""The emergency stop's threads: every call of a step at once, each with a deadline.

``in_parallel`` runs a step's calls (reads, cancels, closes) on a pool and hands back each one's value or error; a
hung call times out without holding up the sequence. ``telling`` reports when every close of one account has answered.

``Workers`` keeps a running sequence's threads from step to step. A thread start is not free on a busy two-core
machine: ``Thread.start`` waits until the new thread has run, and a thread waiting for the interpreter lock may wait
a switch interval (5 ms) for it, so four cancels started one by one reached the venue up to 15 ms apart, and each
account's early re-read in step 3 started up to 18 ms after its last close answered. Handed to a kept thread, a call
starts as soon as that thread wakes. Step 2 starts the threads steps 3 and 4 will take (``warm``) right after its own
calls went out, while they wait on the venue and no answer is due yet; the threads end with the sequence. Calls the
kept threads cannot all take at once (a venue that hangs keeps its thread) get a pool of their own, as before: a hung
call never holds up another.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from functools import partial
from typing import Any, TypeVar

log = logging.getLogger(__name__)
K = TypeVar("K")
T = TypeVar("T")
Outcome = Any  # the call's value, or the exception it raised
WARM_TIMEOUT = 5.0  # seconds a warming call waits at most (it is released as soon as all have started)
RunAll = Callable[[Mapping[int, Callable[[], Any]]], Mapping[int, Any]]


class Workers:
    """Threads kept for one running sequence; a call handed to one starts without a thread start (see the module)."""

    def __init__(self, limit: int):
        """``limit``: the most calls the kept threads run at once; more at a time go to a pool of their own."""
        self._limit = max(1, limit)
        self._pool: ThreadPoolExecutor | None = None
        self._busy = 0  # calls handed over and not yet finished (a hung one stays counted until it returns)
        self._lock = threading.Lock()

    def submit_all(self, calls: list[Callable[[], T]]) -> list[Future[T]] | None:
        """Hand every call to a kept thread at once; None (nothing handed over) when they cannot all start now."""
        with self._lock:
            if not calls or self._busy + len(calls) > self._limit:
                return None
            self._busy += len(calls)
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self._limit, thread_name_prefix="emergency")
            pool = self._pool
        futures = [pool.submit(call) for call in calls]
        for future in futures:
            future.add_done_callback(self._release)  # also when cancelled before it started
        return futures

    def submit(self, call: Callable[[], T], name: str = "emergency") -> Future[T]:
        """Run one call on a kept thread, or on a thread of its own when none is free."""
        handed = self.submit_all([call])
        if handed is not None:
            return handed[0]
        return start_alone(call, name)

    def warm(self, count: int) -> None:
        """Start up to ``count`` more threads now (as many as the limit leaves), so the next calls need no start.

        Each thread starts on a call that waits until all have started; they then wait for work. Meant for a moment
        when the caller waits on the venue anyway (``in_parallel``'s ``meanwhile``)."""
        with self._lock:
            count = min(count, self._limit - self._busy)
        if count <= 0:
            return
        started = threading.Event()
        futures = self.submit_all([partial(started.wait, WARM_TIMEOUT)] * count)
        if futures is not None:
            started.set()  # submit_all returned: every thread has started (``Thread.start`` waits for that)
            wait(futures, timeout=WARM_TIMEOUT)  # and gone back to waiting for work

    def shutdown(self) -> None:
        """Let the threads go (the sequence is over): idle ones end now, a hung call's when it returns."""
        with self._lock:
            pool, self._pool = self._pool, None
            self._limit = 0  # nothing more is handed over: a late caller gets a thread of its own
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _release(self, _future: Future[Any]) -> None:
        with self._lock:
            self._busy -= 1


def start_alone(call: Callable[[], T], name: str = "emergency") -> Future[T]:
    """Run one call on a thread of its own."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
    future = pool.submit(call)
    pool.shutdown(wait=False)
    return future


def in_parallel(
    calls: Mapping[K, Callable[[], T]], workers: int, call_timeout: float, shared: Workers | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> dict[K, Outcome]:
    """Run every call on a pool of ``workers`` threads; return each one's value or exception (a hung call times out).

    With ``shared``, calls that fit within ``workers`` run on its kept threads when they can all start at once.
    ``meanwhile`` runs once every call has been handed over, while they wait on the venue (its failure is logged)."""
    if not calls:
        return {}
    size = max(1, min(workers, len(calls)))
    deadline = call_timeout * math.ceil(len(calls) / size)
    keys = list(calls)
    handed = shared.submit_all([calls[k] for k in keys]) if shared is not None and len(calls) <= size else None
    pool = None
    if handed is None:
        pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="emergency")
        handed = [pool.submit(calls[k]) for k in keys]
    futures = dict(zip(keys, handed, strict=True))
    try:
        if meanwhile is not None:
            try:
                meanwhile()
            except Exception:  # only ever a head start: the calls' outcomes matter, not this
                log.exception("emergency: work started meanwhile failed")
        finished, _ = wait(futures.values(), timeout=deadline)
        outcomes: dict[K, Outcome] = {}
        for key, future in futures.items():
            if future not in finished:
                future.cancel()  # not started yet: never starts (a running one runs on, on its own thread)
                outcomes[key] = TimeoutError(f"no answer within {deadline:g} s")
            else:
                error = future.exception()
                outcomes[key] = error if error is not None else future.result()
        return outcomes
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)  # a hung exchange call must not hold up the sequence


def telling(run_all: RunAll, account_of: list[str], accounts: list[str], answered: Callable[[str], None]) -> RunAll:
    """Wrap ``run_all`` so ``answered(account)`` is called once every close of that account has answered."""

    def tell(account: str) -> None:
        try:
            answered(account)
        except Exception:  # only an early start of work step 4 does anyway
            log.exception("emergency: could not start the early re-read of %s", account)

    def run(calls: Mapping[int, Callable[[], Any]]) -> Mapping[int, Any]:
        left = Counter(account_of[i] for i in calls)
        lock = threading.Lock()

        def tracked(index: int, call: Callable[[], Any]) -> Any:
            try:
                return call()
            finally:
                with lock:
                    left[account_of[index]] -= 1
                    last = left[account_of[index]] == 0
                if last:
                    tell(account_of[index])

        for account in accounts:
            if left[account] == 0:
                tell(account)
        return run_all({i: partial(tracked, i, call) for i, call in calls.items()})

    return run
