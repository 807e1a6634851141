"""The one gate through which every order reaches every exchange.

Signals, manual tickets, the stop-loss watchdog, the emergency stop and backtests all call
``OrderGateway``. For each intent it: checks the trading state; runs the risk rules for new risk; rounds
quantity and prices to the market's step and tick; assigns a deterministic client order id so a retried
intent never becomes a second order; records the intent and its result in the audit log; and only then calls
the exchange adapter. Denials come back as values (``GatewayResult.verdicts``), never as exceptions.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from riskmgr.audit import AuditLog
from riskmgr.clock import Clock
from riskmgr.domain import MarketSpec, Order, OrderRequest, OrderSide, OrderType, PositionSide, Verdict
from riskmgr.errors import DuplicateClientIdError, ExchangeError, ValidationError
from riskmgr.exchanges.base import ExchangeAdapter
from riskmgr.models import OrderIntent
from riskmgr.risk.sizing import round_down_to_step, round_to_tick
from riskmgr.risk.state import admits
from riskmgr.trading_state import TradingStateStore

log = logging.getLogger(__name__)
RiskCheck = Callable[[str, OrderRequest], list[Verdict]]


@dataclass(frozen=True)
class GatewayResult:
    accepted: bool
    client_id: str
    order: Order | None
    verdicts: tuple[Verdict, ...] = ()
    message: str = ""
    duplicate: bool = False
    protection: GatewayResult | None = None  # the stop-loss / take-profit placed after a market entry
    unwind: GatewayResult | None = None  # the close sent because that protection could not be placed

    @property
    def denials(self) -> list[Verdict]:
        return [v for v in self.verdicts if not v.allowed]


def client_id_for(account: str, intent_id: str) -> str:
    """Return the deterministic client order id of one intent (the same intent always gets the same id)."""
    digest = hashlib.sha256(f"{account}|{intent_id}".encode()).hexdigest()[:28]
    return f"rm{digest}"


class OrderGateway:
    """Check, round, identify, audit, then send. The only holder of write access to the adapters."""

    def __init__(
        self,
        adapters: Mapping[str, ExchangeAdapter],
        engine: Engine,
        trading: TradingStateStore,
        audit: AuditLog,
        clock: Clock,
        risk_check: RiskCheck | None = None,
    ):
        self._adapters = adapters
        self._engine = engine
        self._trading = trading
        self._audit = audit
        self._clock = clock
        self._risk_check = risk_check
        self._specs: dict[str, dict[str, MarketSpec]] = {}
        self._lock = threading.Lock()

    def set_risk_check(self, risk_check: RiskCheck) -> None:
        """Install the function that runs every risk rule for a new-risk order (done once at start)."""
        self._risk_check = risk_check

    # -- orders ------------------------------------------------------------------------------------
    def submit(
        self, account: str, request: OrderRequest, *, actor: str, intent_id: str, purpose: str = "manual"
    ) -> GatewayResult:
        """Send one order if the state and the rules allow it; return what happened.

        A market entry's stop-loss / take-profit are placed on the exchange right after the fill, and the
        position is closed at once if they cannot be; a limit entry carries them attached for the venue to
        place on fill (the protection watchdog covers venues that do not).
        """
        adapter = self._adapter(account)
        client_id = client_id_for(account, intent_id)
        request = self.rounded(account, replace(request, client_id=client_id))
        verdicts = self.verdicts(account, request)
        if any(not v.allowed for v in verdicts):
            return self._deny(account, request, verdicts, actor=actor, purpose=purpose)
        protect_after = request.type is OrderType.MARKET and not request.reduce_only and (
            request.stop_loss is not None or request.take_profit is not None
        )
        to_send = replace(request, stop_loss=None, take_profit=None) if protect_after else request
        result = self._send(account, to_send, purpose, actor, verdicts, lambda: adapter.place_order(to_send))
        if not protect_after or not result.accepted or result.order is None:
            return result
        return self._protect_entry(account, request, result, actor=actor, intent_id=intent_id)

    def _protect_entry(
        self, account: str, request: OrderRequest, entry: GatewayResult, *, actor: str, intent_id: str
    ) -> GatewayResult:
        side = PositionSide.LONG if request.side is OrderSide.BUY else PositionSide.SHORT
        protection = self.protect(
            account, request.symbol, side, stop_loss=request.stop_loss, take_profit=request.take_profit,
            actor=actor, intent_id=f"{intent_id}:protect",
        )
        if protection.accepted:
            return replace(entry, protection=protection)
        log.error("entry %s on %s left unprotected (%s): closing it", entry.client_id, account, protection.message)
        unwind = self.close_position(
            account, request.symbol, side, actor=actor, intent_id=f"{intent_id}:unwind", purpose="unwind-unprotected"
        )
        return replace(entry, protection=protection, unwind=unwind)

    def verdicts(self, account: str, request: OrderRequest) -> list[Verdict]:
        """Return the trading-state verdict and, for new risk, every rule's verdict."""
        state_verdict = admits(self._trading.current().state, reduces_exposure=request.reduce_only, is_cancel=False)
        if request.reduce_only or self._risk_check is None:
            return [state_verdict]
        return [state_verdict, *self._risk_check(account, request)]

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
    ) -> GatewayResult:
        """Place position-level stop-loss / take-profit orders (allowed in every state: they reduce risk)."""
        adapter = self._adapter(account)
        spec = self.spec(account, symbol)
        long = side is PositionSide.LONG
        sl = round_to_tick(stop_loss, spec.price_tick, up=long) if stop_loss is not None else None
        tp = round_to_tick(take_profit, spec.price_tick, up=not long) if take_profit is not None else None
        client_id = client_id_for(account, intent_id)
        request = OrderRequest(
            symbol, side.close_order_side, OrderType.STOP_MARKET, Decimal(0), reduce_only=True, client_id=client_id,
            stop_loss=sl, take_profit=tp,
        )
        verdict = Verdict.allow("trading_state", "protective orders are always admitted")

        def place() -> Order:
            orders = adapter.place_position_protection(symbol, side, stop_loss=sl, take_profit=tp, client_id=client_id)
            return orders[0]

        return self._send(account, request, purpose, actor, [verdict], place)

    def close_position(
        self, account: str, symbol: str, side: PositionSide, *, actor: str, intent_id: str, purpose: str = "close"
    ) -> GatewayResult:
        """Close one position with a reduce-only market order (allowed in every state)."""
        adapter = self._adapter(account)
        client_id = client_id_for(account, intent_id)
        request = OrderRequest(symbol, side.close_order_side, OrderType.MARKET, Decimal(0), reduce_only=True,
                               client_id=client_id)
        verdict = Verdict.allow("trading_state", "closing orders are always admitted")
        return self._send(
            account, request, purpose, actor, [verdict], lambda: adapter.close_position(symbol, side, client_id)
        )

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

    # -- specs and rounding ------------------------------------------------------------------------
    def spec(self, account: str, symbol: str) -> MarketSpec:
        """Return the contract spec of ``symbol`` on ``account``'s exchange (cached)."""
        with self._lock:
            specs = self._specs.get(account)
        if specs is None or symbol not in specs:
            specs = self._adapter(account).fetch_markets()
            with self._lock:
                self._specs[account] = specs
        if symbol not in specs:
            raise ValidationError("symbol", f"{symbol!r} is not traded on account {account!r}")
        return specs[symbol]

    def maintenance_margin_rate(self, account: str, symbol: str) -> Decimal:
        """Return the first-tier maintenance margin rate of ``symbol`` (its adapter reads it once, then keeps it)."""
        return self._adapter(account).fetch_maintenance_margin_rate(symbol)

    def rounded(self, account: str, request: OrderRequest) -> OrderRequest:
        """Round quantity down to the step and prices to the tick in the conservative direction."""
        tick = self.spec(account, request.symbol).price_tick
        buy = request.side is OrderSide.BUY

        def to_tick(price: Decimal | None, up: bool) -> Decimal | None:
            return None if price is None else round_to_tick(price, tick, up=up)

        return replace(
            request,
            qty=round_down_to_step(request.qty, self.spec(account, request.symbol).qty_step),
            price=to_tick(request.price, not buy),
            # a buy opens a long: its stop sits below, rounded up (closer); its target rounded down (nearer)
            stop_loss=to_tick(request.stop_loss, buy),
            take_profit=to_tick(request.take_profit, not buy),
        )

    # -- internals ---------------------------------------------------------------------------------
    def _adapter(self, account: str) -> ExchangeAdapter:
        try:
            return self._adapters[account]
        except KeyError:
            raise ValidationError("account", f"{account!r} is not a configured account") from None

    def _deny(
        self, account: str, request: OrderRequest, verdicts: list[Verdict], *, actor: str, purpose: str
    ) -> GatewayResult:
        denials = [v for v in verdicts if not v.allowed]
        message = "; ".join(f"{v.rule}: {v.reason}" for v in denials)
        self._audit.record(
            "order.denied", actor, f"{purpose} {_describe(request)} denied — {message}", account=account,
            data={"request": _request_dict(request), "verdicts": [_verdict_dict(v) for v in verdicts]},
        )
        return GatewayResult(False, request.client_id or "", None, tuple(verdicts), message)

    def _send(
        self,
        account: str,
        request: OrderRequest,
        purpose: str,
        actor: str,
        verdicts: list[Verdict],
        call: Callable[[], Order],
    ) -> GatewayResult:
        client_id = request.client_id or ""
        previous = self._claim(account, request, purpose, actor)
        if previous is not None:
            return previous
        try:
            order = call()
        except DuplicateClientIdError:
            # Another process sent this very intent first: the exchange holds exactly one such order.
            self._finish(client_id, "accepted", {"message": "already on the exchange (duplicate client id)"})
            return GatewayResult(True, client_id, None, tuple(verdicts), "already placed", duplicate=True)
        except ExchangeError as exc:
            self._finish(client_id, "rejected", {"error": exc.describe()})
            self._audit.record(
                "order.rejected", actor, f"{purpose} {_describe(request)} rejected by the exchange: {exc.describe()}",
                account=account, data={"request": _request_dict(request), "error": exc.describe()},
            )
            return GatewayResult(False, client_id, None, tuple(verdicts), exc.describe())
        self._finish(client_id, "accepted", {"order_id": order.id, "status": order.status.value})
        self._audit.record(
            "order.sent", actor, f"{purpose} {_describe(request)} accepted as {order.id} ({order.status})",
            account=account, data={"request": _request_dict(request), "order_id": order.id, "status": order.status},
        )
        return GatewayResult(True, client_id, order, tuple(verdicts), "accepted")

    def _claim(self, account: str, request: OrderRequest, purpose: str, actor: str) -> GatewayResult | None:
        """Record the intent as pending; if it was seen before, return its earlier outcome instead."""
        now = self._clock.now()
        client_id = request.client_id or ""
        try:
            with Session(self._engine) as session, session.begin():
                session.add(OrderIntent(
                    client_id=client_id, account=account, created_at=now, updated_at=now, purpose=purpose,
                    actor=actor, status="pending", request=_request_dict(request),
                ))
            return None
        except IntegrityError:
            with Session(self._engine) as session:
                row = session.get(OrderIntent, client_id)
                status, result = (row.status, row.result or {}) if row else ("pending", {})
            log.info("intent %s seen before (%s); not sent again", client_id, status)
            return GatewayResult(
                status == "accepted", client_id, None, (), f"intent already {status}: {result}", duplicate=True
            )

    def _finish(self, client_id: str, status: str, result: dict[str, Any]) -> None:
        with Session(self._engine) as session, session.begin():
            row = session.get(OrderIntent, client_id)
            if row is not None:
                row.status, row.result, row.updated_at = status, result, self._clock.now()


def _describe(r: OrderRequest) -> str:
    price = f" @ {r.price}" if r.price is not None else ""
    ro = " reduce-only" if r.reduce_only else ""
    return f"{r.side} {r.qty} {r.symbol} {r.type}{price}{ro}"


def _request_dict(r: OrderRequest) -> dict[str, Any]:
    return {
        "symbol": r.symbol, "side": r.side.value, "type": r.type.value, "qty": str(r.qty),
        "price": None if r.price is None else str(r.price), "reduce_only": r.reduce_only, "client_id": r.client_id,
        "leverage": r.leverage, "stop_loss": None if r.stop_loss is None else str(r.stop_loss),
        "take_profit": None if r.take_profit is None else str(r.take_profit),
    }


def _verdict_dict(v: Verdict) -> dict[str, Any]:
    return {"allowed": v.allowed, "rule": v.rule, "reason": v.reason, "until": v.until.isoformat() if v.until else None}
