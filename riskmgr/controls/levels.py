"""Pure checks of a new stop or target for an open position: which side of the mark, widening, break-even."""

from __future__ import annotations

from decimal import Decimal

from riskmgr.core.domain import Position, PositionSide
from riskmgr.core.errors import ValidationError
from riskmgr.risk.costs import TradingCosts
from riskmgr.risk.sizing import fmt_number, round_to_tick


def check_stop_side(position: Position, stop: Decimal, field: str = "stop_loss") -> None:
    """Raise unless ``stop`` is on the loss side of the mark (long: below it; short: above it)."""
    mark, long = position.mark_price, position.side is PositionSide.LONG
    if (stop >= mark) if long else (stop <= mark):
        where = f"above 0 and below the mark {fmt_number(mark)}" if long else f"above the mark {fmt_number(mark)}"
        raise ValidationError(field, f"{fmt_number(stop)} is on the wrong side of the mark for a {position.side.value} "
                                     f"(it would trigger at once); allowed {where}")


def check_target_side(position: Position, target: Decimal) -> None:
    """Raise unless ``target`` is on the profit side of the mark (long: above it; short: below it)."""
    mark, long = position.mark_price, position.side is PositionSide.LONG
    if (target <= mark) if long else (target >= mark):
        where = f"above the mark {fmt_number(mark)}" if long else f"above 0 and below the mark {fmt_number(mark)}"
        raise ValidationError("take_profit", f"{fmt_number(target)} is on the wrong side of the mark for a "
                                             f"{position.side.value}; allowed {where}")


def widens(side: PositionSide, old: Decimal | None, new: Decimal) -> bool:
    """Return whether moving the stop from ``old`` to ``new`` takes more risk (a stop where there was none: no)."""
    if old is None:
        return False
    return new < old if side is PositionSide.LONG else new > old


def round_stop(side: PositionSide, stop: Decimal, tick: Decimal) -> Decimal:
    """Round a stop to the tick on the safe side (long: up, towards the mark; short: down)."""
    return round_to_tick(stop, tick, up=side is PositionSide.LONG)


def round_target(side: PositionSide, target: Decimal, tick: Decimal) -> Decimal:
    """Round a target to the tick on the near side (long: down; short: up), so it is reached no later."""
    return round_to_tick(target, tick, up=side is not PositionSide.LONG)


def break_even_stop(position: Position, costs: TradingCosts, tick: Decimal) -> tuple[Decimal, Decimal]:
    """Return (stop, costs per unit): the stop at which closing loses nothing after fees and slippage.

    The entry price is the fill price; the costs counted are a whole round trip (both fees, both slippages), which
    over-counts the entry's slippage already in the fill: the stop errs on the profitable side. Rounded to the tick
    away from the entry, and checked against the mark (a break-even stop the mark has not passed would fire at once).
    """
    entry, sign = position.entry_price, position.side.sign
    per_unit = costs.round_trip_per_unit(entry, entry)
    per_unit = costs.round_trip_per_unit(entry, entry + sign * per_unit)  # the exit fee at the stop's own price
    stop = round_stop(position.side, entry + sign * per_unit, tick)
    long = position.side is PositionSide.LONG
    if (stop >= position.mark_price) if long else (stop <= position.mark_price):
        raise ValidationError(
            "break_even",
            f"the break-even stop {fmt_number(stop)} (entry {fmt_number(entry)} {'+' if long else '-'} costs "
            f"{fmt_number(per_unit.quantize(Decimal('1e-8')))} per unit) is not {'below' if long else 'above'} the "
            f"mark {fmt_number(position.mark_price)}: the {position.side.value} is not far enough in profit yet",
        )
    return stop, per_unit
