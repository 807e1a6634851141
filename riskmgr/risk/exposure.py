"""Exposure that may still fill: resting entry orders on the venue and intents the gate has let through.

Every cap counts open positions *plus* these, as if each filled at its limit price (a market intent at the
price the gate judged it at), so seven resting buys cannot become seven positions under a cap of five.

``risk.intent_ledger`` reads the gate's own records: an intent is *in flight* while it is pending (sent, no answer
yet), and an accepted one counts too when it was let through after the venue reads the rules are judging were
started (the account's gate sequence number is the watermark), because those reads cannot show it yet. Counting
an order twice (it shows on the venue and in the ledger) only ever denies more, never less.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from riskmgr.core.domain import ZERO, Order, OrderSide, Position, PositionSide


@dataclass(frozen=True)
class PendingEntry:
    """An entry that may still fill: a resting non-reduce-only order, or an intent in flight."""

    symbol: str
    side: PositionSide
    qty: Decimal
    price: Decimal  # the limit price (a market intent: the entry price it was judged at)
    stop_loss: Decimal | None
    source: str  # "resting" or "in flight"
    client_id: str | None = None

    @property
    def notional(self) -> Decimal:
        return self.qty * self.price

    @property
    def slot(self) -> tuple[str, PositionSide]:
        return self.symbol, self.side


@dataclass(frozen=True)
class UnpricedOrder:
    """A resting entry order without a price: its exposure cannot be counted (the caps deny new risk)."""

    order_id: str
    symbol: str


def _side(order_side: OrderSide, position_side: PositionSide | None) -> PositionSide:
    if position_side is not None:
        return position_side
    return PositionSide.LONG if order_side is OrderSide.BUY else PositionSide.SHORT


def resting_entries(orders: tuple[Order, ...] | list[Order]) -> tuple[list[PendingEntry], list[UnpricedOrder]]:
    """Return the open non-reduce-only, non-protective orders as pending entries (and those without a price)."""
    entries: list[PendingEntry] = []
    unpriced: list[UnpricedOrder] = []
    for order in orders:
        if not order.status.is_open or order.reduce_only or order.close_position or order.is_protective:
            continue
        left = (order.qty or ZERO) - order.filled_qty
        if left <= 0:
            continue
        price = order.price if order.price is not None else order.trigger_price
        if price is None or price <= 0:
            unpriced.append(UnpricedOrder(order.id, order.symbol))
            continue
        entries.append(PendingEntry(order.symbol, _side(order.side, order.position_side), left, price, None,
                                    "resting", order.client_id))
    return entries, unpriced


def slots(positions: tuple[Position, ...], pending: tuple[PendingEntry, ...]) -> set[tuple[str, PositionSide]]:
    """Return the distinct (symbol, side) positions there are or would be if every pending entry filled."""
    return {(p.symbol, p.side) for p in positions} | {e.slot for e in pending}


def to_decimal(value: object) -> Decimal | None:
    """Return a finite Decimal from a recorded figure, or None."""
    if value is None:
        return None
    try:
        out = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return out if out.is_finite() else None


def entry_from_request(client_id: str, req: dict[str, Any]) -> PendingEntry | None:
    """Return the pending entry an intent's recorded request stands for (None: it records no usable size)."""
    qty = to_decimal(req.get("qty"))
    price = to_decimal(req.get("price")) or to_decimal(req.get("exposure_price"))
    if qty is None or price is None or qty <= 0 or price <= 0:
        return None
    side = PositionSide.LONG if req.get("side") == OrderSide.BUY.value else PositionSide.SHORT
    return PendingEntry(str(req.get("symbol")), side, qty, price, to_decimal(req.get("stop_loss")), "in flight",
                        client_id)


def merge(resting: list[PendingEntry], in_flight: list[PendingEntry]) -> tuple[PendingEntry, ...]:
    """Return resting entries plus the in-flight ones not already seen resting (matched by client id)."""
    seen = {e.client_id for e in resting if e.client_id}
    return (*resting, *(e for e in in_flight if e.client_id not in seen))
