"""The poll cycle: read every account in parallel into snapshots, then persist them and the equity history.

A failed read never produces a figure: the account keeps its last real figures marked STALE (or ERROR for
authentication failures and accounts never read), with the time of the last good read and the reason.

Accounts are read at the same time, and an account's three reads (balance, positions, open orders) too where its
venue takes concurrent calls (``ExchangeAdapter.concurrent_reads``); ``POLL_MAX_WORKERS`` bounds the venue calls in
flight at once. Every account's read waits at most ``FETCH_TIMEOUT_SECONDS`` from the start of the cycle.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from riskmgr.accounts import equity_history
from riskmgr.core.domain import AccountSnapshot, AccountStatus
from riskmgr.core.errors import AuthError, ExchangeError
from riskmgr.core.secrets import mask
from riskmgr.exchanges.reader import AccountReader
from riskmgr.exchanges.retry import call_with_retry
from riskmgr.persistence.models import AccountState, EquityPoint, PollRun

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime

log = logging.getLogger(__name__)
_HOST = socket.gethostname()[:255]
PollHook = Callable[["Runtime", list[AccountSnapshot]], None]


def read_account(adapter: AccountReader, now: datetime, budget_seconds: float) -> AccountSnapshot:
    """Read balance, positions and open orders of one account, one after another; raise ExchangeError on failure."""
    balance, positions, orders = (call() for call in _reads(adapter, budget_seconds))
    return _snapshot(adapter, now, balance, positions, orders)


def _reads(adapter: AccountReader, budget_seconds: float) -> list[Callable[[], Any]]:
    """Return the account's three reads (balance, positions, open orders), each retried within the budget."""

    def retried(fn: Callable[[], Any], what: str) -> Callable[[], Any]:
        return lambda: call_with_retry(fn, budget_seconds=budget_seconds, what=f"{adapter.account} {what}")

    return [retried(adapter.fetch_balance, "balance"), retried(adapter.fetch_positions, "positions"),
            retried(adapter.fetch_open_orders, "open orders")]


def _snapshot(adapter: AccountReader, now: datetime, balance: Any, positions: Any, orders: Any) -> AccountSnapshot:
    return AccountSnapshot(
        account=adapter.account,
        exchange=adapter.exchange,
        mode=adapter.mode,
        status=AccountStatus.OK,
        attempted_at=now,
        fetched_at=now,
        balance=balance,
        positions=tuple(positions),
        orders=tuple(orders),
        simulated=adapter.simulated,
    )


class _Reading:
    """One account's read in flight: one task (reads in turn) or three (the venue takes them at once)."""

    def __init__(self, pool: ThreadPoolExecutor, adapter: AccountReader, now: datetime, budget_seconds: float):
        self._adapter, self._now = adapter, now
        if adapter.concurrent_reads:
            self._parts: list[Future] = [pool.submit(call) for call in _reads(adapter, budget_seconds)]
        else:
            self._parts = [pool.submit(read_account, adapter, now, budget_seconds)]

    @property
    def parts(self) -> list[Future]:
        return self._parts

    def result(self, deadline: float) -> AccountSnapshot:
        """Wait until the monotonic ``deadline``; raise the first failure (balance first), or FutureTimeout."""
        values = [part.result(timeout=max(0.0, deadline - time.monotonic())) for part in self._parts]
        if len(values) == 1:
            return values[0]
        return _snapshot(self._adapter, self._now, *values)


def failed_snapshot(
    adapter: AccountReader,
    previous: AccountSnapshot | None,
    now: datetime,
    reason: str,
    *,
    auth: bool,
    error_class: str = "TemporaryError",
) -> AccountSnapshot:
    """Keep the last real figures (if any), marked stale or in error, with the reason."""
    status = AccountStatus.ERROR if auth or previous is None or previous.balance is None else AccountStatus.STALE
    if previous is None:
        return AccountSnapshot(
            account=adapter.account,
            exchange=adapter.exchange,
            mode=adapter.mode,
            status=status,
            attempted_at=now,
            fetched_at=None,
            error=reason,
            simulated=adapter.simulated,
            extra={"failed_polls": 1, "error_class": error_class},
        )
    extra = dict(previous.extra)
    extra["failed_polls"] = int(extra.get("failed_polls", 0)) + 1
    extra["error_class"] = error_class
    return replace(previous, status=status, attempted_at=now, error=reason, extra=extra)


def poll_cycle(runtime: Runtime, hooks: list[PollHook] | None = None) -> list[AccountSnapshot]:
    """Read every account in parallel, persist what was learned, and run the hooks (risk engine, alerts)."""
    started = runtime.clock.now()
    snapshots = _read_all(runtime, _Previous(runtime), started)
    runtime.snapshots.save(snapshots)
    _record_history(runtime, snapshots)
    for hook in hooks or []:
        _run_hook(hook, runtime, snapshots)
    _record_run(runtime, started, snapshots)
    _announce(runtime, started, snapshots)
    return snapshots


def _run_hook(hook: PollHook, runtime: Runtime, snapshots: list[AccountSnapshot]) -> None:
    try:
        hook(runtime, snapshots)
    except Exception:  # one failing feature (alerts, say) must not keep the next one (the watchdog) from running
        log.exception("poll hook %s failed", getattr(hook, "__module__", hook))


def _announce(runtime: Runtime, started: datetime, snapshots: list[AccountSnapshot]) -> None:
    _announce_failures(runtime, started, snapshots)
    duration = (runtime.clock.now() - started).total_seconds()
    runtime.events.emit(
        "poll.cycle", f"poll cycle over {len(snapshots)} account(s) took {duration:.3f} s",
        data={"duration_s": duration, "accounts": len(snapshots)},
    )


def _announce_failures(runtime: Runtime, started: datetime, snapshots: list[AccountSnapshot]) -> None:
    for snap in snapshots:
        if snap.attempted_at == started and snap.status is not AccountStatus.OK:
            runtime.events.emit(
                "exchange.error", f"{snap.account}: {snap.error}", account=snap.account,
                data={"error_class": snap.extra.get("error_class", "unknown"), "status": snap.status.value},
            )


class _Previous:
    """The stored snapshots, read only when a read failed (only then are the last real figures needed)."""

    def __init__(self, runtime: Runtime):
        self._runtime = runtime
        self._loaded: dict[str, AccountSnapshot] | None = None

    def get(self, account: str) -> AccountSnapshot | None:
        if self._loaded is None:
            self._loaded = self._runtime.snapshots.latest()
        return self._loaded.get(account)


class _ReadPool:
    """The poll's worker threads, kept from cycle to cycle (starting 192 threads every 5 s costs more than the reads).

    A pool whose previous cycle left a call still running (a venue that hangs past the timeout) is abandoned, not
    waited for: the next cycle gets a fresh pool, so a hung call never holds up the polling.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._size = 0
        self._last: list[Future] = []

    def take(self, size: int) -> ThreadPoolExecutor:
        with self._lock:
            hung = any(not f.done() for f in self._last)
            if self._pool is None or hung or size > self._size:
                if self._pool is not None:
                    self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool, self._size, self._last = ThreadPoolExecutor(size, thread_name_prefix="poll"), size, []
            return self._pool

    def remember(self, futures: list[Future]) -> None:
        with self._lock:
            self._last = futures


_pools: weakref.WeakKeyDictionary[Any, _ReadPool] = weakref.WeakKeyDictionary()
_pools_lock = threading.Lock()


def _read_pool(runtime: Runtime) -> _ReadPool:
    with _pools_lock:
        holder = _pools.get(runtime.engine)
        if holder is None:
            holder = _pools[runtime.engine] = _ReadPool()
        return holder


def _read_all(runtime: Runtime, previous: _Previous, now: datetime) -> list[AccountSnapshot]:
    """Read every account at once, at most POLL_MAX_WORKERS venue calls in flight; each waits FETCH_TIMEOUT."""
    timeout = runtime.settings.fetch_timeout_seconds
    adapters = list(runtime.accounts.values())
    if not adapters:
        return []
    calls = sum(3 if a.concurrent_reads else 1 for a in adapters)
    holder = _read_pool(runtime)
    pool = holder.take(min(runtime.settings.poll_max_workers, calls))
    readings = {a.account: _Reading(pool, a, now, timeout * 0.8) for a in adapters}
    holder.remember([part for reading in readings.values() for part in reading.parts])
    deadline = time.monotonic() + timeout
    return [_outcome(a, readings[a.account], previous.get(a.account), now, timeout, deadline) for a in adapters]


def _outcome(adapter, reading, previous, now: datetime, timeout: float, deadline: float) -> AccountSnapshot:
    try:
        snap = reading.result(deadline)
    except FutureTimeout:
        reason = f"exchange did not answer within {timeout:g} s"
        log.warning("account %s: %s", adapter.account, reason)
        return failed_snapshot(adapter, previous, now, reason, auth=False, error_class="timeout")
    except ExchangeError as exc:
        log.warning("account %s: read failed: %s", adapter.account, mask(exc.describe()))
        reason, auth = mask(exc.describe()), isinstance(exc, AuthError)
        return failed_snapshot(adapter, previous, now, reason, auth=auth, error_class=type(exc).__name__)
    except Exception as exc:  # a bug in an adapter must not stop the other accounts' polling
        log.exception("account %s: unexpected error while reading", adapter.account)
        return failed_snapshot(
            adapter, previous, now, f"internal error: {type(exc).__name__}: {exc}", auth=False, error_class="internal"
        )
    return snap


def _risk_day(now: datetime, tz_name: str) -> str:
    return now.astimezone(ZoneInfo(tz_name)).date().isoformat()


def _record_history(runtime: Runtime, snapshots: list[AccountSnapshot]) -> None:
    """Add one equity point per account read now and move its peak and day baseline, in one transaction."""
    good = [s for s in snapshots if s.status is AccountStatus.OK and s.balance is not None and s.fetched_at is not None]
    if not good:
        return
    tz_name = runtime.limits().risk_day_timezone
    with Session(runtime.engine) as session, session.begin():
        # the equity points first: on SQLite that write takes the database's write lock before anything is read, so
        # two processes moving peaks and baselines at once queue up instead of failing on a stale read
        session.execute(insert(EquityPoint), [
            {"account": s.account, "ts": s.fetched_at, "equity": s.balance.equity, "wallet": s.balance.wallet,
             "unrealized_pnl": s.balance.unrealized_pnl} for s in good if s.balance is not None])
        # row locks (PostgreSQL): a peak or day baseline moved by another process at once is never overwritten
        stmt = select(AccountState).where(AccountState.account.in_([s.account for s in good])).with_for_update()
        states = {state.account: state for state in session.scalars(stmt)}
        for snap in good:
            bal, fetched_at = snap.balance, snap.fetched_at
            if bal is None or fetched_at is None:  # filtered above; this only keeps the type checker sure
                continue
            day = _risk_day(fetched_at, tz_name)
            _update_account_state(session, states.get(snap.account), snap.account, bal.equity, fetched_at, day)
        equity_history.record(session, [(s.account, s.fetched_at, s.balance.equity) for s in good
                                        if s.fetched_at is not None and s.balance is not None])


def _update_account_state(session: Session, state: AccountState | None, account: str, equity: Decimal,
                          now: datetime, day: str) -> None:
    if state is None:
        session.add(AccountState(
            account=account, peak_equity=equity, peak_at=now, day=day, day_start_equity=equity, updated_at=now
        ))
        return
    if state.day != day:  # first good reading of a new risk day is the day's baseline
        state.day = day
        state.day_start_equity = equity
    if equity > state.peak_equity:
        state.peak_equity = equity
        state.peak_at = now
    state.updated_at = now


def _record_run(runtime: Runtime, started: datetime, snapshots: list[AccountSnapshot]) -> None:
    finished = runtime.clock.now()
    ok = sum(1 for s in snapshots if s.status is AccountStatus.OK)
    with Session(runtime.engine) as session, session.begin():
        session.add(
            PollRun(
                started_at=started,
                finished_at=finished,
                pid=os.getpid(),
                host=_HOST,
                accounts_ok=ok,
                accounts_failed=len(snapshots) - ok,
            )
        )
        session.execute(delete(PollRun).where(PollRun.started_at < finished - timedelta(days=1)))


# -- the poll split for workers: each account on its own, then one step over the latest snapshots ------------------
def poll_account(runtime: Runtime, name: str) -> AccountSnapshot:
    """Read one account and store its snapshot and equity point (a worker's share of a poll cycle)."""
    adapter = runtime.accounts.get(name)
    if adapter is None:
        raise KeyError(f"no account {name!r}; known: {', '.join(runtime.accounts)}")
    started = runtime.clock.now()
    timeout = runtime.settings.fetch_timeout_seconds
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="poll-one") as pool:
        reading = _Reading(pool, adapter, started, timeout * 0.8)
        snap = _outcome(adapter, reading, _Previous(runtime).get(name), started, timeout,
                        time.monotonic() + timeout)
    runtime.snapshots.save([snap])
    _record_history(runtime, [snap])
    _announce_failures(runtime, started, [snap])
    return snap


def after_poll(runtime: Runtime, started: datetime, hooks: list[PollHook] | None = None) -> list[AccountSnapshot]:
    """Run the hooks over the latest stored snapshot of every configured account, then record the cycle."""
    stored = runtime.snapshots.latest()
    snapshots = [stored[name] for name in runtime.accounts if name in stored]
    for hook in hooks or []:
        _run_hook(hook, runtime, snapshots)
    _record_run(runtime, started, snapshots)
    duration = (runtime.clock.now() - started).total_seconds()
    runtime.events.emit(
        "poll.cycle", f"poll cycle over {len(snapshots)} account(s) took {duration:.3f} s (workers)",
        data={"duration_s": duration, "accounts": len(snapshots)},
    )
    return snapshots
