"""Position sizing and the price arithmetic of the pre-trade receipt: pure functions over Decimal.

Quantities are base-coin amounts, prices and money USDT, percentages plain percent figures. Invalid
input (a stop on the entry, a non-positive equity or price, leverage below 1) raises ``ValidationError``
naming the field, and so does an unknown maintenance margin rate (the result's liquidation figures need it);
nothing here returns a made-up figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Any

from riskmgr.core.domain import ZERO, MarketSpec, Position, PositionSide
from riskmgr.core.errors import ValidationError
from riskmgr.risk.config import RiskLimits
from riskmgr.risk.costs import TradingCosts, existing_loss, loss_at_stop

HUNDRED = Decimal(100)


# -- formatting for human-readable reasons --------------------------------------------------------------------


def fmt_number(value: Decimal) -> str:
    """Format a Decimal plainly, without exponent or trailing zeros ("0.0031", "1000")."""
    return f"{value.normalize():f}"


def _fmt_places(value: Decimal, places: int, max_places: int) -> str:
    shown = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    if shown == value:
        return f"{shown:f}"
    # more digits rather than a rounded figure that reads as if it sat on the other side of a limit
    return fmt_number(value.quantize(Decimal(1).scaleb(-max_places), rounding=ROUND_HALF_EVEN))


def fmt_money(value: Decimal) -> str:
    """Format a USDT amount with two decimals ("3.20", "9998.64"); where two would round a fraction onto a whole
    number (a figure that could read as sitting on a round limit, or a fee shown as 0.00), the fewest more that
    keep it off it ("4.996", "0.0004")."""
    if not value.is_finite():
        return str(value)
    for places in range(2, 9):
        shown = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
        if shown == value or shown != shown.to_integral_value():
            return f"{shown:f}"
    return fmt_number(value.quantize(Decimal(1).scaleb(-8), rounding=ROUND_HALF_EVEN))


def fmt_pct(value: Decimal) -> str:
    """Format a percentage with two decimals, or up to four where two would hide a difference."""
    return _fmt_places(value, 2, 4)


# -- rounding and simple arithmetic ---------------------------------------------------------------------------


def round_down_to_step(value: Decimal, step: Decimal) -> Decimal:
    """Round ``value`` down to a whole multiple of ``step`` (quantities never round up)."""
    if step <= 0:
        raise ValidationError("qty_step", f"must be above 0, got {fmt_number(step)}")
    return (value / step).to_integral_value(rounding=ROUND_FLOOR) * step


def round_to_tick(price: Decimal, tick: Decimal, *, up: bool) -> Decimal:
    """Round a price to the tick, up or down."""
    if tick <= 0:
        raise ValidationError("price_tick", f"must be above 0, got {fmt_number(tick)}")
    return (price / tick).to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR) * tick


def round_levels(
    side: PositionSide, stop_loss: Decimal | None, take_profit: Decimal | None, tick: Decimal
) -> tuple[Decimal | None, Decimal | None]:
    """Round a position's stop and target to the tick on the cautious side: the stop nearer the entry (a long's up,
    a short's down), the target nearer too (a long's down, a short's up). The gateway and the backtest both use it."""
    long = side is PositionSide.LONG
    stop = None if stop_loss is None else round_to_tick(stop_loss, tick, up=long)
    target = None if take_profit is None else round_to_tick(take_profit, tick, up=not long)
    return stop, target


def stop_distance(entry: Decimal, stop: Decimal) -> Decimal:
    """Return the absolute price distance between entry and stop."""
    return abs(entry - stop)


def qty_for_risk(equity: Decimal, risk_pct: Decimal, entry: Decimal, stop: Decimal, step: Decimal) -> Decimal:
    """Return equity * risk% / |entry - stop|, rounded down to the quantity step."""
    _require_positive("equity", equity)
    _require_positive("risk_pct", risk_pct)
    _require_positive("entry_price", entry)
    distance = stop_distance(entry, stop)
    if distance == 0:
        raise ValidationError("stop_loss", f"stop {fmt_number(stop)} equals the entry price; no risk can be sized")
    return round_down_to_step(equity * risk_pct / HUNDRED / distance, step)


def risk_usdt(qty: Decimal, entry: Decimal, stop: Decimal) -> Decimal:
    """Return the price move ``qty`` loses if the stop is hit (fees and slippage not included: see TradingCosts)."""
    return qty * stop_distance(entry, stop)


def pct_of(part: Decimal, whole: Decimal) -> Decimal:
    """Return ``part`` as a percentage of ``whole``."""
    _require_positive("equity", whole)
    return part / whole * HUNDRED


def stop_target_from_pct(
    side: PositionSide, entry: Decimal, stop_pct: Decimal, target_pct: Decimal, tick: Decimal | None = None
) -> tuple[Decimal, Decimal]:
    """Return (stop, target) ``stop_pct`` against and ``target_pct`` in favour of ``entry``."""
    _require_positive("stop_pct", stop_pct)
    _require_positive("target_pct", target_pct)
    return _bracket(side, entry, entry * stop_pct / HUNDRED, entry * target_pct / HUNDRED, tick)


def stop_target_from_atr(
    side: PositionSide,
    entry: Decimal,
    atr: Decimal,
    stop_mult: Decimal,
    target_mult: Decimal,
    tick: Decimal | None = None,
) -> tuple[Decimal, Decimal]:
    """Return (stop, target) ``stop_mult`` ATRs against and ``target_mult`` ATRs in favour of ``entry``."""
    _require_positive("atr", atr)
    _require_positive("stop_mult", stop_mult)
    _require_positive("target_mult", target_mult)
    return _bracket(side, entry, atr * stop_mult, atr * target_mult, tick)


def _bracket(
    side: PositionSide, entry: Decimal, stop_dist: Decimal, target_dist: Decimal, tick: Decimal | None
) -> tuple[Decimal, Decimal]:
    _require_positive("entry_price", entry)
    if stop_dist >= entry and side is PositionSide.LONG:
        raise ValidationError(
            "stop_loss", f"a stop {fmt_number(stop_dist)} below the entry {fmt_number(entry)} would be at or below 0"
        )
    stop = entry - side.sign * stop_dist
    target = entry + side.sign * target_dist
    if tick is None:
        return stop, target
    # stop rounded towards entry (less risk), target away from it, so rounding never lowers reward:risk
    long = side is PositionSide.LONG
    return round_to_tick(stop, tick, up=long), round_to_tick(target, tick, up=long)


def reward_risk(side: PositionSide, entry: Decimal, stop: Decimal, target: Decimal) -> Decimal:
    """Return reward / risk; zero or negative when the target is not on the profit side of entry."""
    risk = (entry - stop) * side.sign
    if risk <= 0:
        raise ValidationError("stop_loss", f"stop {fmt_number(stop)} is not on the loss side of entry")
    return (target - entry) * side.sign / risk


# The venues' documented isolated-margin liquidation formulas for one position opened with margin entry*qty/lev and
# no margin added later. Each takes (side, entry, 1/leverage, maintenance margin rate). A venue's maintenance amount
# (Binance "cum", Bitget's "pre-calculated offset") is left out: it is >= 0 and only moves the venue's liquidation
# further from the entry, so leaving it out keeps the estimate cautious.

# Bitget adds its taker fee rate to the maintenance rate; 0.06 % is its standard taker fee and the liquidation fee
# rate its 2024-07-24 announcement sets. A lower (VIP) fee only moves the liquidation further away.
BITGET_LIQUIDATION_FEE_RATE = Decimal("0.0006")


def _linear_liquidation(side: PositionSide, entry: Decimal, inverse: Decimal, mmr: Decimal) -> Decimal:
    """Return where margin entry/lev plus the loss meets mmr of the entry notional (Bitunix, the paper venue)."""
    # Bitunix publishes no closed formula, only its definitions: maintenance margin = open price * size * mmr,
    # liquidation when the position's margin (initial margin + P&L) falls below it. Solved for the price.
    return entry * (1 - side.sign * (inverse - mmr))


def _binance_liquidation(side: PositionSide, entry: Decimal, inverse: Decimal, mmr: Decimal) -> Decimal:
    """Return Binance's isolated formula: long entry*(1-1/lev)/(1-mmr), short entry*(1+1/lev)/(1+mmr)."""
    return entry * (1 - side.sign * inverse) / (1 - side.sign * mmr)


def _bitget_liquidation(side: PositionSide, entry: Decimal, inverse: Decimal, mmr: Decimal) -> Decimal:
    """Return Bitget's isolated formula: (margin - qty*entry*dir) / (qty*(mmr + taker fee - dir)), per unit of qty."""
    return (entry * inverse - entry * side.sign) / (mmr + BITGET_LIQUIDATION_FEE_RATE - side.sign)


ISOLATED_LIQUIDATION_FORMULAS = {
    "binance": _binance_liquidation,
    "bitget": _bitget_liquidation,
    "bitunix": _linear_liquidation,
    "paper": _linear_liquidation,
}


def liquidation_price(side: PositionSide, entry: Decimal, leverage: Decimal | int, mmr: Decimal) -> Decimal:
    """Return the most cautious isolated liquidation of the venues' formulas: highest for a long, lowest for a short."""
    _require_positive("entry_price", entry)
    if leverage < 1:
        raise ValidationError("leverage", f"must be at least 1, got {leverage}")
    inverse = Decimal(1) / Decimal(leverage)
    estimates = [formula(side, entry, inverse, mmr) for formula in ISOLATED_LIQUIDATION_FORMULAS.values()]
    return max(estimates) if side is PositionSide.LONG else min(estimates)


def liquidation_price_on_tick(
    side: PositionSide, entry: Decimal, leverage: Decimal | int, mmr: Decimal, tick: Decimal
) -> Decimal:
    """Return ``liquidation_price`` rounded to the tick towards the entry, as the paper venue rounds its own."""
    return round_to_tick(liquidation_price(side, entry, leverage, mmr), tick, up=side is PositionSide.LONG)


def liquidation_beyond_stop(side: PositionSide, stop: Decimal, liquidation: Decimal) -> Decimal:
    """Return how far the liquidation price lies beyond the stop (positive: the stop fires first)."""
    return (stop - liquidation) * side.sign


def known_maintenance_rate(spec: MarketSpec) -> Decimal:
    """Return the spec's maintenance margin rate; raise ValidationError naming it when it is unknown."""
    if spec.maintenance_margin_rate is None:
        raise ValidationError(
            "maintenance_margin_rate",
            f"is unknown for {spec.symbol}: the liquidation price cannot be estimated",
        )
    return spec.maintenance_margin_rate


def _require_positive(name: str, value: Decimal) -> None:
    if not value.is_finite() or value <= 0:
        raise ValidationError(name, f"must be above 0, got {value}")


# -- the sizing result for the pre-trade receipt --------------------------------------------------------------


@dataclass(frozen=True)
class SizingCap:
    """A limit that made the order smaller than the risk budget alone would have."""

    name: str  # the RiskLimits field that applied
    max_notional: Decimal
    reason: str


@dataclass(frozen=True)
class SizingResult:
    """Everything the receipt shows about one order's size, risk and prices."""

    side: PositionSide
    entry_price: Decimal
    stop_loss: Decimal
    take_profit: Decimal | None
    leverage: int
    qty: Decimal
    notional: Decimal
    margin: Decimal
    risk_usdt: Decimal  # loss if stopped: price move + fees + slippage, of the whole position after an add
    risk_pct: Decimal
    stop_distance: Decimal  # price only: |entry - stop|
    risk_budget: Decimal  # equity * risk per trade
    price_risk_usdt: Decimal  # the price-move part of risk_usdt
    fees_usdt: Decimal  # the taker fees part of risk_usdt
    slippage_usdt: Decimal  # the slippage part of risk_usdt
    round_trip_per_unit: Decimal  # fees + slippage of one unit entered at the entry and stopped at the stop
    costs_source: str
    existing_qty: Decimal  # the open position this order adds to (0: a new position); one stop then covers both
    existing_risk_usdt: Decimal  # what that position loses at this order's stop, costs included
    raw_qty: Decimal  # what the risk budget alone gives, before caps and rounding (the caller's qty if given)
    caps: tuple[SizingCap, ...]
    reward_risk: Decimal | None
    liquidation_price: Decimal
    liquidation_beyond_stop: Decimal
    sized: bool  # True: sized from risk; False: the caller gave the quantity

    def as_dict(self) -> dict[str, Any]:
        """Return the result JSON-safe (Decimals as strings)."""
        out: dict[str, Any] = {}
        for name, value in vars(self).items():
            if name == "caps":
                out[name] = [{"name": c.name, "max_notional": str(c.max_notional), "reason": c.reason} for c in value]
            else:
                out[name] = str(value) if isinstance(value, Decimal) else value
        return out


@dataclass(frozen=True)
class SizingInput:
    """The order and account figures sizing needs."""

    side: PositionSide
    entry_price: Decimal
    stop_loss: Decimal
    take_profit: Decimal | None
    leverage: int
    equity: Decimal
    costs: TradingCosts
    open_notional: Decimal = ZERO  # notional of every open position on the account
    position_notional: Decimal = ZERO  # notional of the position this order adds to, if any
    existing: tuple[Position, ...] = ()  # the open position(s) this order adds to: the new stop covers them too


def size_position(order: SizingInput, spec: MarketSpec, limits: RiskLimits) -> SizingResult:
    """Size an entry from the risk budget, capped by max position notional and the leverage cap, step-rounded.

    The budget pays for the loss at the stop including fees and slippage; for an add it first pays for what the
    open position loses at the new stop (one stop covers both), and only the rest is sized.
    """
    _check_order(order)
    budget = order.equity * limits.risk_per_trade_pct / HUNDRED
    left = budget - existing_loss(order.existing, order.stop_loss, order.costs).total
    per_unit = order.costs.loss_per_unit(order.entry_price, order.stop_loss)
    raw_qty = left / per_unit if left > 0 else ZERO
    qty = raw_qty
    caps: list[SizingCap] = []
    for name, room, why in _cap_rooms(order, limits):
        allowed = room / order.entry_price
        if raw_qty > allowed:
            shown = f"{fmt_number(round_down_to_step(allowed, spec.qty_step))} {spec.base}"
            wanted = f"{fmt_number(round_down_to_step(raw_qty, spec.qty_step))} {spec.base}"
            caps.append(SizingCap(name, room, f"{why}: quantity capped at {shown} (risk budget gives {wanted})"))
            qty = min(qty, allowed)
    qty = round_down_to_step(qty, spec.qty_step)
    return _result(order, spec, limits, qty=qty, raw_qty=raw_qty, caps=tuple(caps), sized=True)


def assess_position(order: SizingInput, qty: Decimal, spec: MarketSpec, limits: RiskLimits) -> SizingResult:
    """Describe an entry whose quantity the caller chose, rounded down to the step (no caps: the rules judge it)."""
    _check_order(order)
    _require_positive("qty", qty)
    # the receipt shows what the gateway will place, which is the step-rounded quantity
    placed = round_down_to_step(qty, spec.qty_step)
    return _result(order, spec, limits, qty=placed, raw_qty=qty, caps=(), sized=False)


def _check_order(order: SizingInput) -> None:
    _require_positive("equity", order.equity)
    _require_positive("entry_price", order.entry_price)
    _require_positive("stop_loss", order.stop_loss)
    if order.leverage < 1:
        raise ValidationError("leverage", f"must be at least 1, got {order.leverage}")
    if (order.entry_price - order.stop_loss) * order.side.sign <= 0:
        where = "below" if order.side is PositionSide.LONG else "above"
        raise ValidationError(
            "stop_loss",
            f"stop {fmt_number(order.stop_loss)} must be {where} the entry {fmt_number(order.entry_price)} "
            f"for a {order.side.value}",
        )


def _cap_rooms(order: SizingInput, limits: RiskLimits) -> list[tuple[str, Decimal, str]]:
    """Return (limit name, notional room left, why) for each cap on the order's notional."""
    room_position = max(limits.max_position_notional - order.position_notional, ZERO)
    room_leverage = max(order.equity * limits.max_leverage - order.open_notional, ZERO)
    return [
        (
            "max_position_notional",
            room_position,
            f"max position notional {fmt_money(limits.max_position_notional)} USDT with "
            f"{fmt_money(order.position_notional)} USDT already in the position leaves {fmt_money(room_position)} USDT",
        ),
        (
            "max_leverage",
            room_leverage,
            f"leverage cap {limits.max_leverage}x equity {fmt_money(order.equity)} USDT with "
            f"{fmt_money(order.open_notional)} USDT already open leaves {fmt_money(room_leverage)} USDT",
        ),
    ]


def _result(
    order: SizingInput,
    spec: MarketSpec,
    limits: RiskLimits,
    *,
    qty: Decimal,
    raw_qty: Decimal,
    caps: tuple[SizingCap, ...],
    sized: bool,
) -> SizingResult:
    entry, stop = order.entry_price, order.stop_loss
    new = loss_at_stop(order.side, qty, entry, stop, order.costs)
    held = existing_loss(order.existing, stop, order.costs)
    risk = new.total + held.total
    liquidation = liquidation_price(order.side, entry, order.leverage, known_maintenance_rate(spec))
    target = order.take_profit
    return SizingResult(
        side=order.side,
        entry_price=entry,
        stop_loss=stop,
        take_profit=target,
        leverage=order.leverage,
        qty=qty,
        notional=qty * entry,
        margin=qty * entry / order.leverage,
        risk_usdt=risk,
        risk_pct=pct_of(risk, order.equity),
        stop_distance=stop_distance(entry, stop),
        risk_budget=order.equity * limits.risk_per_trade_pct / HUNDRED,
        price_risk_usdt=new.price + held.price,
        fees_usdt=new.fees + held.fees,
        slippage_usdt=new.slippage + held.slippage,
        round_trip_per_unit=order.costs.round_trip_per_unit(entry, stop),
        costs_source=order.costs.source,
        existing_qty=held.qty,
        existing_risk_usdt=held.total,
        raw_qty=raw_qty,
        caps=caps,
        reward_risk=None if target is None else reward_risk(order.side, entry, stop, target),
        liquidation_price=liquidation,
        liquidation_beyond_stop=liquidation_beyond_stop(order.side, stop, liquidation),
        sized=sized,
    )
