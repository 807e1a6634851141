"""The manual order ticket: parse and validate it, then send it through the gateway with its protection.

An entry with a stop-loss gets its exchange-side stop right after the fill; if the stop cannot be placed the
position is closed at once rather than left unprotected (and both facts are audited).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from riskmgr.domain import MarginMode, OrderRequest, OrderSide, OrderStatus, OrderType, PositionSide
from riskmgr.errors import ValidationError
from riskmgr.risk.gateway import GatewayResult
from riskmgr.runtime import Runtime
from riskmgr.validation import opt_bool, opt_decimal, opt_int, req_decimal, req_str


@dataclass(frozen=True)
class OrderTicket:
    account: str
    symbol: str
    side: OrderSide
    type: OrderType
    qty: Decimal
    price: Decimal | None
    leverage: int | None
    margin_mode: MarginMode | None
    stop_loss: Decimal | None
    take_profit: Decimal | None
    reduce_only: bool
    intent_id: str

    @property
    def position_side(self) -> PositionSide:
        """The side of the position this ticket opens (or, reduce-only, the side it reduces)."""
        opens_long = self.side is OrderSide.BUY
        if self.reduce_only:
            opens_long = not opens_long
        return PositionSide.LONG if opens_long else PositionSide.SHORT

    def request(self) -> OrderRequest:
        return OrderRequest(
            symbol=self.symbol, side=self.side, type=self.type, qty=self.qty, price=self.price,
            reduce_only=self.reduce_only, leverage=self.leverage, margin_mode=self.margin_mode,
            stop_loss=self.stop_loss, take_profit=self.take_profit,
        )


def parse_ticket(data: Mapping[str, Any], runtime: Runtime) -> OrderTicket:
    """Validate a ticket; every error names its field and the allowed values or range."""
    account = req_str(data, "account", list(runtime.accounts))
    specs = runtime.accounts[account].fetch_markets()
    symbol = req_str(data, "symbol", sorted(specs))
    spec = specs[symbol]
    order_type = OrderType(req_str(data, "type", ["market", "limit"]))
    price = opt_decimal(data, "price", positive=True)
    if order_type is OrderType.LIMIT and price is None:
        raise ValidationError("price", "is required for a limit order")
    mode = data.get("margin_mode") or None
    ticket = OrderTicket(
        account=account,
        symbol=symbol,
        side=OrderSide(req_str(data, "side", ["buy", "sell"])),
        type=order_type,
        qty=req_decimal(data, "qty", positive=True),
        price=price if order_type is OrderType.LIMIT else None,
        leverage=opt_int(data, "leverage", 1, spec.max_leverage),
        margin_mode=MarginMode(req_str(data, "margin_mode", ["isolated", "cross"])) if mode else None,
        stop_loss=opt_decimal(data, "stop_loss", positive=True),
        take_profit=opt_decimal(data, "take_profit", positive=True),
        reduce_only=opt_bool(data, "reduce_only"),
        intent_id=str(data.get("intent_id") or uuid.uuid4()),
    )
    _check_sides(ticket, price or runtime.market.ticker(symbol).mark)
    return ticket


def _check_sides(t: OrderTicket, ref: Decimal) -> None:
    if t.reduce_only:
        return
    long = t.side is OrderSide.BUY
    if t.stop_loss is not None and (t.stop_loss >= ref if long else t.stop_loss <= ref):
        where = "below" if long else "above"
        raise ValidationError("stop_loss", f"{t.stop_loss} must be {where} the entry price {ref} for a {t.side}")
    if t.take_profit is not None and (t.take_profit <= ref if long else t.take_profit >= ref):
        where = "above" if long else "below"
        raise ValidationError("take_profit", f"{t.take_profit} must be {where} the entry price {ref} for a {t.side}")


def submit_ticket(runtime: Runtime, ticket: OrderTicket, actor: str) -> dict[str, Any]:
    """Send the ticket through the gateway; protect a filled entry or unwind it if protection fails."""
    gateway = runtime.gateway
    if ticket.leverage is not None and not ticket.reduce_only:
        gateway.set_leverage(ticket.account, ticket.symbol, ticket.leverage, actor=actor)
    result = gateway.submit(ticket.account, ticket.request(), actor=actor, intent_id=ticket.intent_id)
    answer: dict[str, Any] = {"entry": result_view(result)}
    filled = result.order is not None and result.order.status is OrderStatus.FILLED
    wants_protection = ticket.stop_loss is not None or ticket.take_profit is not None
    if result.accepted and filled and wants_protection and not ticket.reduce_only:
        protection = gateway.protect(
            ticket.account, ticket.symbol, ticket.position_side, stop_loss=ticket.stop_loss,
            take_profit=ticket.take_profit, actor=actor, intent_id=f"{ticket.intent_id}:protect",
        )
        answer["protection"] = result_view(protection)
        if not protection.accepted and not protection.duplicate:
            unwind = gateway.close_position(
                ticket.account, ticket.symbol, ticket.position_side, actor=actor,
                intent_id=f"{ticket.intent_id}:unwind", purpose="unwind-unprotected",
            )
            answer["unwind"] = result_view(unwind)
    return answer


def result_view(result: GatewayResult) -> dict[str, Any]:
    """Describe a gateway result for the API and the page."""
    order = result.order
    return {
        "accepted": result.accepted,
        "client_id": result.client_id,
        "duplicate": result.duplicate,
        "message": result.message,
        "order": None if order is None else {
            "id": order.id, "status": order.status.value, "symbol": order.symbol, "side": order.side.value,
            "type": order.type.value, "qty": None if order.qty is None else str(order.qty),
            "price": None if order.price is None else str(order.price),
            "avg_fill_price": None if order.avg_fill_price is None else str(order.avg_fill_price),
            "trigger_price": None if order.trigger_price is None else str(order.trigger_price),
        },
        "verdicts": [{"allowed": v.allowed, "rule": v.rule, "reason": v.reason} for v in result.verdicts],
    }
