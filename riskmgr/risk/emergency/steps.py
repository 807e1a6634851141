"""The exchange work of the emergency stop's steps 2-5, spread over a thread pool.

Every account is read, cancelled and closed at the same time as every other, and every position of every
account is closed at the same time as every other: the sequence costs a handful of round trips however many
positions are open. Every order goes through the gateway (reduce-only closes and cancels pass in every
trading state) and every action is recorded with its result. Nothing here invents a figure: an account that
cannot be read is reported as unreadable, never as flat.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from riskmgr.core.domain import Order, Position
from riskmgr.core.errors import ExchangeError
from riskmgr.core.formatting import dec
from riskmgr.exchanges.retry import call_with_retry
from riskmgr.risk.emergency.config import EmergencySettings
from riskmgr.risk.emergency.pool import Outcome, in_parallel, telling
from riskmgr.risk.emergency.store import EmergencyStore, OrderRecord
from riskmgr.risk.gate_lock import GateBusyError
from riskmgr.risk.gateway_batch import CloseOrder, RunAll

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_BACKOFF_SECONDS = 5.0


@dataclass(frozen=True)
class RunContext:
    """What a step of one running sequence works with; ``step`` is its number (``sequence.SEQUENCE``), which the
    actions it records and the progress it reports carry."""

    seq_id: int
    actor: str
    runtime: Runtime
    settings: EmergencySettings
    store: EmergencyStore
    step: int

    def record(self, records: list[OrderRecord]) -> None:
        """Store exchange actions and their results."""
        self.store.add_orders(self.seq_id, records, self.runtime.clock.now())

    def with_retry(self, fn: Callable[[], T], what: str) -> T:
        """Call ``fn``, retrying temporary exchange errors with backoff inside one call timeout."""
        return call_with_retry(
            fn, attempts=3, base_delay=self.settings.backoff, budget_seconds=self.settings.call_timeout_seconds,
            what=what,
        )


@dataclass(frozen=True)
class Reading:
    """The positions of every account that answered, and why the others did not."""

    positions: dict[str, list[Position]]
    failures: dict[str, str]

    @property
    def open_count(self) -> int:
        return sum(len(p) for p in self.positions.values())

    @property
    def flat(self) -> bool:
        return not self.failures and self.open_count == 0


def describe_error(error: BaseException) -> str:
    """Return a one-line reason for a failed call."""
    if isinstance(error, ExchangeError):
        return error.describe()
    return f"{type(error).__name__}: {error}"


def position_rows(positions: Mapping[str, list[Position]], reason: str = "open") -> list[dict[str, Any]]:
    """Describe positions JSON-safe, for the panel and the record."""
    return [
        {
            "account": account, "symbol": p.symbol, "side": p.side.value, "size": dec(p.size),
            "entry_price": dec(p.entry_price), "mark_price": dec(p.mark_price),
            "unrealized_pnl": dec(p.unrealized_pnl), "reason": reason,
        }
        for account, items in sorted(positions.items()) for p in items
    ]


def unreadable_rows(failures: Mapping[str, str]) -> list[dict[str, Any]]:
    """Describe accounts whose positions could not be read (so whether they are flat is unknown)."""
    return [
        {"account": account, "symbol": None, "side": None, "size": None, "reason": f"positions unknown: {reason}"}
        for account, reason in sorted(failures.items())
    ]


# -- reads -------------------------------------------------------------------------------------------------------
def read_positions(ctx: RunContext, step: int, accounts: list[str]) -> Reading:
    """Re-read the positions of every account at once; record the reads that failed."""

    def read(account: str) -> list[Position]:
        reader = ctx.runtime.accounts[account]
        return ctx.with_retry(reader.fetch_positions, f"{account} positions")

    outcomes = in_parallel(
        {a: partial(read, a) for a in accounts}, ctx.settings.max_workers, ctx.settings.call_timeout_seconds
    )
    positions: dict[str, list[Position]] = {}
    failures: dict[str, str] = {}
    for account, outcome in outcomes.items():
        if isinstance(outcome, BaseException):
            failures[account] = describe_error(outcome)
        else:
            positions[account] = list(outcome)
    ctx.record([
        OrderRecord(step, account, "read", False, f"positions could not be read: {reason}")
        for account, reason in failures.items()
    ])
    return Reading(positions, failures)


# -- step 2 ------------------------------------------------------------------------------------------------------
def cancel_entry_orders(ctx: RunContext) -> tuple[bool, str]:
    """Cancel every non-protective open order on every account at once (stop-losses stay until flat)."""
    gateway = ctx.runtime.gateway

    def cancel(account: str) -> list[str]:
        # HALTED is set: once the fence returns, every entry sent before it has returned and none can follow
        gateway.fence([account])
        call = partial(gateway.cancel_all, account, actor=ctx.actor, include_protective=False)
        return ctx.with_retry(call, f"{account} cancel non-protective orders")

    accounts = list(ctx.runtime.accounts)
    outcomes = in_parallel(
        {a: partial(cancel, a) for a in accounts}, ctx.settings.max_workers, ctx.settings.call_timeout_seconds
    )
    cancelled, failed, records = 0, [], []
    for account, outcome in outcomes.items():
        if isinstance(outcome, BaseException):
            failed.append(account)
            records.append(OrderRecord(ctx.step, account, "cancel_orders", False, describe_error(outcome)))
        else:
            cancelled += len(outcome)
            ids = ", ".join(outcome) if outcome else "none open"
            records.append(
                OrderRecord(ctx.step, account, "cancel_orders", True, f"cancelled {len(outcome)} order(s): {ids}")
            )
    ctx.record(records)
    detail = f"cancelled {cancelled} non-protective order(s) on {len(accounts) - len(failed)} account(s)"
    if failed:
        detail += f"; could not cancel on {', '.join(sorted(failed))} (retried in step 5)"
    return not failed, detail


# -- steps 3 and 4 -----------------------------------------------------------------------------------------------
def close_all(
    ctx: RunContext, step: int, positions: Mapping[str, list[Position]], answered: Callable[[str], None] | None = None
) -> tuple[int, int]:
    """Close every given position at once with a reduce-only market order; return (accepted, failed).

    The gateway records every intent in one transaction before any close is sent, and every outcome with its audit
    line in one transaction once they have returned (``OrderGateway.close_positions``). ``answered(account)`` is
    called as soon as every close of that account has answered (at once for an account with nothing to close).
    """
    tried = ctx.store.close_attempts(ctx.seq_id)
    closes: list[CloseOrder] = []
    attempts: list[int] = []
    for account, items in positions.items():
        for p in items:
            attempt = tried.get((account, p.symbol, p.side.value), 0) + 1
            # one intent per attempt: a retried intent is never sent twice, a new attempt is a new order
            intent = f"emergency:{ctx.seq_id}:close:{account}:{p.symbol}:{p.side.value}:{attempt}"
            closes.append(CloseOrder(account, p.symbol, p.side, intent))
            attempts.append(attempt)
    settings = ctx.settings
    run_all: RunAll = partial(in_parallel, workers=settings.max_workers, call_timeout=settings.call_timeout_seconds)
    if answered is not None:
        run_all = telling(run_all, [c.account for c in closes], list(ctx.runtime.accounts), answered)
    outcomes = ctx.runtime.gateway.close_positions(closes, actor=ctx.actor, purpose="emergency-close", run_all=run_all)
    records = [_close_record(ctx, step, close, attempt, outcome)
               for close, attempt, outcome in zip(closes, attempts, outcomes, strict=True)]
    ctx.record(records)
    accepted = sum(1 for r in records if r.ok)
    return accepted, len(records) - accepted


def _close_record(ctx: RunContext, step: int, close: CloseOrder, attempt: int, outcome: Outcome) -> OrderRecord:
    side = close.side.value
    if isinstance(outcome, BaseException):
        log.error("emergency #%s: closing %s %s on %s failed: %s", ctx.seq_id, close.symbol, side, close.account,
                  outcome)
        return OrderRecord(step, close.account, "close", False, f"internal error: {describe_error(outcome)}",
                           close.symbol, side, attempt)
    return OrderRecord(
        step, close.account, "close", outcome.accepted, outcome.message, close.symbol, side, attempt,
        outcome.client_id, outcome.order.id if isinstance(outcome.order, Order) else None,
    )


def close_positions(
    ctx: RunContext, reading: Reading | None = None, answered: Callable[[str], None] | None = None
) -> tuple[bool, str]:
    """Step 3: close every position of every account at once (read now unless ``reading`` was taken in step 2;
    ``answered(account)`` once that account's closes have all answered)."""
    if reading is None:
        reading = read_positions(ctx, ctx.step, list(ctx.runtime.accounts))
    total = reading.open_count
    ctx.store.step_progress(ctx.seq_id, ctx.step, 0, total, f"closing {total} position(s)",
                            open_positions=_open_rows(reading))
    accepted, failed = close_all(ctx, ctx.step, reading.positions, answered)
    detail = f"sent {total} close order(s): {accepted} accepted, {failed} failed (retried in step 4)"
    if reading.failures:
        detail += f"; positions unreadable on {', '.join(sorted(reading.failures))}"
    ctx.store.step_progress(ctx.seq_id, ctx.step, accepted, total)
    # rejected closes are not this step's failure: step 4 retries them; an unreadable account is
    return not reading.failures, detail


def verify_flat(
    ctx: RunContext, sleep: Callable[[float], None] = time.sleep, first: Callable[[], Reading] | None = None
) -> tuple[bool, str]:
    """Step 4: re-read until every account is flat, re-closing what is left with backoff; bounded in rounds and time.

    ``first``: the first round's reading, taken from the venue as each account's closes answered (``EarlyReads``).
    """
    settings = ctx.settings
    accounts = list(ctx.runtime.accounts)
    try:  # "flat" only once every send that started before the HALT has returned (its position is then visible)
        ctx.runtime.gateway.fence(accounts)
    except GateBusyError as exc:
        ctx.store.set_positions(ctx.seq_id, left_open=unreadable_rows({a: str(exc) for a in accounts}))
        return False, f"NOT verified flat: an order send started before the HALT has not returned ({exc})"
    deadline = time.monotonic() + settings.budget_seconds
    known: dict[str, list[Position]] = {}
    delay = settings.backoff
    reading = Reading({}, {})
    for round_no in range(1, settings.max_rounds + 1):
        reading = first() if first is not None and round_no == 1 else read_positions(ctx, ctx.step, accounts)
        known.update(reading.positions)
        ctx.store.step_progress(
            ctx.seq_id, ctx.step, round_no, settings.max_rounds, f"re-read {round_no}: {_still_open(reading)}",
            open_positions=_open_rows(reading), left_open=[] if reading.flat else None,
        )
        if reading.flat:
            return True, f"verified flat on {len(accounts)} account(s) after {round_no} re-read(s)"
        if round_no == settings.max_rounds or time.monotonic() + delay > deadline:
            break
        # an account that could not be read is retried with what its last good read showed
        retry = {a: (reading.positions[a] if a in reading.positions else known.get(a, [])) for a in accounts}
        close_all(ctx, ctx.step, {a: p for a, p in retry.items() if p})
        sleep(delay)
        delay = min(delay * 2, MAX_BACKOFF_SECONDS)
    left = position_rows(reading.positions, "still open after the last retry") + unreadable_rows(reading.failures)
    ctx.store.set_positions(ctx.seq_id, left_open=left)
    return False, f"NOT flat after {round_no} re-read(s): {_still_open(reading)}"


def _open_rows(reading: Reading) -> list[dict[str, Any]]:
    return position_rows(reading.positions) + unreadable_rows(reading.failures)


def _still_open(reading: Reading) -> str:
    text = f"{reading.open_count} position(s) open"
    if reading.failures:
        text += f", {len(reading.failures)} account(s) unreadable"
    return text


# -- step 5 ------------------------------------------------------------------------------------------------------
def cancel_leftovers(ctx: RunContext, left_open: list[dict[str, Any]] | None) -> tuple[bool, str]:
    """Step 5: cancel every order left on flat accounts, and orphans beside what is still open."""
    left = left_open or []
    unknown = {row["account"] for row in left if row["symbol"] is None}
    still_open: dict[str, set[str]] = {}
    for row in left:
        if row["symbol"] is not None:
            still_open.setdefault(row["account"], set()).add(row["symbol"])
    if left_open is None:  # flatness was never verified: every account may still hold a position
        unknown = set(ctx.runtime.accounts)
    calls = {
        a: partial(_cancel_leftovers_of, ctx, a, still_open.get(a, set())) for a in ctx.runtime.accounts
        if a not in unknown
    }
    outcomes = in_parallel(calls, ctx.settings.max_workers, ctx.settings.call_timeout_seconds)
    cancelled, failed, records = 0, [], []
    for account, outcome in outcomes.items():
        if isinstance(outcome, BaseException):
            failed.append(account)
            records.append(OrderRecord(ctx.step, account, "cancel_leftovers", False, describe_error(outcome)))
        else:
            count, done = outcome
            cancelled += count
            records += done
    ctx.record(records)
    detail = f"cancelled {cancelled} leftover order(s) on {len(calls) - len(failed)} account(s)"
    if unknown:
        detail += f"; kept every order on {', '.join(sorted(unknown))} (positions unknown: stops may still guard them)"
    if failed:
        detail += f"; failed on {', '.join(sorted(failed))}"
    return not failed, detail


def _cancel_leftovers_of(ctx: RunContext, account: str, open_symbols: set[str]) -> tuple[int, list[OrderRecord]]:
    gateway = ctx.runtime.gateway
    if not open_symbols:
        ids = ctx.with_retry(
            partial(gateway.cancel_all, account, actor=ctx.actor, include_protective=True), f"{account} cancel all"
        )
        text = ", ".join(ids) if ids else "none open"
        return len(ids), [
            OrderRecord(ctx.step, account, "cancel_leftovers", True, f"cancelled {len(ids)} order(s): {text}")
        ]
    # positions remain here: keep their stop-losses, cancel only orders on symbols that have no position
    orders = ctx.with_retry(ctx.runtime.accounts[account].fetch_open_orders, f"{account} open orders")
    total, records = 0, []
    for symbol in sorted({o.symbol for o in orders} - open_symbols):
        ids = ctx.with_retry(
            partial(gateway.cancel_all, account, actor=ctx.actor, symbol=symbol, include_protective=True),
            f"{account} cancel {symbol}",
        )
        records.append(OrderRecord(ctx.step, account, "cancel_leftovers", True, f"cancelled {len(ids)} orphan order(s)",
                                   symbol))
        total += len(ids)
    return total, records
