"""The emergency stop's threads: every call of a step at once, each with a deadline.

``in_parallel`` runs a step's calls (reads, cancels, closes) on a pool and hands back each one's value or error; a
hung call times out without holding up the sequence. ``telling`` reports when every close of one account has answered.

Starting a step's threads ahead of need (while the step before waits on the venue) was tried and measured: on a
busy two-core machine it made the sequence slower (the thread starts compete with the venue's answers), so each
step starts its own.
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


def in_parallel(calls: Mapping[K, Callable[[], T]], workers: int, call_timeout: float) -> dict[K, Outcome]:
    """Run every call on a pool of ``workers`` threads; return each one's value or exception (a hung call times out)."""
    if not calls:
        return {}
    size = max(1, min(workers, len(calls)))
    deadline = call_timeout * math.ceil(len(calls) / size)
    pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="emergency")
    try:
        futures = {key: pool.submit(fn) for key, fn in calls.items()}
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
