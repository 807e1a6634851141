"""The emergency stop's threads: every call of a step at once, each with a deadline, on threads started ahead.

``in_parallel`` runs a step's calls (reads, cancels, closes) on a pool and hands back each one's value or error; a
hung call times out without holding up the sequence. ``warm_pool`` starts a pool's threads before they are needed.
``telling`` reports when every close of one account has answered.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from functools import partial
from typing import Any, TypeVar

log = logging.getLogger(__name__)
K = TypeVar("K")
T = TypeVar("T")
Outcome = Any  # the call's value, or the exception it raised
RunAll = Callable[[Mapping[int, Callable[[], Any]]], Mapping[int, Any]]
WARM_WAIT_SECONDS = 10.0  # a warming thread waits at most this long for the others to start
WARM_AFTER_LIMIT_SECONDS = 1.0  # warming waits at most this long for the calls that go first


def in_parallel(
    calls: Mapping[K, Callable[[], T]], workers: int, call_timeout: float, pool: ThreadPoolExecutor | None = None,
    sent: threading.Event | None = None,
) -> dict[K, Outcome]:
    """Run every call on a pool of ``workers`` threads; return each one's value or exception (a hung call times out).

    ``pool``: threads started ahead of need (``warm_pool``), so every call leaves at once; it is shut down here.
    ``sent`` is set once every call is on its thread.
    """
    if not calls:
        if pool is not None:
            pool.shutdown(wait=False)
        if sent is not None:
            sent.set()
        return {}
    size = max(1, min(workers, len(calls)))
    deadline = call_timeout * math.ceil(len(calls) / size)
    pool = pool or ThreadPoolExecutor(max_workers=size, thread_name_prefix="emergency")
    try:
        futures = {key: pool.submit(fn) for key, fn in calls.items()}
        if sent is not None:
            sent.set()
        finished, _ = wait(futures.values(), timeout=deadline)
        outcomes: dict[K, Outcome] = {}
        for key, future in futures.items():
            if future not in finished:
                outcomes[key] = TimeoutError(f"no answer within {deadline:g} s")
            else:
                error = future.exception()
                outcomes[key] = error if error is not None else future.result()
        return outcomes
    finally:
        pool.shutdown(wait=False, cancel_futures=True)  # a hung exchange call must not hold up the sequence


def warm_pool_after(events: tuple[threading.Event, ...], workers: int) -> ThreadPoolExecutor:
    """Start ``warm_pool(workers)`` once every event is set (the calls already leaving go first), or after a second."""
    for event in events:
        event.wait(timeout=WARM_AFTER_LIMIT_SECONDS)
    return warm_pool(workers)


def warm_pool(workers: int) -> ThreadPoolExecutor:
    """Return a pool of ``workers`` threads, every one already started and idle.

    Starting a thread costs a scheduler round trip (milliseconds on a busy machine); started one after another
    while the first calls already run, twenty threads spread twenty closes over tens of milliseconds. Step 3's
    pool is warmed while step 2 waits on the venue, so every close leaves at once.
    """
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="emergency")
    release = threading.Event()
    holders = [pool.submit(release.wait, WARM_WAIT_SECONDS) for _ in range(workers)]  # each one starts a thread
    release.set()
    wait(holders)
    return pool


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
