"""The fill model's arithmetic for the engine's fast step, with the run's constants computed once.

``fills.slipped_price`` divides the slippage by 10,000 and checks the tick at every fill, and
``fills.position_exit`` builds a list of candidate ``Exit`` objects and picks one with a keyed ``min`` at every exit.
Here the slippage factors are the same Decimals computed once per run (``ONE + slippage_bps / BPS``, as the fill
model computes them), and the exit is chosen by the same rules written out for one side: the open comes first (a
level the bar opens at or beyond fills at the open, the target before a stop the bar did not open beyond), inside
the bar the adverse level met first wins (the liquidation on a tie), then the target. ``tests/backtest/
test_fastfill.py`` checks both against the fill model on exhaustive small cases, and the engine equals the plain
bar-by-bar loop, which uses only the fill model.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from riskmgr.core.domain import ZERO
from riskmgr.exchanges.fills import BPS, ONE, ExitKind

STOP, TARGET, LIQUIDATION = ExitKind.STOP_LOSS, ExitKind.TAKE_PROFIT, ExitKind.LIQUIDATION


@dataclass(frozen=True, slots=True)
class FillPlan:
    """The slippage factors of a buy and a sell, and the tick they round to."""

    buy: Decimal
    sell: Decimal
    tick: Decimal

    @classmethod
    def of(cls, slippage_bps: Decimal, tick: Decimal) -> FillPlan | None:
        """Return the run's plan (None for a tick the fill model rejects: the full path raises there)."""
        if not tick.is_finite() or tick <= 0:
            return None
        return cls(ONE + slippage_bps / BPS, ONE - slippage_bps / BPS, tick)

    def slipped(self, price: Decimal, buy: bool) -> Decimal:
        """``fills.slipped_price(price, BUY or SELL, slippage_bps, tick)``."""
        tick = self.tick  # the rounding mode by position: a keyword call costs more
        if buy:
            return (price * self.buy / tick).to_integral_value(ROUND_CEILING) * tick
        return (price * self.sell / tick).to_integral_value(ROUND_FLOOR) * tick

    def exit_price(self, kind: ExitKind, price: Decimal, long: bool) -> Decimal:
        """``fills.exit_fill_price``: a stop or target closes with a market order (a long sells), a liquidation
        fills at its price (``slipped(price, not long)`` written out: one call less per exit)."""
        if kind is LIQUIDATION:
            return price
        tick = self.tick
        if long:
            return (price * self.sell / tick).to_integral_value(ROUND_FLOOR) * tick
        return (price * self.buy / tick).to_integral_value(ROUND_CEILING) * tick


def position_exit(long: bool, bar: tuple[Decimal, Decimal, Decimal], stop: Decimal | None,
                  liquidation: Decimal | None, target: Decimal | None) -> tuple[ExitKind, Decimal] | None:
    """``fills.position_exit`` for a valid bar given as (open, high, low): what ends the position, and where."""
    o, high, low = bar
    adverse: tuple[ExitKind, Decimal] | None = None
    best = None  # the distance from the open of the adverse level met first (0: at the open)
    for kind, level in ((LIQUIDATION, liquidation), (STOP, stop)):  # the liquidation first: it wins a tie
        if level is None:
            continue
        if (o <= level) if long else (o >= level):
            distance, price = ZERO, o
        elif (low <= level) if long else (high >= level):
            distance, price = abs(o - level), level
        else:
            continue
        if best is None or distance < best:
            best, adverse = distance, (kind, price)
    gapped = target is not None and ((o >= target) if long else (o <= target))
    if gapped and (adverse is None or adverse[1] != o):  # the bar opened beyond the target, not beyond a stop
        return TARGET, o
    if adverse is not None or target is None:
        return adverse
    if (high >= target) if long else (low <= target):
        return TARGET, target
    return None


def at_or_below(x: float, level: Decimal, level_f: float) -> bool:
    """Tell whether ``price_of(x) <= level``, exactly, building the Decimal only when ``x`` is ``float(level)``.

    Rounding to the nearest float keeps order and ``price_of(x)`` rounds back to ``x``: a float below the level's
    float is the float of a Decimal below the level, one above it of a Decimal above it.
    """
    if x < level_f:
        return True
    if x > level_f:
        return False
    return Decimal(repr(x)) <= level


def at_or_above(x: float, level: Decimal, level_f: float) -> bool:
    """Tell whether ``price_of(x) >= level``, exactly (as ``at_or_below``)."""
    if x > level_f:
        return True
    if x < level_f:
        return False
    return Decimal(repr(x)) >= level


def liquidation_met(long: bool, bar: tuple[float, float, float], liquidation: Decimal | None,
                    liquidation_f: float) -> bool:
    """Tell whether a valid bar given as float (open, high, low) meets the liquidation, exactly (a long's at its low,
    which lies at or below its open; a short's at its high)."""
    if liquidation is None:
        return False
    if long:  # a low above the level's float is clearly not at or below it (``at_or_below``'s first test)
        return not bar[2] > liquidation_f and at_or_below(bar[2], liquidation, liquidation_f)
    return not bar[1] < liquidation_f and at_or_above(bar[1], liquidation, liquidation_f)


def bar_exit(long: bool, bar: tuple[float, float, float], stop: Decimal | None, target: Decimal | None,
             floats: tuple[float, float, float]) -> tuple[ExitKind, Decimal | None] | None:
    """``position_exit`` on a valid bar given as float (open, high, low) that does not meet the liquidation
    (``liquidation_met``: else the distances from the open decide, and the caller runs ``position_exit`` on
    Decimals), with the stop and the target (None: none, or not in this bar) and the floats of (stop, liquidation,
    target): what ends the position, its price None when it is the open (the caller builds that Decimal).

    Each comparison is exact (``at_or_below``). The rules: a stop at or beyond the open fills at the open, a target
    the bar opened at or beyond fills at the open unless the stop did, a stop met inside the bar fills at the stop,
    else a target met inside the bar fills at the target.
    """
    o, high, low = bar
    stop_f, _, target_f = floats
    # each test is ``at_or_below`` / ``at_or_above``, its float comparisons first (only a price equal to the
    # level's float builds a Decimal there): a level the float is clearly short of is not met, without the call
    if long:
        stop_open = stop is not None and not o > stop_f and at_or_below(o, stop, stop_f)
        stop_in = not stop_open and stop is not None and not low > stop_f and at_or_below(low, stop, stop_f)
        gapped = target is not None and not o < target_f and at_or_above(o, target, target_f)
        reached = target is not None and not high < target_f and at_or_above(high, target, target_f)
    else:
        stop_open = stop is not None and not o < stop_f and at_or_above(o, stop, stop_f)
        stop_in = not stop_open and stop is not None and not high < stop_f and at_or_above(high, stop, stop_f)
        gapped = target is not None and not o > target_f and at_or_below(o, target, target_f)
        reached = target is not None and not low > target_f and at_or_below(low, target, target_f)
    if gapped and not stop_open:  # the bar opened beyond the target, not beyond the stop
        return TARGET, None
    if stop_open:
        return STOP, None
    if stop_in:
        return STOP, stop
    if reached:
        return TARGET, target
    return None
