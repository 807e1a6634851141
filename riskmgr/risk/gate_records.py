"""What the gate records of every intent, and what it returns: the idempotency record and the audit trail.

Every order the gateway handles is an *intent* under a deterministic client id (``client_id_for``): claimed as
``pending`` in ``order_intent`` before the venue is called (an intent seen before is not sent again: its earlier
outcome comes back instead), then finished as accepted, rejected or failed with the venue's answer, each with its
audit line (``order.sent``, ``order.rejected``, ``order.denied``). ``GateRecords`` does that bookkeeping for
``OrderGateway`` (and ``gateway_batch``); it decides nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from riskmgr.core.clock import Clock
from riskmgr.core.domain import Order, OrderRequest, OrderType, Verdict
from riskmgr.core.errors import DuplicateClientIdError, ExchangeError
from riskmgr.core.labels import rule_label
from riskmgr.persistence.audit import AuditLog
from riskmgr.persistence.models import OrderIntent
from riskmgr.risk.intent_ledger import IntentLedger

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GatewayResult:
    """What the gate did with one intent: sent and accepted, or not, with every verdict and the venue's message."""

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


class GateRecords:
    """Claim, finish and audit the gateway's intents (see the module docstring)."""

    def __init__(self, engine: Engine, audit: AuditLog, clock: Clock, ledger: IntentLedger):
        self._engine = engine
        self._audit = audit
        self._clock = clock
        self._ledger = ledger

    def deny(
        self, account: str, request: OrderRequest, verdicts: list[Verdict], *, actor: str, purpose: str
    ) -> GatewayResult:
        """Record and audit a denied intent (nothing is sent); return the denial."""
        denials = [v for v in verdicts if not v.allowed]
        message = "; ".join(f"{rule_label(v.rule)}: {v.reason}" for v in denials)
        self._audit.record(
            "order.denied", actor, f"{purpose} {describe(request)} denied — {message}", account=account,
            data={"request": request_dict(request), "verdicts": [_verdict_dict(v) for v in verdicts]},
        )
        return GatewayResult(False, request.client_id or "", None, tuple(verdicts), message)

    def send(
        self,
        account: str,
        request: OrderRequest,
        purpose: str,
        actor: str,
        verdicts: list[Verdict],
        call: Callable[[], Order],
        *,
        exposure: Decimal | None = None,
        recorded: OrderRequest | None = None,
    ) -> GatewayResult:
        """Claim the intent, call the venue (``call``), record the outcome.

        ``exposure`` marks a new-risk entry: the price it counts at while in flight (``recorded`` is the request as
        judged, with its stop, when what is sent differs).
        """
        client_id = request.client_id or ""
        previous = self.claim(account, recorded or request, purpose, actor, exposure)
        if previous is not None:
            return previous
        try:
            order = call()
        except BaseException as exc:
            return self._failed_send(account, request, purpose, actor, verdicts, exc)
        self.finish(client_id, "accepted", {"order_id": order.id, "status": order.status.value},
                     seq=self._ledger.next_seq(account) if exposure is not None else None)
        self._audit.record(
            "order.sent", actor, f"{purpose} {describe(request, order)} accepted as {order.id} ({order.status})",
            account=account, data={"request": request_dict(request), "order_id": order.id, "status": order.status},
        )
        return GatewayResult(True, client_id, order, tuple(verdicts), "accepted")

    def _failed_send(
        self, account: str, request: OrderRequest, purpose: str, actor: str, verdicts: list[Verdict],
        exc: BaseException,
    ) -> GatewayResult:
        """Record a send that raised: a duplicate id is the same order placed already; others are rejections."""
        client_id = request.client_id or ""
        if isinstance(exc, DuplicateClientIdError):
            # Another process sent this very intent first: the exchange holds exactly one such order.
            self.finish(client_id, "accepted", {"message": "already on the exchange (duplicate client id)"})
            return GatewayResult(True, client_id, None, tuple(verdicts), "already placed", duplicate=True)
        if isinstance(exc, ExchangeError):
            self.finish(client_id, "rejected", {"error": exc.describe()})
            self._audit.record(
                "order.rejected", actor, f"{purpose} {describe(request)} rejected by the exchange: {exc.describe()}",
                account=account, data={"request": request_dict(request), "error": exc.describe()},
            )
            return GatewayResult(False, client_id, None, tuple(verdicts), exc.describe())
        # not an answer from the venue (a bug, an interrupt): the order may or may not be out; the intent is marked
        # failed, not left pending forever, and it counts as in flight until it expires (when unsure, deny)
        self.finish(client_id, "failed", {"error": f"{type(exc).__name__}: {exc}"})
        raise exc

    def claim(
        self, account: str, request: OrderRequest, purpose: str, actor: str, exposure: Decimal | None = None
    ) -> GatewayResult | None:
        """Record the intent as pending; if it was seen before, return its earlier outcome instead."""
        now = self._clock.now()
        client_id = request.client_id or ""
        try:
            with Session(self._engine) as session, session.begin():
                recorded = request_dict(request)
                if exposure is not None:
                    recorded["exposure_price"] = str(exposure)
                session.add(OrderIntent(
                    client_id=client_id, account=account, created_at=now, updated_at=now, purpose=purpose,
                    actor=actor, status="pending", request=recorded, gate_seq=0 if exposure is not None else None,
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

    def finish(self, client_id: str, status: str, result: dict[str, Any], seq: int | None = None) -> None:
        """Record an intent's outcome (``seq``: the gate sequence number of an accepted new-risk entry)."""
        with Session(self._engine) as session, session.begin():
            row = session.get(OrderIntent, client_id)
            if row is not None:
                row.status, row.result, row.updated_at = status, result, self._clock.now()
                if seq is not None:
                    row.gate_seq = seq


def describe(r: OrderRequest, order: Order | None = None) -> str:
    """Describe an order for the audit log ("buy 0.01 BTC/USDT:USDT limit @ 50000")."""
    if _whole_position(r):
        return _describe_close(r, order)
    price = f" @ {r.price}" if r.price is not None else ""
    ro = " reduce-only" if r.reduce_only else ""
    return f"{r.side} {r.qty} {r.symbol} {r.type}{price}{ro}"


def _whole_position(r: OrderRequest) -> bool:
    """Say whether ``r`` stands for closing a whole position (sent with no quantity of its own)."""
    return r.reduce_only and r.type is OrderType.MARKET and r.qty == 0


def _describe_close(r: OrderRequest, order: Order | None) -> str:
    """Describe a whole-position close by the size the venue closed ("0.5 XRP (whole position)"), never as size 0."""
    base = r.symbol.split("/")[0]
    size = order.filled_qty or order.qty if order is not None else None
    what = f"{size.normalize():f} {base} (whole position)" if size else f"the whole {base} position"
    return f"{what} on {r.symbol}: {r.side} at market, reduce-only"


def request_dict(r: OrderRequest) -> dict[str, Any]:
    """Return an order request JSON-safe (as recorded with its intent)."""
    return {
        "symbol": r.symbol, "side": r.side.value, "type": r.type.value, "qty": str(r.qty),
        "price": None if r.price is None else str(r.price), "reduce_only": r.reduce_only, "client_id": r.client_id,
        "leverage": r.leverage, "stop_loss": None if r.stop_loss is None else str(r.stop_loss),
        "take_profit": None if r.take_profit is None else str(r.take_profit),
    }


def _verdict_dict(v: Verdict) -> dict[str, Any]:
    return {"allowed": v.allowed, "rule": v.rule, "label": rule_label(v.rule), "reason": v.reason,
            "until": v.until.isoformat() if v.until else None}
