"""Matching: replay the market's price path and fire limit fills, triggers and liquidations in time order.

Bars of every symbol with a position or an open order are merged by time. Within one bar of one symbol the order
is that of ``fills.py``: a take-profit the bar opens beyond fills at the open first; then the conservative
order, liquidation or stop-loss, then resting limits, then take-profit. A bar
that cannot reach any level (stop, target, limit, liquidation) is skipped without touching the books; the levels
are worked out again after every fill, since a fill moves the wallet and so the cross liquidation price. Funding
is charged at each funding instant on the path, before the bars that open at or after it (``paper_funding``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Protocol

from riskmgr.core.clock import from_ms
from riskmgr.core.domain import ZERO, MarginMode, MarketSpec, OrderSide, OrderStatus, OrderType, PositionSide, Ticker
from riskmgr.core.errors import MalformedResponseError
from riskmgr.exchanges import fills as fm
from riskmgr.exchanges.paper import funding as paper_funding
from riskmgr.exchanges.paper.ledger import OPEN_STATUSES, Ledger
from riskmgr.exchanges.paper.liquidation import liquidate
from riskmgr.exchanges.paper.models import PaperOrder
from riskmgr.market.base import CandleArrays


class PathMarket(Protocol):
    """What matching needs from the market: prices now and the price path between two times."""

    def specs(self) -> dict[str, MarketSpec]: ...

    def ticker(self, symbol: str, at: datetime | None = None) -> Ticker: ...

    def path(self, symbol: str, start: datetime, end: datetime) -> CandleArrays: ...


@dataclass(frozen=True)
class _Gate:
    """The levels of one symbol: a bar acts only if its low reaches ``low`` or its high reaches ``high``."""

    low: Decimal | None
    high: Decimal | None
    always: bool = False

    def may_act(self, bar: fm.Bar) -> bool:
        if self.always:
            return True
        return (self.low is not None and bar.low <= self.low) or (self.high is not None and bar.high >= self.high)


def replay(
    ledger: Ledger, market: PathMarket, start: datetime, end: datetime, funding_rate: Decimal = ZERO
) -> None:
    """Fire everything the market's path over (start, end] reaches, funding included, in time order."""
    symbols = sorted({p.symbol for p in ledger.positions()} | {o.symbol for o in ledger.open_orders()})
    if not symbols:
        return
    paths = {symbol: path_bars(symbol, market.path(symbol, start, end)) for symbol in symbols}
    instants = fm.funding_instants(start, end) if funding_rate != ZERO else []
    if not instants and not any(paths.values()):
        return  # no bar and no funding instant since the last replay (calls a moment apart): nothing can act
    # every symbol starts at its price when the last replay ended: no bar of one symbol sees another's future
    marks = {symbol: market.ticker(symbol, at=start).mark for symbol in symbols}
    gates: dict[str, _Gate] = {}
    for symbol, bar in _in_time_order(paths):
        while instants and instants[0] <= bar.ts:
            # funding moves the wallet, and so the cross liquidation prices
            if paper_funding.charge(ledger, marks, instants.pop(0), funding_rate):
                gates.clear()
        gate = gates.get(symbol)
        if gate is None:
            gate = gates[symbol] = _gate(ledger, symbol, marks)
        if gate.may_act(bar) and match_bar(ledger, symbol, bar, marks):
            gates.clear()
        marks[symbol] = bar.close
    for instant in instants:
        paper_funding.charge(ledger, marks, instant, funding_rate)


def path_bars(symbol: str, arrays: CandleArrays) -> list[fm.Bar]:
    """Convert the market's float bars to Decimal bars; a malformed bar is a malformed response."""
    bars = []
    columns = (arrays.ts, arrays.open, arrays.high, arrays.low, arrays.close)
    for ts, o, h, lo, c in zip(*(column.tolist() for column in columns), strict=True):
        try:
            bars.append(fm.Bar(from_ms(int(ts)), *(Decimal(repr(float(x))) for x in (o, h, lo, c))))
        except (ValueError, InvalidOperation) as exc:
            raise MalformedResponseError(f"price path of {symbol}: {exc}") from exc
    return bars


def _in_time_order(paths: Mapping[str, list[fm.Bar]]) -> Iterator[tuple[str, fm.Bar]]:
    merged = sorted(((bar.ts, symbol, i) for symbol, bars in paths.items() for i, bar in enumerate(bars)))
    for _, symbol, i in merged:
        yield symbol, paths[symbol][i]


def _gate(ledger: Ledger, symbol: str, marks: Mapping[str, Decimal]) -> _Gate:
    lows: list[Decimal] = []
    highs: list[Decimal] = []
    position = ledger.position(symbol)
    always = False
    if position is not None:
        liquidation = ledger.liquidation_price(position, marks)
        if liquidation is not None:
            (lows if position.side == PositionSide.LONG.value else highs).append(liquidation)
        cross = [p for p in ledger.positions() if p.margin_mode == MarginMode.CROSS.value]
        # with two cross positions each one's liquidation price moves with the other's mark: check every bar
        always = position.margin_mode == MarginMode.CROSS.value and len(cross) > 1
    for order in ledger.open_orders(symbol):
        if order.type == OrderType.LIMIT.value and order.price is not None:
            (lows if order.side == OrderSide.BUY.value else highs).append(order.price)
        elif order.trigger_price is not None:
            stop = order.type == OrderType.STOP_MARKET.value
            falling = stop == (order.position_side == PositionSide.LONG.value)
            (lows if falling else highs).append(order.trigger_price)
    return _Gate(max(lows) if lows else None, min(highs) if highs else None, always)


def match_bar(ledger: Ledger, symbol: str, bar: fm.Bar, marks: Mapping[str, Decimal]) -> bool:
    """Fire what one bar of ``symbol`` reaches, conservative order first; tell whether anything happened."""
    position = ledger.position(symbol)
    target_order = ledger.trigger(symbol, OrderType.TAKE_PROFIT_MARKET) if position is not None else None
    # the open comes first: a bar that opens beyond the target fills it there, before the stop can be reached
    gapped = position is not None and target_order is not None and fm.target_gapped(
        PositionSide(position.side), bar, target_order.trigger_price)
    first = _take_profit(ledger, symbol, bar) if gapped else False
    stopped = _stop_or_liquidation(ledger, symbol, bar, marks)
    limits = _resting_limits(ledger, symbol, bar)
    target = _take_profit(ledger, symbol, bar)
    return first or stopped or limits or target


def _stop_or_liquidation(ledger: Ledger, symbol: str, bar: fm.Bar, marks: Mapping[str, Decimal]) -> bool:
    position = ledger.position(symbol)
    if position is None:
        return False
    stop = ledger.trigger(symbol, OrderType.STOP_MARKET)
    exit_ = fm.adverse_exit(
        PositionSide(position.side),
        bar,
        stop=stop.trigger_price if stop is not None else None,
        liquidation=ledger.liquidation_price(position, marks),
    )
    if exit_ is None:
        return False
    if exit_.kind is fm.ExitKind.LIQUIDATION or stop is None:
        liquidate(ledger, position, exit_.price, marks, bar.ts)
    else:
        fire_trigger(ledger, stop, exit_, bar.ts)
    return True


def _resting_limits(ledger: Ledger, symbol: str, bar: fm.Bar) -> bool:
    acted = False
    for order in ledger.open_orders(symbol):
        # an earlier fill in this loop may have closed the position and cancelled this order
        if order.type != OrderType.LIMIT.value or order.status not in OPEN_STATUSES:
            continue
        price = fm.resting_limit_fill_price(OrderSide(order.side), _required(order.price, order, "price"), bar)
        if price is not None:
            fill_resting_limit(ledger, order, price, bar.ts)
            acted = True
    return acted


def _take_profit(ledger: Ledger, symbol: str, bar: fm.Bar) -> bool:
    position = ledger.position(symbol)
    target = ledger.trigger(symbol, OrderType.TAKE_PROFIT_MARKET) if position is not None else None
    if position is None or target is None:
        return False
    exit_ = fm.take_profit_exit(PositionSide(position.side), bar, target.trigger_price)
    if exit_ is None:
        return False
    fire_trigger(ledger, target, exit_, bar.ts)
    return True


def fire_trigger(ledger: Ledger, order: PaperOrder, exit_: fm.Exit, ts: datetime) -> None:
    """Close the whole position with a market fill at the trigger (or the gap's open), with slippage."""
    position = ledger.position(order.symbol)
    if position is None:
        ledger.cancel(order)
        return
    side = PositionSide(position.side)
    price = fm.exit_fill_price(exit_, side, ledger.model.slippage_bps, ledger.spec(order.symbol).price_tick)
    qty = position.size
    reason = fm.FillReason.STOP_LOSS if order.type == OrderType.STOP_MARKET.value else fm.FillReason.TAKE_PROFIT
    # marked filled first so that closing the position, which cancels its triggers, leaves this one alone
    order.status = OrderStatus.FILLED.value
    fee = ledger.execute(order, side.close_order_side, qty, price, symbol=order.symbol, maker=False, reason=reason,
                         ts=ts)
    ledger.record_order_fill(order, qty, price, fee)


def fill_resting_limit(ledger: Ledger, order: PaperOrder, price: Decimal, ts: datetime) -> None:
    """Fill a resting limit order as maker; a reduce-only one is clipped to the position or cancelled."""
    side = OrderSide(order.side)
    remaining = _required(order.qty, order, "qty") - order.filled_qty
    qty = remaining
    if order.reduce_only:
        position = ledger.position(order.symbol)
        if position is None or PositionSide(position.side).close_order_side is not side:
            ledger.cancel(order)
            return
        qty = min(remaining, position.size)
    # a reduce-only remainder beyond the position is cancelled, as exchanges do
    order.status = (OrderStatus.FILLED if qty == remaining else OrderStatus.CANCELED).value
    order.reserved_margin = ZERO
    fee = ledger.execute(order, side, qty, price, symbol=order.symbol, maker=True, reason=fm.FillReason.ORDER, ts=ts)
    ledger.record_order_fill(order, qty, price, fee)
    attach_protection(ledger, order)


def attach_protection(ledger: Ledger, order: PaperOrder) -> None:
    """Place the stop-loss / take-profit an entry order carried; after an add they replace the position's ones.

    One stop (and target) covers the whole position at the latest entry's levels, which is what the gate judged
    the add at (the whole position's loss at the new stop), as the market-entry path does with a replacement.
    """
    if order.attached_stop_loss is None and order.attached_take_profit is None:
        return
    position = ledger.position(order.symbol)
    if position is None or PositionSide(position.side).entry_order_side.value != order.side:
        return
    side = PositionSide(position.side)
    legs = ((OrderType.STOP_MARKET, order.attached_stop_loss, "sl"),
            (OrderType.TAKE_PROFIT_MARKET, order.attached_take_profit, "tp"))
    for kind, level, suffix in legs:
        if level is None:
            continue
        existing = ledger.trigger(order.symbol, kind)
        if existing is not None:
            ledger.cancel(existing)
        client_id = f"{order.client_id}-{suffix}" if order.client_id else None
        if client_id is not None and ledger.order_by_client_id(client_id) is not None:
            client_id = None
        ledger.new_trigger(order.symbol, side, kind, level, client_id)


def _required(value: Decimal | None, order: PaperOrder, field: str) -> Decimal:
    # placement checks that every limit order has these; a row without one was written by something else
    if value is None:
        raise MalformedResponseError(f"paper order {order.id} is a limit order without a {field}")
    return value
