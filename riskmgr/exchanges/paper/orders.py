"""Order entry on the paper exchange: contract-spec checks, margin checks, fills at once or resting orders.

Funds: an order that opens exposure needs its initial margin (notional / leverage) plus its fee within the
available balance. A resting limit order holds that amount (with the taker fee, since it cannot know it will be a
maker) until it fills or is cancelled. Orders that only reduce a position never need funds, and reduce-only
orders skip the minimum quantity and notional checks so that a position can always be closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from riskmgr.core.domain import (
    MarginMode,
    MarketSpec,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    PositionSide,
    Ticker,
)
from riskmgr.core.errors import DuplicateClientIdError, InsufficientFundsError, InvalidOrderError, NotFoundError
from riskmgr.exchanges import fills as fm
from riskmgr.exchanges.paper.ledger import Ledger, fmt
from riskmgr.exchanges.paper.matching import attach_protection
from riskmgr.exchanges.paper.models import PaperOrder, money

MAX_CLIENT_ID = 60  # leaves room for the "-sl" / "-tp" suffix of attached triggers in a 64-character column


def place(ledger: Ledger, request: OrderRequest, ticker: Ticker, marks: Mapping[str, Decimal]) -> PaperOrder:
    """Check and place a market or limit order: fill it at once if it can trade, else let it rest."""
    spec = ledger.spec(request.symbol)
    if request.type not in (OrderType.MARKET, OrderType.LIMIT):
        raise InvalidOrderError(
            f"place_order takes market and limit orders, not {request.type.value}; "
            "use place_position_protection for stop-loss and take-profit"
        )
    check_client_id(ledger, request.client_id)
    check_spec(request, spec, ticker.last)
    # a reduce-only order opens nothing, so a leverage it carries must not block the close
    if not request.reduce_only and (request.leverage is not None or request.margin_mode is not None):
        change_settings(ledger, request.symbol, request.leverage, request.margin_mode)
    qty = _reduce_only_qty(ledger, request) if request.reduce_only else request.qty
    reference = request.price if request.type is OrderType.LIMIT and request.price is not None else ticker.last
    _check_attached(request, spec, reference)
    if request.type is OrderType.MARKET:
        price = fm.slipped_price(ticker.last, request.side, ledger.model.slippage_bps, spec.price_tick)
        return _fill_now(ledger, request, qty, price, marks)
    limit = _limit_price(request)
    if fm.is_marketable(request.side, limit, ticker.last):
        price = fm.marketable_limit_price(request.side, limit, ticker.last, ledger.model.slippage_bps, spec.price_tick)
        return _fill_now(ledger, request, qty, price, marks)
    return _rest(ledger, request, qty, limit, marks)


def check_client_id(ledger: Ledger, client_id: str | None) -> None:
    """Refuse a client id that is malformed or already used on this account."""
    if client_id is None:
        return
    if not 1 <= len(client_id) <= MAX_CLIENT_ID:
        raise InvalidOrderError(f"client id {client_id!r} must have 1–{MAX_CLIENT_ID} characters")
    existing = ledger.order_by_client_id(client_id)
    if existing is not None:
        raise DuplicateClientIdError(f"client id {client_id!r} is already used by order {existing.id}")


def check_spec(request: OrderRequest, spec: MarketSpec, last: Decimal) -> None:
    """Enforce the contract spec: quantity step and minimum, price tick, minimum notional."""
    qty = request.qty
    if not qty.is_finite() or qty <= 0:
        raise InvalidOrderError(f"qty {qty} must be a number > 0")
    if not fm.is_multiple(qty, spec.qty_step):
        raise InvalidOrderError(
            f"qty {fmt(qty)} is not a multiple of the qty step {fmt(spec.qty_step)} for {spec.symbol}"
        )
    if not request.reduce_only and qty < spec.min_qty:
        raise InvalidOrderError(f"qty {fmt(qty)} is below the minimum qty {fmt(spec.min_qty)} for {spec.symbol}")
    price = last
    if request.type is OrderType.LIMIT:
        price = _limit_price(request)
        check_tick("price", price, spec)
    notional = qty * price
    if not request.reduce_only and notional < spec.min_notional:
        raise InvalidOrderError(
            f"notional {fmt(notional)} USDT (qty {fmt(qty)} x price {fmt(price)}) is below the minimum notional "
            f"{fmt(spec.min_notional)} USDT for {spec.symbol}"
        )


def check_tick(name: str, price: Decimal, spec: MarketSpec) -> None:
    """Refuse a price that is not positive or not on the tick."""
    if not price.is_finite() or price <= 0:
        raise InvalidOrderError(f"{name} {price} must be a number > 0")
    if not fm.is_multiple(price, spec.price_tick):
        raise InvalidOrderError(
            f"{name} {fmt(price)} is not a multiple of the price tick {fmt(spec.price_tick)} for {spec.symbol}"
        )


def _limit_price(request: OrderRequest) -> Decimal:
    if request.price is None:
        raise InvalidOrderError(f"a limit order on {request.symbol} needs a price")
    return request.price


def _reduce_only_qty(ledger: Ledger, request: OrderRequest) -> Decimal:
    """Clip a reduce-only quantity to the position; refuse one that would open or add."""
    position = ledger.position(request.symbol)
    if position is None:
        raise InvalidOrderError(f"reduce-only {request.side.value} on {request.symbol}: there is no position to reduce")
    if PositionSide(position.side).close_order_side is not request.side:
        raise InvalidOrderError(
            f"reduce-only {request.side.value} on {request.symbol} would increase the {position.side} position"
        )
    return min(request.qty, position.size)


def _check_attached(request: OrderRequest, spec: MarketSpec, reference: Decimal) -> None:
    """Check a stop-loss / take-profit attached to an entry: on the tick and on the right side of the entry."""
    if request.stop_loss is None and request.take_profit is None:
        return
    if request.reduce_only:
        raise InvalidOrderError("a stop-loss or take-profit can only be attached to an order that opens a position")
    side = PositionSide.LONG if request.side is OrderSide.BUY else PositionSide.SHORT
    if request.stop_loss is not None:
        check_trigger_side(OrderType.STOP_MARKET, side, request.stop_loss, reference, spec, "entry price")
    if request.take_profit is not None:
        check_trigger_side(OrderType.TAKE_PROFIT_MARKET, side, request.take_profit, reference, spec, "entry price")


def check_trigger_side(
    kind: OrderType, side: PositionSide, level: Decimal, reference: Decimal, spec: MarketSpec, what: str
) -> None:
    """Refuse a stop on the profit side or a target on the loss side of ``reference`` (it would fire at once)."""
    name = "stop-loss" if kind is OrderType.STOP_MARKET else "take-profit"
    check_tick(name, level, spec)
    below = (kind is OrderType.STOP_MARKET) == (side is PositionSide.LONG)
    if below and level >= reference:
        raise InvalidOrderError(
            f"{name} {fmt(level)} for a {side.value} on {spec.symbol} must be below the {what} {fmt(reference)}"
        )
    if not below and level <= reference:
        raise InvalidOrderError(
            f"{name} {fmt(level)} for a {side.value} on {spec.symbol} must be above the {what} {fmt(reference)}"
        )


def _opening_qty(ledger: Ledger, symbol: str, side: OrderSide, qty: Decimal) -> Decimal:
    """Return the part of ``qty`` that opens exposure (what is left after closing an opposite position)."""
    position = ledger.position(symbol)
    if position is not None and PositionSide(position.side).close_order_side is side:
        return max(qty - position.size, Decimal(0))
    return qty


def _check_funds(ledger: Ledger, symbol: str, need: Decimal, margin: Decimal, fee: Decimal,
                 marks: Mapping[str, Decimal]) -> None:
    available = ledger.available(marks)
    if need > available:
        raise InsufficientFundsError(
            f"order on {symbol} needs {fmt(money(need))} USDT (initial margin {fmt(money(margin))} + fee "
            f"{fmt(money(fee))}) but only {fmt(money(available))} USDT is available"
        )


def _fill_now(
    ledger: Ledger, request: OrderRequest, qty: Decimal, price: Decimal, marks: Mapping[str, Decimal]
) -> PaperOrder:
    opening = _opening_qty(ledger, request.symbol, request.side, qty)
    if opening > 0:
        margin = fm.initial_margin(price, opening, ledger.leverage_for(request.symbol))
        fee = fm.fee_for(price, qty, ledger.model.taker_fee)
        _check_funds(ledger, request.symbol, margin + fee, margin, fee, marks)
    # inserted filled, so that closing the position, which cancels its reduce-only orders, leaves it alone
    order = _new_order(ledger, request, qty, status=OrderStatus.FILLED.value)
    fee_paid = ledger.execute(
        order, request.side, qty, price, symbol=request.symbol, maker=False, reason=fm.FillReason.ORDER, ts=ledger.now
    )
    ledger.record_order_fill(order, qty, price, fee_paid)
    attach_protection(ledger, order)
    return order


def _rest(
    ledger: Ledger, request: OrderRequest, qty: Decimal, limit: Decimal, marks: Mapping[str, Decimal]
) -> PaperOrder:
    reserve = Decimal(0)
    if not request.reduce_only:
        margin = fm.initial_margin(limit, qty, ledger.leverage_for(request.symbol))
        fee = fm.fee_for(limit, qty, ledger.model.taker_fee)
        reserve = money(margin + fee)
        _check_funds(ledger, request.symbol, reserve, margin, fee, marks)
    order = _new_order(ledger, request, qty)
    order.reserved_margin = reserve
    return order


def _new_order(
    ledger: Ledger, request: OrderRequest, qty: Decimal, *, flush: bool = True, **extra: object
) -> PaperOrder:
    return ledger.new_order(
        flush=flush,
        symbol=request.symbol,
        side=request.side.value,
        type=request.type.value,
        qty=qty,
        price=request.price if request.type is OrderType.LIMIT else None,
        reduce_only=request.reduce_only,
        client_id=request.client_id,
        attached_stop_loss=request.stop_loss,
        attached_take_profit=request.take_profit,
        **extra,
    )


def _protection_levels(
    ledger: Ledger, symbol: str, side: PositionSide, levels: Mapping[OrderType, Decimal | None]
) -> tuple[MarketSpec, list[tuple[OrderType, Decimal]]]:
    """Return the market spec and the levels given; refuse none given, or no such position to protect."""
    spec = ledger.spec(symbol)
    wanted = [(kind, level) for kind, level in levels.items() if level is not None]
    if not wanted:
        raise InvalidOrderError(f"give a stop-loss, a take-profit or both for the {side.value} on {symbol}")
    position = ledger.position(symbol)
    if position is None or position.side != side.value:
        raise NotFoundError(f"there is no {side.value} position on {symbol} to protect")
    return spec, wanted


def place_protection(
    ledger: Ledger,
    symbol: str,
    side: PositionSide,
    levels: Mapping[OrderType, Decimal | None],
    client_id: str | None,
    mark: Decimal,
) -> list[PaperOrder]:
    """Place position-level stop-loss / take-profit triggers (client ids get "-sl" / "-tp" appended)."""
    spec, wanted = _protection_levels(ledger, symbol, side, levels)
    ids: dict[OrderType, str | None] = {}
    for kind, level in wanted:
        check_trigger_side(kind, side, level, mark, spec, "mark price")
        existing = ledger.trigger(symbol, kind)
        if existing is not None:
            raise InvalidOrderError(
                f"the {side.value} on {symbol} already has a {kind.value} trigger (order {existing.id} at "
                f"{fmt(existing.trigger_price or Decimal(0))}); cancel it first"
            )
        suffix = "sl" if kind is OrderType.STOP_MARKET else "tp"
        ids[kind] = f"{client_id}-{suffix}" if client_id is not None else None
        check_client_id(ledger, ids[kind])
    return [ledger.new_trigger(symbol, side, kind, level, ids[kind]) for kind, level in wanted]


def replace_protection(
    ledger: Ledger,
    symbol: str,
    side: PositionSide,
    levels: Mapping[OrderType, Decimal | None],
    client_id: str | None,
    mark: Decimal,
) -> list[PaperOrder]:
    """Swap the position's stop (and target, when given) triggers for new ones, in the caller's one transaction."""
    spec, wanted = _protection_levels(ledger, symbol, side, levels)
    for kind, level in wanted:  # every check before any change: a refusal leaves the old triggers resting
        check_trigger_side(kind, side, level, mark, spec, "mark price")
        check_client_id(ledger, f"{client_id}-{'sl' if kind is OrderType.STOP_MARKET else 'tp'}" if client_id else None)
    for kind, _level in wanted:
        existing = ledger.trigger(symbol, kind)
        if existing is not None:
            ledger.cancel(existing)
    return place_protection(ledger, symbol, side, levels, client_id, mark)


def close(ledger: Ledger, symbol: str, side: PositionSide, client_id: str | None, ticker: Ticker) -> PaperOrder:
    """Close a whole position with a reduce-only market order."""
    spec = ledger.spec(symbol)
    position = ledger.position(symbol)
    if position is None or position.side != side.value:
        raise NotFoundError(f"there is no {side.value} position on {symbol} to close")
    check_client_id(ledger, client_id)
    order_side = side.close_order_side
    price = fm.slipped_price(ticker.last, order_side, ledger.model.slippage_bps, spec.price_tick)
    request = OrderRequest(symbol, order_side, OrderType.MARKET, position.size, reduce_only=True, client_id=client_id)
    # inserted filled (so closing the position leaves it alone) and complete: one INSERT, no UPDATE after it
    order = _new_order(ledger, request, position.size, flush=False, position_side=side.value,
                       status=OrderStatus.FILLED.value)
    fee = ledger.execute(
        order, order_side, position.size, price, symbol=symbol, maker=False, reason=fm.FillReason.ORDER, ts=ledger.now
    )
    ledger.record_order_fill(order, request.qty, price, fee)
    ledger.session.flush()  # the order's id, for the caller
    return order


def change_settings(ledger: Ledger, symbol: str, leverage: int | None, margin_mode: MarginMode | None) -> None:
    """Set leverage (1..max) and/or margin mode; neither may change under an open position."""
    spec = ledger.spec(symbol)
    current_leverage, current_mode = ledger.setting(symbol)
    position = ledger.position(symbol)
    if margin_mode is not None:
        try:
            margin_mode = MarginMode(margin_mode)
        except ValueError:
            raise InvalidOrderError(f"margin mode {margin_mode!r} is not one of isolated, cross") from None
    if leverage is not None:
        if isinstance(leverage, bool) or not isinstance(leverage, int) or not 1 <= leverage <= spec.max_leverage:
            raise InvalidOrderError(f"leverage {leverage} is out of range for {symbol}; allowed 1–{spec.max_leverage}")
        if position is not None and leverage != position.leverage:
            raise InvalidOrderError(
                f"cannot change the leverage of {symbol} from {position.leverage}x to {leverage}x "
                "while a position is open"
            )
    if margin_mode is not None and margin_mode is not current_mode and (position or ledger.open_orders(symbol)):
        raise InvalidOrderError(
            f"cannot change the margin mode of {symbol} from {current_mode.value} to {margin_mode.value} "
            "while a position or an order is open"
        )
    ledger.save_setting(symbol, leverage or current_leverage, margin_mode or current_mode)
