"""Which exchange-side stop-loss and take-profit orders protect which position."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from riskmgr.core.domain import Order, Position, Protection


def _guards(order: Order, position: Position) -> bool:
    """Return whether ``order`` is a trigger that would reduce ``position`` when it fires."""
    if order.symbol != position.symbol or not order.status.is_open:
        return False
    if order.position_side is not None and order.position_side is not position.side:
        return False
    return order.side is position.side.close_order_side


def find_protection(position: Position, orders: Iterable[Order]) -> Protection:
    """Return the resting stop-loss and take-profit of ``position`` (the tightest stop, nearest target)."""
    stops = [o for o in orders if o.is_stop_loss and o.trigger_price is not None and _guards(o, position)]
    targets = [o for o in orders if o.is_take_profit and o.trigger_price is not None and _guards(o, position)]
    long = position.side.sign > 0
    stop = max(stops, key=lambda o: _reach(o, long), default=None)
    target = min(targets, key=lambda o: _reach(o, long), default=None)
    covered = sum((o.qty or 0) for o in stops if not o.close_position)
    full = any(o.close_position for o in stops) or covered >= position.size
    return Protection(
        stop_loss=stop.trigger_price if stop else None,
        take_profit=target.trigger_price if target else None,
        stop_covers_full_size=bool(stops) and full,
    )


def _reach(order: Order, long: bool) -> Decimal:
    """Return the trigger price signed so that the tightest stop is the largest and the nearest target the smallest."""
    price = order.trigger_price
    if price is None:  # find_protection passes only orders with a trigger price
        raise ValueError(f"order {order.id} has no trigger price")
    return price if long else -price


def by_symbol(orders: Iterable[Order]) -> dict[str, list[Order]]:
    """Group orders by symbol, so each position's protection is looked for among its own symbol's orders only."""
    grouped: dict[str, list[Order]] = {}
    for order in orders:
        grouped.setdefault(order.symbol, []).append(order)
    return grouped
