"""The manual order ticket: parse and validate it, then send it through the gateway with its protection.

The gateway places a filled entry's exchange-side stop right after the fill; if the stop cannot be placed
the position is closed at once rather than left unprotected (and both facts are audited).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from riskmgr.domain import MarginMode, OrderRequest, OrderSide, OrderType, PositionSide
from riskmgr.errors import InvalidOrderError, ValidationError
from riskmgr.formatting import dec
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
    """Send the ticket through the gateway (which protects a filled entry or unwinds it)."""
    gateway = runtime.gateway
    if ticket.leverage is not None and not ticket.reduce_only:
        try:
            gateway.set_leverage(ticket.account, ticket.symbol, ticket.leverage, actor=actor)
        except InvalidOrderError as exc:
            raise ValidationError("leverage", str(exc)) from exc
    result = gateway.submit(ticket.account, ticket.request(), actor=actor, intent_id=ticket.intent_id)
    return {
        "entry": result_view(result),
        "protection": result_view(result.protection) if result.protection else None,
        "unwind": result_view(result.unwind) if result.unwind else None,
    }


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
            "type": order.type.value, "qty": dec(order.qty), "price": dec(order.price),
            "avg_fill_price": dec(order.avg_fill_price), "trigger_price": dec(order.trigger_price),
        },
        "verdicts": [{"allowed": v.allowed, "rule": v.rule, "reason": v.reason} for v in result.verdicts],
    }
