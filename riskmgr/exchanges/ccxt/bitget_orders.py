"""Bitget v2 "mix" order rows read into riskmgr Orders: plain orders, plan (trigger and TP/SL) orders, closes.

Quirks handled here (docs/exchanges.md §2):
- In hedge mode ``side`` names the position's direction, not the trade's (close long = buy + tradeSide close).
- TP/SL orders (the profit_loss list) always close; their ``side`` follows place-tpsl-order's holdSide.
- A closing normal_plan trigger is told apart as a stop or a target by where it sits against the mark price.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from riskmgr.core.domain import ZERO, Order, OrderSide, OrderStatus, OrderType, PositionSide
from riskmgr.core.errors import MalformedResponseError
from riskmgr.exchanges.ccxt.adapter import OpenOrder
from riskmgr.exchanges.ccxt.fields import dec, open_status, opt_dec, opt_time, pick, text

PLAN_LISTS = ("normal_plan", "profit_loss", "track_plan")
_STOP_PLANS = frozenset({"pos_loss", "loss_plan", "moving_plan", "track_plan"})
_PROFIT_PLANS = frozenset({"pos_profit", "profit_plan"})
_POSITION_PLANS = frozenset({"pos_loss", "pos_profit"})  # follow the whole position: no size of their own
_SIDES = {"buy": OrderSide.BUY, "sell": OrderSide.SELL}
_PLAIN_TYPES = {"limit": OrderType.LIMIT, "market": OrderType.MARKET}
_HOLD = {"buy": "long", "sell": "short"}

SymbolOf = Callable[[str, str], str]  # (native id, where it was read) -> unified symbol
MarkOf = Callable[[str], Decimal]  # native id -> mark price


def plain_order(row: dict[str, Any], symbol_of: SymbolOf) -> Order:
    """Return one orders-pending row as an Order."""
    where = f"open order {row.get('orderId')}"
    side, closing = trade_side(row, where)
    kind = pick(row, "orderType", where, _PLAIN_TYPES)
    average = opt_dec(row, "priceAvg", where)
    return Order(
        id=text(row, "orderId", where), symbol=symbol_of(text(row, "symbol", where), where),
        side=side, type=kind, status=open_status(row.get("status")), qty=dec(row, "size", where),
        price=dec(row, "price", where) if kind is OrderType.LIMIT else None, reduce_only=closing,
        client_id=row.get("clientOid") or None, filled_qty=opt_dec(row, "baseVolume", where) or ZERO,
        avg_fill_price=average or None, created_at=opt_time(row, "cTime", where),
        position_side=closed_side(row, side) if closing else None,
    )


def plan_order(row: dict[str, Any], plan_list: str, symbol_of: SymbolOf, mark_of: MarkOf) -> OpenOrder:
    """Return one orders-plan-pending row (from the ``plan_list`` list) as an Order filed under its plan type."""
    where = f"plan order {row.get('orderId')}"
    plan = text(row, "planType", where)
    native = text(row, "symbol", where)
    trigger = dec(row, "triggerPrice", where)
    held: PositionSide | None
    if plan_list == "profit_loss":
        # TP/SL orders always close; their side follows place-tpsl-order's holdSide (the position's side)
        tpsl = held = _tpsl_side(row, where)
        side, closing = tpsl.close_order_side, True
    else:
        side, closing = trade_side(row, where)
        held = closed_side(row, side) if closing else None
    if plan in _PROFIT_PLANS:
        kind = OrderType.TAKE_PROFIT_MARKET
    elif plan in _STOP_PLANS or (plan == "normal_plan" and not closing):
        kind = OrderType.STOP_MARKET
    elif plan == "normal_plan":
        kind = trigger_kind(side, trigger, mark_of(native))
    else:
        raise MalformedResponseError(f"{where}: unknown planType {plan!r}")
    whole = plan in _POSITION_PLANS
    price = opt_dec(row, "executePrice", where) or opt_dec(row, "price", where)
    order = Order(
        id=text(row, "orderId", where), symbol=symbol_of(native, where), side=side, type=kind,
        status=open_status(row.get("planStatus")), qty=None if whole else dec(row, "size", where),
        price=price or None, trigger_price=trigger, reduce_only=closing, close_position=whole,
        client_id=row.get("clientOid") or None, created_at=opt_time(row, "cTime", where), position_side=held,
    )
    return OpenOrder(order, plan_list, plan)


def _tpsl_side(row: dict[str, Any], where: str) -> PositionSide:
    """Return the position a TP/SL order closes: posSide when given, else its holdSide-style ``side``."""
    held = closed_side(row, None)
    if held is not None:
        return held
    hold = _HOLD.get(str(row.get("side")).lower())
    if hold is None:
        raise MalformedResponseError(f"{where}: neither posSide nor side names the position")
    return PositionSide(hold)


def closing_order(order_id: str, symbol: str, side: PositionSide, size: Decimal) -> Order:
    """Return the market Order that flash-closes a whole position."""
    return Order(id=order_id, symbol=symbol, side=side.close_order_side, type=OrderType.MARKET,
                 status=OrderStatus.NEW, qty=size, reduce_only=True, close_position=True, position_side=side)


def trade_side(row: dict[str, Any], where: str) -> tuple[OrderSide, bool]:
    """Return the order's trade direction and whether it only reduces (hedge-mode closes name the position)."""
    side = pick(row, "side", where, _SIDES)
    hedge_close = row.get("posMode") == "hedge_mode" and str(row.get("tradeSide", "")).lower() == "close"
    closing = hedge_close or row.get("reduceOnly") == "YES"
    return (side.opposite if hedge_close else side), closing


def closed_side(row: dict[str, Any], side: OrderSide | None) -> PositionSide | None:
    """Return the position side a closing order reduces: posSide when explicit, else the trade's opposite."""
    pos_side = str(row.get("posSide", "")).lower()
    if pos_side in ("long", "short"):
        return PositionSide(pos_side)
    if side is None:
        return None
    return PositionSide.LONG if side is OrderSide.SELL else PositionSide.SHORT


def trigger_kind(side: OrderSide, trigger: Decimal, mark: Decimal) -> OrderType:
    """Classify a closing trigger: a sell below the mark (or a buy above it) is a stop, otherwise a target."""
    adverse = trigger <= mark if side is OrderSide.SELL else trigger >= mark
    return OrderType.STOP_MARKET if adverse else OrderType.TAKE_PROFIT_MARKET
