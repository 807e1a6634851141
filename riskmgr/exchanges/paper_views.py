"""Domain views of paper-exchange rows: orders and trade-history fills."""

from __future__ import annotations

from riskmgr.domain import Order, OrderSide, OrderStatus, OrderType, PositionSide
from riskmgr.exchanges.fills import FillReason, FillRecord
from riskmgr.exchanges.paper_models import PaperFill, PaperOrder


def order_from_row(row: PaperOrder) -> Order:
    """Return the domain view of an order row."""
    return Order(
        id=str(row.id),
        symbol=row.symbol,
        side=OrderSide(row.side),
        type=OrderType(row.type),
        status=OrderStatus(row.status),
        qty=row.qty,
        price=row.price,
        trigger_price=row.trigger_price,
        reduce_only=row.reduce_only,
        close_position=row.close_position,
        client_id=row.client_id,
        filled_qty=row.filled_qty,
        avg_fill_price=row.avg_fill_price,
        fee=row.fee,
        created_at=row.created_at,
        position_side=PositionSide(row.position_side) if row.position_side is not None else None,
    )


def fill_from_row(row: PaperFill) -> FillRecord:
    """Return the trade-history record of a fill row."""
    return FillRecord(
        id=str(row.id),
        ts=row.ts,
        symbol=row.symbol,
        side=OrderSide(row.side),
        qty=row.qty,
        price=row.price,
        fee=row.fee,
        realized_pnl=row.realized_pnl,
        closes=row.closes,
        net_pnl=row.net_pnl,
        reason=FillReason(row.reason),
        maker=row.maker,
        order_id=str(row.order_id) if row.order_id is not None else None,
    )
