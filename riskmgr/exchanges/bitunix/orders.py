"""Bitunix order bodies and the Orders that stand for what the write endpoints did.

Pure functions: the adapter reads what they need (the position an order closes, the account's position mode)
and sends what they build. Amounts go out as plain decimal strings, as the docs show them.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from riskmgr.core.domain import Order, OrderRequest, OrderSide, OrderStatus, OrderType, PositionSide
from riskmgr.core.errors import ValidationError
from riskmgr.exchanges.bitunix import constants as C
from riskmgr.exchanges.bitunix import parse as P


def decimal_text(value: Decimal) -> str:
    """Return a plain decimal string (never exponent notation) for a request body."""
    return format(value.normalize(), "f")


def validate_request(request: OrderRequest) -> None:
    """Refuse an order request Bitunix's place_order cannot carry, naming the field."""
    if request.type not in (OrderType.MARKET, OrderType.LIMIT):
        raise ValidationError("type", f"{request.type.value} orders go through place_position_protection")
    if not (request.qty.is_finite() and request.qty > 0):
        raise ValidationError("qty", f"{request.qty} must be greater than zero")
    if request.type is OrderType.LIMIT and (request.price is None or not request.price > 0):
        raise ValidationError("price", "a limit order needs a price greater than zero")
    if request.reduce_only and (request.stop_loss is not None or request.take_profit is not None):
        raise ValidationError("stop_loss", "a reduce-only order cannot carry its own stop-loss or take-profit")


def side_reduced_by(order_side: OrderSide) -> PositionSide:
    """Return the position side an order of ``order_side`` shrinks (a sell reduces a long)."""
    return PositionSide.LONG if order_side is OrderSide.SELL else PositionSide.SHORT


def order_body(request: OrderRequest, native: str, *, closing: P.Row | None = None,
               hedge: bool = False) -> dict[str, Any]:
    """Return the place_order body; ``closing`` is the position a reduce-only order shrinks.

    ``hedge`` says whether the account is in hedge mode (it decides tradeSide on an opening order).
    """
    body: dict[str, Any] = {"symbol": native, "side": request.side.value.upper(),
                            "orderType": request.type.value.upper(), "qty": decimal_text(request.qty)}
    if request.type is OrderType.LIMIT and request.price is not None:
        body.update(price=decimal_text(request.price), effect="GTC")
    if closing is not None:
        # The order must shrink an existing position; in hedge mode Bitunix wants the position's own
        # direction as ``side`` plus tradeSide=CLOSE and its positionId (place_order docs).
        if closing.choice("positionMode", {m: m for m in C.POSITION_MODES}) == "HEDGE":
            held = closing.choice("side", C.POSITION_SIDES)
            body.update(side=held.entry_order_side.value.upper(), tradeSide="CLOSE",
                        positionId=closing.text("positionId"))
        else:
            body["reduceOnly"] = True
    elif hedge:
        body["tradeSide"] = "OPEN"
    if request.client_id:
        body["clientId"] = request.client_id
    for leg, price in (("sl", request.stop_loss), ("tp", request.take_profit)):
        if price is not None:
            body.update({f"{leg}Price": decimal_text(price), f"{leg}StopType": C.STOP_TRIGGER_TYPE,
                         f"{leg}OrderType": "MARKET"})
    return body


def merge_leg(body: dict[str, Any], leg: str, price: Decimal | None, existing: P.Row | None) -> None:
    """Put one leg into a position TP/SL body: the new price, else the existing leg's, else nothing."""
    price_field, stop_field = f"{leg}Price", f"{leg}StopType"
    if price is not None:
        body.update({price_field: decimal_text(price), stop_field: C.STOP_TRIGGER_TYPE})
    elif existing is not None and existing.present(price_field):
        body.update({price_field: decimal_text(existing.positive(price_field)),
                     stop_field: existing.opt_text(stop_field) or C.STOP_TRIGGER_TYPE})


def protection_orders(order_id: str, symbol: str, side: PositionSide, stop_loss: Decimal | None,
                      take_profit: Decimal | None, now: datetime) -> list[Order]:
    """Return one Order per leg of a position TP/SL row just placed or amended."""
    return [
        Order(id=P.tpsl_leg_id(order_id, leg), symbol=symbol, side=side.close_order_side,
              type=C.TPSL_FIELDS[leg][4], status=OrderStatus.NEW, qty=None, trigger_price=price,
              close_position=True, created_at=now, position_side=side)
        for leg, price in (("sl", stop_loss), ("tp", take_profit)) if price is not None
    ]


def closing_order(position: P.Row, how: str, now: datetime) -> Order:
    """Return the reduce-only market Order that stands for closing ``position`` (ids say how it was closed)."""
    side: PositionSide = position.choice("side", C.POSITION_SIDES)
    return Order(id=f"{how}{C.TPSL_LEG_SEPARATOR}{position.text('positionId')}",
                 symbol=P.to_unified(position.text("symbol"), position.endpoint), side=side.close_order_side,
                 type=OrderType.MARKET, status=OrderStatus.NEW, qty=position.positive("qty"), reduce_only=True,
                 close_position=True, created_at=now, position_side=side)
