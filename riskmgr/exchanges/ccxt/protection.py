"""Replace a position's stop-loss / take-profit on Bitget and Binance (after an add: one stop for the whole size).

Neither venue keeps two position-level stops on one position side (Binance refuses a second closePosition stop
with -4130; Bitget keeps one pos_loss per position), so the old protective orders are cancelled first and the
new ones placed. Should the placement be refused, the old levels are placed again (as position-level orders,
which cover at least what they covered) and the refusal is raised, saying whether the old protection is back.
The position itself is never touched.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import TYPE_CHECKING

from riskmgr.core.domain import Order, PositionSide
from riskmgr.core.errors import ExchangeError, InvalidOrderError

if TYPE_CHECKING:
    from riskmgr.exchanges.ccxt.adapter import CcxtAdapter, OpenOrder

log = logging.getLogger(__name__)


def guards(order: Order, symbol: str, side: PositionSide) -> bool:
    """Return whether ``order`` is a closing trigger (stop or target) of the ``side`` position on ``symbol``."""
    if order.symbol != symbol or not order.is_protective or not (order.reduce_only or order.close_position):
        return False
    if order.position_side is not None and order.position_side is not side:
        return False
    return order.side is side.close_order_side


def replace_protection(adapter: CcxtAdapter, symbol: str, side: PositionSide, stop_loss: Decimal | None,
                       take_profit: Decimal | None, client_id: str | None) -> list[Order]:
    """Cancel the side's stops (and targets, when a new one is given), place the new levels; restore on refusal."""
    if stop_loss is None and take_profit is None:
        raise InvalidOrderError("stop_loss/take_profit: give at least one price", account=adapter.account,
                                operation="replace_position_protection")
    adapter.held(symbol, side)  # NotFoundError before anything is cancelled
    listed = [o for o in adapter.open_orders_of(symbol) if guards(o.order, symbol, side)]
    doomed = [o for o in listed if (o.order.is_stop_loss and stop_loss is not None)
              or (o.order.is_take_profit and take_profit is not None)]
    for item in doomed:
        adapter.cancel_listed(item)
    try:
        return adapter.place_position_protection(symbol, side, stop_loss=stop_loss, take_profit=take_profit,
                                                 client_id=client_id)
    except ExchangeError as exc:
        outcome = _restore(adapter, symbol, side, doomed, client_id)
        kind = type(exc) if type(exc).__init__ is ExchangeError.__init__ else ExchangeError
        raise kind(f"new protection refused ({exc}); {outcome}", account=adapter.account,
                   operation="replace_position_protection", code=exc.code) from exc


def _restore(adapter: CcxtAdapter, symbol: str, side: PositionSide, cancelled: list[OpenOrder],
             client_id: str | None) -> str:
    """Place the cancelled levels again; return what became of the old protection, for the error message."""
    stop = _nearest([o.order for o in cancelled if o.order.is_stop_loss], side, stop=True)
    target = _nearest([o.order for o in cancelled if o.order.is_take_profit], side, stop=False)
    if stop is None and target is None:
        return "nothing had been cancelled"
    try:
        adapter.place_position_protection(symbol, side, stop_loss=stop, take_profit=target,
                                          client_id=f"{client_id}r" if client_id else None)
    except ExchangeError as again:
        log.error("%s %s %s: old protection NOT restored: %s", adapter.account, side.value, symbol, again)
        return f"the old protection (stop {stop}, target {target}) could NOT be restored ({again}): UNPROTECTED"
    return f"the old protection (stop {stop}, target {target}) was restored"


def _nearest(orders: list[Order], side: PositionSide, *, stop: bool) -> Decimal | None:
    """Return the tightest stop (or nearest target) trigger among ``orders``."""
    prices = [o.trigger_price for o in orders if o.trigger_price is not None]
    if not prices:
        return None
    tighter_is_higher = (side is PositionSide.LONG) == stop
    return max(prices) if tighter_is_higher else min(prices)
