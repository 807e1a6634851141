"""Domain views of paper-exchange rows: positions, orders and trade-history fills."""

from __future__ import annotations

from decimal import Decimal

from riskmgr.core.domain import MarginMode, Order, OrderSide, OrderStatus, OrderType, Position, PositionSide
from riskmgr.exchanges.fills import FillReason, FillRecord, pnl
from riskmgr.exchanges.paper.models import PaperFill, PaperOrder, PaperPosition, money


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


def position_from_row(row: PaperPosition, mark: Decimal, liquidation_price: Decimal | None) -> Position:
    """Return the domain view of a position row at ``mark``."""
    side = PositionSide(row.side)
    return Position(
        symbol=row.symbol,
        side=side,
        size=row.size,
        entry_price=row.entry_price,
        mark_price=mark,
        leverage=Decimal(row.leverage),
        margin_mode=MarginMode(row.margin_mode),
        liquidation_price=liquidation_price,
        unrealized_pnl=money(pnl(side, row.entry_price, row.size, mark)),
        margin=row.margin,
        opened_at=row.opened_at,
        position_id=row.uid,
    )
