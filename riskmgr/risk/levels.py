"""Position risk levels and what the monitor must do about a position, from the price move against entry.

The move is measured in percent of entry notional, signed in the position's favour: a long whose mark
is 2 % under its entry has moved -2 %. LOW is the quiet middle; HIGH below -2.5 %, CRITICAL below
-5 %, PROFITABLE above +3 % (the limits' defaults). Functions here are pure and stateless: the monitor
remembers, for instance, that it already took a position's partial profit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from riskmgr.core.domain import Position, PositionSide, RiskLevel
from riskmgr.core.errors import ValidationError
from riskmgr.risk.config import RiskLimits
from riskmgr.risk.sizing import HUNDRED, fmt_number, fmt_pct


def move_pct(position: Position) -> Decimal:
    """Return the price move since entry in percent, positive in the position's favour."""
    for name, price in (("entry_price", position.entry_price), ("mark_price", position.mark_price)):
        if not price.is_finite() or price <= 0:
            raise ValidationError(name, f"{position.symbol}: must be above 0, got {price}")
    return (position.mark_price - position.entry_price) / position.entry_price * HUNDRED * position.side.sign


def risk_level(position: Position, limits: RiskLimits) -> RiskLevel:
    """Grade a position: CRITICAL, HIGH, PROFITABLE or LOW; each boundary itself belongs to the milder level."""
    move = move_pct(position)
    if move < -limits.level_critical_pct:
        return RiskLevel.CRITICAL
    if move < -limits.level_high_pct:
        return RiskLevel.HIGH
    if move > limits.level_profitable_pct:
        return RiskLevel.PROFITABLE
    return RiskLevel.LOW


class PositionActionKind(StrEnum):
    CLOSE = "close"  # close the whole position with a reduce-only market order
    PARTIAL_TAKE_PROFIT = "partial_take_profit"  # close ``qty`` of it
    ALERT = "alert"  # tell a human; nothing is traded


@dataclass(frozen=True)
class PositionAction:
    """One thing the monitor must do about one position."""

    kind: PositionActionKind
    symbol: str
    side: PositionSide
    qty: Decimal | None  # None: the whole position; the gateway rounds a part down to the market's step
    reason: str


def position_actions(position: Position, limits: RiskLimits) -> tuple[PositionAction, ...]:
    """Return what the monitor must do: close at CRITICAL or the emergency move, maybe take partial profit."""
    move = move_pct(position)
    level = risk_level(position, limits)
    emergency = move <= -limits.emergency_close_pct
    if level is RiskLevel.CRITICAL or emergency:
        return (_close_or_alert(position, limits, move, level, emergency),)
    if limits.partial_tp_enabled and move >= limits.partial_tp_trigger_pct:
        fraction = limits.partial_tp_fraction_pct
        reason = (
            f"{position.symbol} {position.side.value} is {fmt_pct(move)} % in favour, at or beyond the partial "
            f"take-profit trigger {fmt_number(limits.partial_tp_trigger_pct)} %: take {fmt_number(fraction)} % off"
        )
        qty = position.size * fraction / HUNDRED
        return (PositionAction(PositionActionKind.PARTIAL_TAKE_PROFIT, position.symbol, position.side, qty, reason),)
    return ()


def _close_or_alert(
    position: Position, limits: RiskLimits, move: Decimal, level: RiskLevel, emergency: bool
) -> PositionAction:
    if emergency:
        why = f"at or beyond the emergency close {fmt_number(limits.emergency_close_pct)} %"
    else:
        why = f"beyond the CRITICAL level {fmt_number(limits.level_critical_pct)} %"
    head = f"{position.symbol} {position.side.value} has moved {fmt_pct(-move)} % against entry, {why} ({level.value})"
    if limits.auto_close_on_emergency:
        return PositionAction(PositionActionKind.CLOSE, position.symbol, position.side, None, f"{head}: close it")
    return PositionAction(
        PositionActionKind.ALERT, position.symbol, position.side, None, f"{head}: automatic close is off, act by hand"
    )
