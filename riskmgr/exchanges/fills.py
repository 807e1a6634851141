"""The fill and margin model shared by the paper exchange and the backtester (pure Decimal, no I/O).

How simulated orders fill
-------------------------
* A **market order** fills at the current price moved against the taker by the slippage: a buy pays
  ``price * (1 + slippage_bps / 10000)``, a sell receives ``price * (1 - slippage_bps / 10000)``. When the market's
  price tick is known, the result is rounded to the tick against the taker too (buys up, sells down). It pays the
  **taker fee**: ``fill price * quantity * taker_fee``.
* A **limit order that can trade at once** (a buy at or above the current price, a sell at or below it) is a
  taker: it fills like a market order, but never at a price worse than its limit, and pays the taker fee.
* A **resting limit order** pays the **maker fee** and no slippage. Within one price bar, a buy fills at its price
  when the bar's low reaches the price (low <= price); a sell when the bar's high reaches it (high >= price). If
  the bar already opens through the price (a buy opening at or below it, a sell at or above), it fills at the open.
* **Stop-loss and take-profit triggers** fire when the price crosses the trigger: a long's stop when the price
  falls to it, a long's target when the price rises to it (the other way round for a short). They then fill as
  market orders at the trigger price, or at the bar's open when the bar opened beyond the trigger (a gap), with
  slippage against the closing side and the taker fee.
* **Order within one bar**: the open comes first, so a bar that opens at or beyond the take-profit fills it at
  the open (and one that opens at or beyond the stop fills the stop at the open), whatever the rest of the bar
  does. Otherwise the open lies between the levels and the path inside the bar is unknown: the conservative
  order applies — liquidation and stop-loss first, then resting limit orders, then take-profit; when the bar's
  range reaches both the stop and the target, the stop fills. Between a stop and a liquidation, the one the
  price reaches first on its way from the open wins; when the bar opens beyond the liquidation price, or both
  levels are equal, the liquidation wins.

Margin and P&L
--------------
* Initial margin = notional / leverage, where notional = price * quantity.
* Maintenance margin = maintenance margin rate (mmr) * entry price * quantity.
* Unrealized P&L = (mark - entry) * quantity for a long, (entry - mark) * quantity for a short. Realized P&L of a
  close is the same figure at the fill price; fees are counted separately (the paper exchange also reports each
  close's net P&L: realized P&L minus the close's fee and the share of the opening fees).
* **Isolated margin**: a position is liquidated when its margin plus its unrealized P&L falls to its maintenance
  margin. With margin = entry * quantity / leverage that gives
  ``long: entry * (1 - 1/leverage + mmr)`` and ``short: entry * (1 + 1/leverage - mmr)``.
  The liquidation costs exactly the position's margin (what is left of it is forfeited as the liquidation fee),
  never more, even when the price gapped past the liquidation price.
* **Cross margin**: the cross part of the account (wallet balance minus isolated margins) plus the unrealized P&L
  of every cross position is the cross equity. Liquidation comes when it falls to the maintenance margin of all
  cross positions. For one position, holding the others at their marks, solve linearly:
  ``price = entry - side * (cross balance + others' unrealized P&L - maintenance margin of all cross positions)
  / quantity`` with side = +1 for a long, -1 for a short. A cross liquidation closes every cross position; the
  cross part of the account ends at zero.
* Fees are not included in either liquidation price. The paper exchange rounds liquidation prices to the tick in
  the cautious direction (a long's up, a short's down). A price at or below zero means no liquidation price.

Funding
-------
* At every funding instant (every 8 hours from 00:00 UTC: 00:00, 08:00, 16:00) a position open at that instant
  pays ``quantity * price * rate`` at the price then, when the rate (a fraction per 8 hours) is positive and it is
  a long; a short receives it (the other way round for a negative rate). Funding moves the wallet balance, not
  the position's margin, and counts in the net P&L of the position's closes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from enum import StrEnum

from riskmgr.core.clock import from_ms, to_ms
from riskmgr.core.domain import ZERO, OrderSide, PositionSide
from riskmgr.core.errors import ConfigError

BPS = Decimal(10000)
ONE = Decimal(1)
FUNDING_INTERVAL_MS = 8 * 3_600_000  # funding instants are the multiples of 8 h since the epoch (00:00 UTC)


@dataclass(frozen=True)
class FillModel:
    """Fee rates (fractions, 0.0005 = 0.05 %) and slippage (basis points) of simulated fills."""

    taker_fee: Decimal
    maker_fee: Decimal
    slippage_bps: Decimal

    def __post_init__(self) -> None:
        for name, value, hi in (
            ("taker_fee", self.taker_fee, Decimal("0.01")),
            ("maker_fee", self.maker_fee, Decimal("0.01")),
            ("slippage_bps", self.slippage_bps, Decimal(100)),
        ):
            if not isinstance(value, Decimal) or not value.is_finite() or not ZERO <= value <= hi:
                raise ConfigError(f"{name}={value!r} is out of range; allowed 0–{hi} (a Decimal)")


@dataclass(frozen=True)
class Bar:
    """One price bar of the replayed path, in Decimal. ``ts`` is the bar's time (UTC)."""

    ts: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal

    def __post_init__(self) -> None:
        if not all(p.is_finite() and p > 0 for p in (self.open, self.high, self.low, self.close)):
            raise ValueError(f"bar at {self.ts.isoformat()}: prices must be finite and > 0, got {self}")
        if self.low > min(self.open, self.close) or self.high < max(self.open, self.close):
            raise ValueError(f"bar at {self.ts.isoformat()}: low <= open, close <= high does not hold: {self}")


class ExitKind(StrEnum):
    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"
    LIQUIDATION = "liquidation"


@dataclass(frozen=True)
class Exit:
    """A position-ending event within one bar and the price where it happened (before any slippage)."""

    kind: ExitKind
    price: Decimal


class FillReason(StrEnum):
    ORDER = "order"
    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"
    LIQUIDATION = "liquidation"


@dataclass(frozen=True)
class FillRecord:
    """One fill in the trade history. ``closes`` marks fills that reduced a position; only those carry
    ``net_pnl`` (realized P&L minus this fill's fee and the share of the opening fees it closes)."""

    id: str
    ts: datetime
    symbol: str
    side: OrderSide
    qty: Decimal
    price: Decimal
    fee: Decimal
    realized_pnl: Decimal
    closes: bool
    net_pnl: Decimal | None
    reason: FillReason
    maker: bool
    order_id: str | None


# -- prices -----------------------------------------------------------------------------------------


def round_qty_down(qty: Decimal, step: Decimal) -> Decimal:
    """Round a quantity down to a whole number of steps."""
    _check_step("step", step)
    return (qty / step).to_integral_value(rounding=ROUND_FLOOR) * step


def round_to_tick(price: Decimal, tick: Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """Round a price to the tick (nearest by default; pass ROUND_CEILING or ROUND_FLOOR to choose a side)."""
    _check_step("tick", tick)
    return (price / tick).to_integral_value(rounding=rounding) * tick


def is_multiple(value: Decimal, step: Decimal) -> bool:
    """Tell whether ``value`` is a whole number of ``step``s."""
    _check_step("step", step)
    return value % step == 0


def _check_step(name: str, step: Decimal) -> None:
    if not step.is_finite() or step <= 0:
        raise ValueError(f"{name} must be > 0, got {step}")


def slipped_price(price: Decimal, side: OrderSide, slippage_bps: Decimal, tick: Decimal | None = None) -> Decimal:
    """Move a price against the taker by the slippage, rounding to the tick against the taker as well."""
    if side is OrderSide.BUY:
        moved = price * (ONE + slippage_bps / BPS)
        return round_to_tick(moved, tick, ROUND_CEILING) if tick is not None else moved
    moved = price * (ONE - slippage_bps / BPS)
    return round_to_tick(moved, tick, ROUND_FLOOR) if tick is not None else moved


def fee_for(price: Decimal, qty: Decimal, rate: Decimal) -> Decimal:
    """Return the fee of a fill: notional times the rate."""
    return price * qty * rate


def is_marketable(side: OrderSide, limit: Decimal, price: Decimal) -> bool:
    """Tell whether a limit order would trade at once against the current price."""
    return limit >= price if side is OrderSide.BUY else limit <= price


def marketable_limit_price(
    side: OrderSide, limit: Decimal, price: Decimal, slippage_bps: Decimal, tick: Decimal | None = None
) -> Decimal:
    """Return the taker fill price of a marketable limit: slipped like a market order, capped at the limit."""
    slipped = slipped_price(price, side, slippage_bps, tick)
    return min(slipped, limit) if side is OrderSide.BUY else max(slipped, limit)


def resting_limit_fill_price(side: OrderSide, limit: Decimal, bar: Bar) -> Decimal | None:
    """Return where a resting limit order fills within ``bar`` (its price, or the open on a gap), or None."""
    if side is OrderSide.BUY:
        if bar.open <= limit:
            return bar.open
        return limit if bar.low <= limit else None
    if bar.open >= limit:
        return bar.open
    return limit if bar.high >= limit else None


def _adverse_reach(side: PositionSide, level: Decimal, bar: Bar) -> Decimal | None:
    """Return where a move against ``side`` reaches ``level`` within ``bar`` (the open on a gap), or None."""
    if side is PositionSide.LONG:
        if bar.open <= level:
            return bar.open
        return level if bar.low <= level else None
    if bar.open >= level:
        return bar.open
    return level if bar.high >= level else None


def adverse_exit(
    side: PositionSide, bar: Bar, *, stop: Decimal | None, liquidation: Decimal | None
) -> Exit | None:
    """Return the stop-loss or liquidation that ends a position within ``bar``, whichever the price meets first."""
    found: list[tuple[Decimal, int, Exit]] = []
    for rank, kind, level in ((0, ExitKind.LIQUIDATION, liquidation), (1, ExitKind.STOP_LOSS, stop)):
        if level is None:
            continue
        price = _adverse_reach(side, level, bar)
        if price is not None:
            # distance travelled from the open before the level is met; a gap is met at once (distance 0)
            distance = abs(bar.open - level) if price != bar.open else ZERO
            found.append((distance, rank, Exit(kind, price)))
    if not found:
        return None
    return min(found, key=lambda item: (item[0], item[1]))[2]


def take_profit_exit(side: PositionSide, bar: Bar, take_profit: Decimal | None) -> Exit | None:
    """Return the take-profit fill within ``bar`` (at the target, or the open on a gap), or None."""
    if take_profit is None:
        return None
    favourable = PositionSide.SHORT if side is PositionSide.LONG else PositionSide.LONG
    # a long's target is met the way a short's stop would be: by the price rising to it
    price = _adverse_reach(favourable, take_profit, bar)
    return Exit(ExitKind.TAKE_PROFIT, price) if price is not None else None


def target_gapped(side: PositionSide, bar: Bar, take_profit: Decimal | None) -> bool:
    """Tell whether ``bar`` opens at or beyond the take-profit (so it fills at the open, before anything else)."""
    if take_profit is None:
        return False
    return bar.open >= take_profit if side is PositionSide.LONG else bar.open <= take_profit


def position_exit(
    side: PositionSide, bar: Bar, *, stop: Decimal | None, liquidation: Decimal | None, take_profit: Decimal | None
) -> Exit | None:
    """Return what ends a position within ``bar``: a level the bar opens beyond fills at the open; inside the
    bar, where the order of events is unknown, the stop (or liquidation) before the target."""
    adverse = adverse_exit(side, bar, stop=stop, liquidation=liquidation)
    if target_gapped(side, bar, take_profit) and (adverse is None or adverse.price != bar.open):
        return Exit(ExitKind.TAKE_PROFIT, bar.open)
    return adverse if adverse is not None else take_profit_exit(side, bar, take_profit)


def exit_fill_price(exit_: Exit, side: PositionSide, slippage_bps: Decimal, tick: Decimal | None = None) -> Decimal:
    """Return the fill price of a triggered stop or target: a market order at the trigger, with slippage."""
    if exit_.kind is ExitKind.LIQUIDATION:
        return exit_.price
    return slipped_price(exit_.price, side.close_order_side, slippage_bps, tick)


# -- margin and P&L ----------------------------------------------------------------------------------


def pnl(side: PositionSide, entry: Decimal, qty: Decimal, price: Decimal) -> Decimal:
    """Return the P&L of ``qty`` held from ``entry`` to ``price`` (unrealized at the mark, realized at a fill)."""
    return (price - entry) * qty * side.sign


def funding_payment(side: PositionSide, qty: Decimal, price: Decimal, rate: Decimal) -> Decimal:
    """Return what a position receives at one funding instant (negative: pays); a long pays a positive rate."""
    return -(qty * price * rate) * side.sign


def funding_instants(start: datetime, end: datetime) -> list[datetime]:
    """Return the funding instants in (start, end], oldest first."""
    first = to_ms(start) // FUNDING_INTERVAL_MS + 1
    last = to_ms(end) // FUNDING_INTERVAL_MS
    return [from_ms(k * FUNDING_INTERVAL_MS) for k in range(first, last + 1)]


def initial_margin(price: Decimal, qty: Decimal, leverage: int | Decimal) -> Decimal:
    """Return notional / leverage."""
    if leverage <= 0:
        raise ValueError(f"leverage must be > 0, got {leverage}")
    return price * qty / Decimal(leverage)


def maintenance_margin(entry: Decimal, qty: Decimal, mmr: Decimal) -> Decimal:
    """Return the maintenance margin: mmr times the entry notional."""
    return entry * qty * mmr


def average_entry(entry: Decimal, size: Decimal, price: Decimal, qty: Decimal) -> Decimal:
    """Return the size-weighted entry price after adding ``qty`` at ``price``."""
    return (entry * size + price * qty) / (size + qty)


def isolated_liquidation_price(side: PositionSide, entry: Decimal, leverage: int | Decimal, mmr: Decimal) -> Decimal:
    """Return the isolated liquidation price: long entry*(1-1/lev+mmr), short entry*(1+1/lev-mmr)."""
    if leverage <= 0:
        raise ValueError(f"leverage must be > 0, got {leverage}")
    inverse = ONE / Decimal(leverage)
    if side is PositionSide.LONG:
        return entry * (ONE - inverse + mmr)
    return entry * (ONE + inverse - mmr)


def isolated_liquidation_price_for_margin(
    side: PositionSide, entry: Decimal, size: Decimal, margin: Decimal, mmr: Decimal
) -> Decimal | None:
    """Return where margin + unrealized P&L meets the maintenance margin, or None if that is at or below zero."""
    price = entry - side.sign * (margin - maintenance_margin(entry, size, mmr)) / size
    return price if price > 0 else None


def cross_liquidation_price(
    side: PositionSide,
    entry: Decimal,
    size: Decimal,
    *,
    cross_balance: Decimal,
    other_unrealized: Decimal,
    maintenance: Decimal,
) -> Decimal | None:
    """Return where cross equity meets the cross maintenance margin, others held at their marks (None if <= 0).

    ``cross_balance`` is the wallet minus isolated margins; ``maintenance`` covers every cross position, this one
    included; ``other_unrealized`` is the unrealized P&L of the other cross positions.
    """
    cushion = cross_balance + other_unrealized - maintenance
    price = entry - side.sign * cushion / size
    return price if price > 0 else None
