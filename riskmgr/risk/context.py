"""What a risk rule reads: the order intent and a frozen picture of the account at one moment.

Rules are pure functions of a ``RuleContext``; everything they need is in it, so the gateway, the
backtester and the pre-trade preview build one and get the same verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from riskmgr.core.domain import ZERO, AccountStatus, MarketSpec, Position, PositionSide, TradingState, Verdict
from riskmgr.core.errors import ValidationError
from riskmgr.risk.config import RiskLimits
from riskmgr.risk.costs import TradingCosts
from riskmgr.risk.exposure import PendingEntry, UnpricedOrder
from riskmgr.risk.exposure import slots as exposure_slots
from riskmgr.risk.sizing import SizingInput, SizingResult, assess_position, size_position


def _check_price(name: str, value: Decimal | None) -> None:
    if value is not None and (not isinstance(value, Decimal) or not value.is_finite() or value <= 0):
        raise ValidationError(name, f"must be a Decimal above 0, got {value!r}")


@dataclass(frozen=True)
class OrderIntent:
    """An order someone wants placed, before sizing.

    ``side`` is the position side the order opens or adds to; for a reduce-only order, the side of the
    position it reduces. ``qty`` None means: size it from the risk budget.
    """

    symbol: str
    side: PositionSide
    entry_price: Decimal
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    qty: Decimal | None = None
    leverage: int = 1
    reduce_only: bool = False

    def __post_init__(self) -> None:
        if not self.symbol:
            raise ValidationError("symbol", "must not be empty")
        if not isinstance(self.side, PositionSide):
            raise ValidationError("side", f"must be long or short, got {self.side!r}")
        _check_price("entry_price", self.entry_price)
        _check_price("stop_loss", self.stop_loss)
        _check_price("take_profit", self.take_profit)
        _check_price("qty", self.qty)
        if isinstance(self.leverage, bool) or not isinstance(self.leverage, int) or self.leverage < 1:
            raise ValidationError("leverage", f"must be a whole number of at least 1, got {self.leverage!r}")


@dataclass(frozen=True)
class ClosedTrade:
    """One closed position (or partial close): when, and what it realized after fees.

    ``symbol`` is ccxt-unified; None when the venue's contract is not one of the loaded perpetuals (it cannot be
    named without guessing). ``side`` is the side of the position that was closed; None where the venue does not
    report it (Binance income rows).

    The detail fields (for the trade journal) are the venue's own figures, None where its report lacks them; they
    do not take part in equality, so a rule comparing closes sees the same trade whatever detail a venue adds.
    ``trading_fees`` is what the venue deducted for trading (a cost is positive), where it says so unambiguously.
    """

    closed_at: datetime
    realized_pnl: Decimal
    symbol: str | None = None
    side: PositionSide | None = None
    opened_at: datetime | None = field(default=None, compare=False)
    entry_price: Decimal | None = field(default=None, compare=False)
    exit_price: Decimal | None = field(default=None, compare=False)
    qty: Decimal | None = field(default=None, compare=False)
    trading_fees: Decimal | None = field(default=None, compare=False)
    venue_id: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class RuleContext:
    """Everything the rules read about one intent on one account at ``now``.

    ``sizing`` is None when the order could not be sized; ``sizing_error`` then says why (reduce-only
    intents are never sized). ``data_age`` is None when the account was never read successfully.
    ``recent_trades`` are newest first.
    """

    now: datetime
    limits: RiskLimits
    intent: OrderIntent
    spec: MarketSpec
    equity: Decimal
    available: Decimal
    day_start_equity: Decimal
    peak_equity: Decimal
    positions: tuple[Position, ...]
    account_status: AccountStatus
    data_age: timedelta | None
    recent_trades: tuple[ClosedTrade, ...]
    trading_state: TradingState
    sizing: SizingResult | None
    sizing_error: str | None = None
    # entries that may still fill (resting orders, intents in flight) and resting entries without a price
    pending: tuple[PendingEntry, ...] = ()
    unpriced: tuple[UnpricedOrder, ...] = ()
    # taker fees and slippage of a round trip on this symbol (None: unknown, the rules that need them deny)
    costs: TradingCosts | None = None
    # automatic entries already placed this risk day (auto-trading, the backtest); None for a manual order
    automatic_entries: int | None = None

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise ValidationError("now", "must be a timezone-aware datetime")
        if self.spec.symbol != self.intent.symbol:
            raise ValidationError("symbol", f"market spec is for {self.spec.symbol}, intent for {self.intent.symbol}")

    @property
    def same_position(self) -> Position | None:
        """Return the open position this intent adds to (same symbol and side), if any."""
        for position in self.positions:
            if position.symbol == self.intent.symbol and position.side is self.intent.side:
                return position
        return None

    @property
    def open_notional(self) -> Decimal:
        """Return the notional of every open position at mark."""
        return sum((p.notional for p in self.positions), ZERO)

    @property
    def pending_notional(self) -> Decimal:
        """Return the notional of every entry that may still fill, at its limit price."""
        return sum((e.notional for e in self.pending), ZERO)

    @property
    def exposure_notional(self) -> Decimal:
        """Return open notional plus everything that may still fill (the caps count both)."""
        return self.open_notional + self.pending_notional

    @property
    def pending_same(self) -> tuple[PendingEntry, ...]:
        """Return the pending entries on this intent's symbol and side."""
        return tuple(e for e in self.pending if e.slot == (self.intent.symbol, self.intent.side))

    @property
    def same_exposure(self) -> Decimal:
        """Return the notional of this intent's position plus its pending entries (before the intent)."""
        held = self.same_position.notional if self.same_position is not None else ZERO
        return held + sum((e.notional for e in self.pending_same), ZERO)

    @property
    def slots(self) -> set[tuple[str, PositionSide]]:
        """Return the distinct positions there are or would be if every pending entry filled."""
        return exposure_slots(self.positions, self.pending)

    def exposure_split(self) -> str:
        """Describe the position count: "3 open + 2 resting/in flight" (pending ones on new symbol-sides only)."""
        held = {(p.symbol, p.side) for p in self.positions}
        extra = len({e.slot for e in self.pending} - held)
        return f"{len(held)} open" + (f" + {extra} resting or in flight" if extra else "")

    @property
    def min_notional(self) -> Decimal:
        """Return the smallest order notional allowed: the exchange's minimum, never below our floor."""
        return max(self.spec.min_notional, self.limits.min_notional_floor)

    def skip_reduce_only(self, rule: str) -> Verdict | None:
        """Return an allowing verdict that says the rule was skipped, if the intent is reduce-only."""
        if self.intent.reduce_only:
            return Verdict.allow(rule, "reduce-only order: new-risk rule skipped")
        return None


def build_context(
    *,
    now: datetime,
    limits: RiskLimits,
    intent: OrderIntent,
    spec: MarketSpec,
    equity: Decimal,
    available: Decimal,
    day_start_equity: Decimal,
    peak_equity: Decimal,
    positions: tuple[Position, ...],
    account_status: AccountStatus,
    fetched_at: datetime | None,
    recent_trades: tuple[ClosedTrade, ...],
    trading_state: TradingState,
    pending: tuple[PendingEntry, ...] = (),
    unpriced: tuple[UnpricedOrder, ...] = (),
    costs: TradingCosts,
    automatic_entries: int | None = None,
) -> RuleContext:
    """Size the intent (a failure becomes ``sizing_error``) and assemble the context the rules read.

    ``pending`` are entries that may still fill; sizing caps and the rules count them as filled at their price.
    ``automatic_entries`` is the day's count of automatic entries for an automatic entry (None: a manual order).
    """
    for name, when in (("now", now), ("fetched_at", fetched_at)):
        if when is not None and when.tzinfo is None:
            raise ValidationError(name, "must be a timezone-aware datetime")
    data_age = None if fetched_at is None else now - fetched_at
    sizing, error = _size(intent, spec, limits, equity, positions, tuple(pending), costs)
    return RuleContext(
        now=now,
        limits=limits,
        intent=intent,
        spec=spec,
        equity=equity,
        available=available,
        day_start_equity=day_start_equity,
        peak_equity=peak_equity,
        positions=tuple(positions),
        account_status=account_status,
        data_age=data_age,
        recent_trades=tuple(recent_trades),
        trading_state=trading_state,
        sizing=sizing,
        sizing_error=error,
        pending=tuple(pending),
        unpriced=tuple(unpriced),
        costs=costs,
        automatic_entries=automatic_entries,
    )


def _size(
    intent: OrderIntent, spec: MarketSpec, limits: RiskLimits, equity: Decimal, positions: tuple[Position, ...],
    pending: tuple[PendingEntry, ...] = (), costs: TradingCosts | None = None,
) -> tuple[SizingResult | None, str | None]:
    if intent.reduce_only:
        return None, None
    if intent.stop_loss is None:
        return None, "no stop-loss given: an entry cannot be sized without one"
    if costs is None:
        return None, "the trading costs (taker fee, slippage) are unknown: the loss at the stop cannot be sized"
    same = [p for p in positions if p.symbol == intent.symbol and p.side is intent.side]
    order = SizingInput(
        side=intent.side,
        entry_price=intent.entry_price,
        stop_loss=intent.stop_loss,
        take_profit=intent.take_profit,
        leverage=intent.leverage,
        equity=equity,
        costs=costs,
        # after an add one stop covers the whole position: its loss at the new stop counts against the budget
        existing=tuple(same),
        # what may still fill counts as filled: the caps leave room only for the rest
        open_notional=sum((p.notional for p in positions), ZERO) + sum((e.notional for e in pending), ZERO),
        position_notional=sum((p.notional for p in same), ZERO)
        + sum((e.notional for e in pending if e.slot == (intent.symbol, intent.side)), ZERO),
    )
    try:
        if intent.qty is None:
            return size_position(order, spec, limits), None
        return assess_position(order, intent.qty, spec, limits), None
    except ValidationError as exc:
        # a sizing failure is a denial for the receipt (risk_per_trade shows it), not a fault
        return None, f"cannot size the order: {exc.field} {exc.message}"
