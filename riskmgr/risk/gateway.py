"""The one gate through which every order reaches every exchange.

Signals, manual tickets, position controls, the stop-loss watchdog and the emergency stop all call
``OrderGateway``. For each intent it: rounds quantity and prices to the market's step and tick; decides a
new-risk entry with the execution core the backtest shares (``risk.decision.decide_entry``: the trading state,
the account gates, the automatic-entry cap, every risk rule); assigns a deterministic client order id so a
retried intent never becomes a second order; records the intent and its result in the audit log; and only then
calls the exchange adapter. Denials come back as values (``GatewayResult.verdicts``), never as exceptions.

For a new-risk order, "read exposure → run the rules → send" is atomic per account: the venue reads happen first
(outside), then under the account's gate lock (``GateLock``: across threads and processes) the trading state, the
intents in flight and, for an automatic entry, the day's automatic entries are re-read, every rule judges, and only
then is the order sent. Setting HALTED fences the gate (``fence``): once it returns, every send that started before
has returned, and none can start after. The risk check is a required constructor argument: without one, new risk is
denied.

The records of every intent (claim, outcome, audit line), ``GatewayResult`` and ``client_id_for`` live in
``gate_records`` (imported from here by the callers); closing many positions at once, in ``gateway_batch``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Engine

from riskmgr.core.clock import Clock
from riskmgr.core.domain import (
    MarketSpec,
    Order,
    OrderRequest,
    OrderSide,
    OrderType,
    PositionSide,
    TradingState,
    Verdict,
)
from riskmgr.core.errors import ExchangeError, NotFoundError, NotSupportedError
from riskmgr.exchanges.base import ExchangeAdapter
from riskmgr.persistence.audit import AuditLog
from riskmgr.risk.exposure import PendingEntry
from riskmgr.risk.gate_lock import GateBusyError, GateLock
from riskmgr.risk.gate_records import GateRecords
from riskmgr.risk.gate_records import GatewayResult as GatewayResult
from riskmgr.risk.gate_records import client_id_for as client_id_for
from riskmgr.risk.intent_ledger import IntentLedger
from riskmgr.risk.pretrade import Prepared
from riskmgr.risk.rules import auto_trade_daily_cap
from riskmgr.risk.rules.auto_trade_daily_cap import EntryCount
from riskmgr.risk.sizing import round_levels
from riskmgr.risk.specs import SpecCache
from riskmgr.risk.state import admits
from riskmgr.risk.trading_state import TradingStateStore

if TYPE_CHECKING:
    from riskmgr.risk.gateway_batch import CloseOrder, RunAll

log = logging.getLogger(__name__)
GATE_RULE = "order_gate"


class RiskCheck(Protocol):
    """What the gateway needs of the risk rules (``risk.pretrade.PreTrade``)."""

    def prepare(self, account: str, request: OrderRequest, *, size: bool = False) -> Prepared:
        """Make the reads the rules need (outside the gate lock)."""

    def in_flight(self, account: str, prepared: Prepared) -> list[PendingEntry]:
        """Return the intents in flight that ``prepared``'s reads cannot show (inside the gate lock)."""


_NO_RULES = Verdict.deny("risk_rules", "no risk check is installed in this gateway: new risk is denied")


@dataclass(frozen=True)
class EntryCancellation:
    """What cancelling one account's resting entry orders did, and why it was done."""

    account: str
    cancelled: tuple[Order, ...]
    failed: tuple[tuple[Order, str], ...]
    reason: str

    def describe(self) -> str:
        """Return one line for the audit log and the dashboard."""
        done = ", ".join(f"{o.side} {o.qty} {o.symbol} @ {o.price} ({o.id})" for o in self.cancelled) or "none"
        text = f"cancelled {len(self.cancelled)} resting entry order(s) ({done}) because {self.reason}"
        if self.failed:
            text += "; NOT cancelled: " + "; ".join(f"{o.id} {o.symbol}: {why}" for o, why in self.failed)
        return text

    def as_dict(self) -> dict[str, Any]:
        """Return the outcome JSON-safe."""
        return {
            "reason": self.reason, "cancelled": [{"id": o.id, "symbol": o.symbol} for o in self.cancelled],
            "failed": [{"id": o.id, "symbol": o.symbol, "error": why} for o, why in self.failed],
        }


class OrderGateway:
    """Check, round, identify, audit, then send. The only holder of write access to the adapters."""

    def __init__(
        self,
        adapters: Mapping[str, ExchangeAdapter],
        engine: Engine,
        trading: TradingStateStore,
        audit: AuditLog,
        clock: Clock,
        *,
        risk_check: RiskCheck | None,
        specs: SpecCache | None = None,
        gate: GateLock | None = None,
    ):
        self._adapters = adapters
        self._engine = engine
        self._trading = trading
        self._audit = audit
        self._clock = clock
        self._risk_check = risk_check
        self._specs = specs or SpecCache(adapters)
        self._gate = gate or GateLock(engine)
        self._ledger = IntentLedger(engine)
        self._records = GateRecords(engine, audit, clock, self._ledger)
        self._entry_checks: list[Callable[[str], Verdict | None]] = []

    def add_entry_check(self, check: Callable[[str], Verdict | None]) -> None:
        """Deny new-risk orders of an account while ``check(account)`` returns a denying verdict (e.g. entries paused).

        Reduce-only orders, closes, cancels and protection never pass through it.
        """
        self._entry_checks.append(check)

    def hold(self, account: str) -> AbstractContextManager[None]:
        """Return the account's gate lock (re-entrant): read, judge and change one account's orders as one step."""
        return self._gate.hold(account)

    def entry_verdicts(self, account: str) -> list[Verdict]:
        """Return the entry checks' verdicts on a new entry of ``account`` now (the receipt shows them too)."""
        verdicts = [check(account) for check in self._entry_checks]
        return [v for v in verdicts if v is not None]

    # -- orders ------------------------------------------------------------------------------------
    def submit(
        self, account: str, request: OrderRequest, *, actor: str, intent_id: str, purpose: str = "manual",
        automatic_entries: EntryCount | None = None,
    ) -> GatewayResult:
        """Send one order if the state and the rules allow it; return what happened.

        ``automatic_entries`` marks an automatic entry (auto-trading): the account's automatic entries this risk day,
        judged against the daily cap with the other rules. None (a manual order) is not capped. Give it as a callable
        (e.g. over ``entries_since``): it is called inside the account's gate lock, so that two auto-traders cannot
        both pass the cap; a count that cannot be read denies.

        A market entry's stop-loss / take-profit are placed on the exchange right after the fill, and the
        position is closed at once if they cannot be; a limit entry carries them attached for the venue to
        place on fill (the protection watchdog covers venues that do not).
        """
        adapter = self._adapter(account)
        client_id = client_id_for(account, intent_id)
        request = self.rounded(account, replace(request, client_id=client_id))
        if request.reduce_only:
            verdicts = [self._state_verdict(request)]
            if not verdicts[0].allowed:
                return self._records.deny(account, request, verdicts, actor=actor, purpose=purpose)
            return self._records.send(account, request, purpose, actor, verdicts, lambda: adapter.place_order(request))
        state_verdict = self._state_verdict(request)
        if not state_verdict.allowed or self._risk_check is None:  # nothing to read: the answer is no
            verdicts = [state_verdict] if not state_verdict.allowed else [state_verdict, _NO_RULES]
            return self._records.deny(account, request, verdicts, actor=actor, purpose=purpose)
        entry_verdicts = self.entry_verdicts(account)
        if any(not v.allowed for v in entry_verdicts):
            return self._records.deny(account, request, [state_verdict, *entry_verdicts], actor=actor, purpose=purpose)
        prepared = self._risk_check.prepare(account, request)  # venue reads: outside the lock
        try:
            with self._gate.hold(account):
                return self._submit_locked(account, request, prepared, actor=actor, intent_id=intent_id,
                                           purpose=purpose, automatic_entries=automatic_entries)
        except GateBusyError as exc:
            verdicts = [Verdict.deny(GATE_RULE, f"{exc}; try again")]
            return self._records.deny(account, request, verdicts, actor=actor, purpose=purpose)

    def _submit_locked(
        self, account: str, request: OrderRequest, prepared: Prepared, *, actor: str, intent_id: str, purpose: str,
        automatic_entries: EntryCount | None,
    ) -> GatewayResult:
        """Re-read the state, the automatic entries and the intents in flight, decide with the execution core
        (``risk.decision``, as the backtest decides), and send: the caller holds the account's gate."""
        assert self._risk_check is not None  # noqa: S101 (submit checked it; narrows the type)
        state = self._trading.current().state
        gates = self.entry_verdicts(account)
        count = None if automatic_entries is None else auto_trade_daily_cap.count(automatic_entries)
        if isinstance(count, Verdict):  # the day's automatic entries cannot be read: never counted as zero
            verdicts = [self._state_verdict(request, state), *gates, count]
            return self._records.deny(account, request, verdicts, actor=actor, purpose=purpose)
        in_flight = self._risk_check.in_flight(account, prepared)
        decision = prepared.decide(in_flight, state, gates=gates, automatic_entries=count)
        verdicts = list(decision.verdicts)
        if not decision.allowed:
            return self._records.deny(account, request, verdicts, actor=actor, purpose=purpose)
        adapter = self._adapter(account)
        protect_after = request.type is OrderType.MARKET and (
            request.stop_loss is not None or request.take_profit is not None
        )
        # a venue that cannot carry a stop on an order (Binance) gets the entry bare: the watchdog protects the fill
        bare = protect_after or not adapter.attaches_protection
        to_send = replace(request, stop_loss=None, take_profit=None) if bare else request
        result = self._records.send(account, to_send, purpose, actor, verdicts, lambda: adapter.place_order(to_send),
                            exposure=prepared.exposure_price, recorded=request)
        if not protect_after or not result.accepted or result.order is None:
            return result
        # still under the lock: a fence (an emergency stop) waits until the new position is protected or unwound
        return self._protect_entry(account, request, result, actor=actor, intent_id=intent_id)

    def fence(self, accounts: list[str] | None = None) -> None:
        """Return once every send that started before now has returned (on ``accounts``; default all)."""
        self._gate.fence(list(self._adapters) if accounts is None else accounts)

    def cancel_entries(self, account: str, *, actor: str, reason: str) -> EntryCancellation:
        """Cancel every resting non-protective entry order of ``account`` (stops and targets stay); audited."""
        adapter = self._adapter(account)
        orders = adapter.fetch_open_orders()
        entries = [o for o in orders if o.status.is_open and not o.reduce_only and not o.close_position
                   and not o.is_protective]
        cancelled: list[Order] = []
        failed: list[tuple[Order, str]] = []
        for order in entries:
            try:
                adapter.cancel_order(order.symbol, order.id)
                cancelled.append(order)
            except NotFoundError:
                log.info("entry %s on %s was gone before its cancel", order.id, account)
            except ExchangeError as exc:
                failed.append((order, exc.describe()))
        outcome = EntryCancellation(account, tuple(cancelled), tuple(failed), reason)
        if entries:
            self._audit.record(
                "order.entries_cancelled" if not failed else "order.entries_cancel_failed", actor,
                outcome.describe(), account=account, data=outcome.as_dict(),
            )
        return outcome

    def _protect_entry(
        self, account: str, request: OrderRequest, entry: GatewayResult, *, actor: str, intent_id: str
    ) -> GatewayResult:
        side = PositionSide.LONG if request.side is OrderSide.BUY else PositionSide.SHORT
        # replace, not add: after an add one stop (and target) must cover the whole position, and a venue that
        # keeps one position-level stop would refuse a second one
        protection = self.protect(
            account, request.symbol, side, stop_loss=request.stop_loss, take_profit=request.take_profit,
            actor=actor, intent_id=f"{intent_id}:protect", replace_existing=True,
        )
        if protection.accepted:
            return replace(entry, protection=protection)
        log.error("entry %s on %s left unprotected (%s): closing it", entry.client_id, account, protection.message)
        unwind = self.close_position(
            account, request.symbol, side, actor=actor, intent_id=f"{intent_id}:unwind", purpose="unwind-unprotected"
        )
        return replace(entry, protection=protection, unwind=unwind)

    def _state_verdict(self, request: OrderRequest, state: TradingState | None = None) -> Verdict:
        current = state if state is not None else self._trading.current().state
        return admits(current, reduces_exposure=request.reduce_only, is_cancel=False)

    def protect(
        self,
        account: str,
        symbol: str,
        side: PositionSide,
        *,
        stop_loss: Decimal | None,
        take_profit: Decimal | None,
        actor: str,
        intent_id: str,
        purpose: str = "protection",
        replace_existing: bool = False,
    ) -> GatewayResult:
        """Place position-level stop-loss / take-profit orders (allowed in every state: they reduce risk).

        With ``replace_existing`` any resting position-level protection of that position is replaced (amended where
        the venue can), so exactly one stop covers the whole position.
        """
        adapter = self._adapter(account)
        spec = self.spec(account, symbol)
        sl, tp = round_levels(side, stop_loss, take_profit, spec.price_tick)
        client_id = client_id_for(account, intent_id)
        request = OrderRequest(
            symbol, side.close_order_side, OrderType.STOP_MARKET, Decimal(0), reduce_only=True, client_id=client_id,
            stop_loss=sl, take_profit=tp,
        )
        verdict = Verdict.allow("trading_state", "protective orders are always admitted")

        def place() -> Order:
            if replace_existing:
                try:
                    return adapter.replace_position_protection(symbol, side, stop_loss=sl, take_profit=tp,
                                                               client_id=client_id)[0]
                except NotSupportedError:  # an adapter without replacement keeps no position-level protection
                    log.info("%s cannot replace protection; placing it", adapter)
            return adapter.place_position_protection(symbol, side, stop_loss=sl, take_profit=tp,
                                                     client_id=client_id)[0]

        return self._records.send(account, request, purpose, actor, [verdict], place)

    def close_position(
        self, account: str, symbol: str, side: PositionSide, *, actor: str, intent_id: str, purpose: str = "close"
    ) -> GatewayResult:
        """Close one position with a reduce-only market order (allowed in every state)."""
        adapter = self._adapter(account)
        client_id = client_id_for(account, intent_id)
        request = OrderRequest(symbol, side.close_order_side, OrderType.MARKET, Decimal(0), reduce_only=True,
                               client_id=client_id)
        verdict = Verdict.allow("trading_state", "closing orders are always admitted")
        return self._records.send(
            account, request, purpose, actor, [verdict], lambda: adapter.close_position(symbol, side, client_id)
        )

    def close_positions(
        self, closes: Sequence[CloseOrder], *, actor: str, purpose: str = "close", run_all: RunAll
    ) -> list[GatewayResult | BaseException]:
        """Close many positions at once, each as ``close_position`` would: every intent is recorded in one transaction
        before any is sent, ``run_all`` sends them (concurrently), one transaction records every outcome and audit
        line. See ``gateway_batch``."""
        from riskmgr.risk.gateway_batch import close_many  # it builds on this module

        return close_many(self, closes, actor=actor, purpose=purpose, run_all=run_all)

    def cancel_all(self, account: str, *, actor: str, symbol: str | None = None, include_protective: bool = True
                   ) -> list[str]:
        """Cancel open orders of one account (allowed in every state); audited."""
        ids = self._adapter(account).cancel_all_orders(symbol, include_protective=include_protective)
        self._audit.record(
            "order.cancel_all", actor, f"cancelled {len(ids)} order(s)" + (f" on {symbol}" if symbol else ""),
            account=account, data={"ids": ids, "include_protective": include_protective},
        )
        return ids

    def cancel(self, account: str, symbol: str, order_id: str, *, actor: str) -> None:
        """Cancel one order (allowed in every state); audited."""
        self._adapter(account).cancel_order(symbol, order_id)
        self._audit.record("order.cancel", actor, f"cancelled {order_id} on {symbol}", account=account)

    def set_leverage(self, account: str, symbol: str, leverage: int, *, actor: str) -> None:
        """Set leverage for new positions (audited)."""
        self._adapter(account).set_leverage(symbol, leverage)
        self._audit.record("order.leverage", actor, f"leverage {leverage}x on {symbol}", account=account)

    def entries_since(self, account: str, *, purpose: str, since: datetime) -> int:
        """Return how many new-risk entries of ``purpose`` the gate let through on ``account`` since ``since``
        (pending and failed ones included: they may be out)."""
        return self._ledger.entries_since(account, purpose, since)

    # -- specs and rounding ------------------------------------------------------------------------
    def spec(self, account: str, symbol: str) -> MarketSpec:
        """Return the contract spec of ``symbol`` on ``account``'s exchange (cached)."""
        return self._specs.spec(account, symbol)

    def maintenance_margin_rate(self, account: str, symbol: str) -> Decimal:
        """Return the first-tier maintenance margin rate of ``symbol`` (its adapter reads it once, then keeps it)."""
        return self._specs.maintenance_margin_rate(account, symbol)

    def rounded(self, account: str, request: OrderRequest) -> OrderRequest:
        """Round quantity down to the step and prices to the tick in the conservative direction."""
        return self._specs.rounded(account, request)

    # -- internals ---------------------------------------------------------------------------------
    def _adapter(self, account: str) -> ExchangeAdapter:
        return self._specs.adapter(account)

    def _claim(
        self, account: str, request: OrderRequest, purpose: str, actor: str, exposure: Decimal | None = None
    ) -> GatewayResult | None:
        """Record the intent as pending; if it was seen before, return its earlier outcome (``gateway_batch``)."""
        return self._records.claim(account, request, purpose, actor, exposure)
