"""Domain vocabulary shared by every layer: frozen dataclasses and enums, money in Decimal.

Symbols are ccxt-unified everywhere inside riskmgr (``BTC/USDT:USDT``); adapters convert to the
exchange's native id at their boundary. Times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

ZERO = Decimal(0)


class OrderSide(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> OrderSide:
        return OrderSide.SELL if self is OrderSide.BUY else OrderSide.BUY


class PositionSide(StrEnum):
    LONG = "long"
    SHORT = "short"

    @property
    def entry_order_side(self) -> OrderSide:
        """The order side that opens or adds to a position of this side."""
        return OrderSide.BUY if self is PositionSide.LONG else OrderSide.SELL

    @property
    def close_order_side(self) -> OrderSide:
        """The order side that reduces a position of this side."""
        return self.entry_order_side.opposite

    @property
    def sign(self) -> int:
        return 1 if self is PositionSide.LONG else -1


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP_MARKET = "stop_market"
    TAKE_PROFIT_MARKET = "take_profit_market"


class OrderStatus(StrEnum):
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"

    @property
    def is_open(self) -> bool:
        return self in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


class MarginMode(StrEnum):
    ISOLATED = "isolated"
    CROSS = "cross"


class TradingState(StrEnum):
    """ACTIVE admits everything, REDUCING only exposure-reducing orders, HALTED only cancels and closes."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"

    @property
    def severity(self) -> int:
        return {"ACTIVE": 0, "REDUCING": 1, "HALTED": 2}[self.value]


class AccountStatus(StrEnum):
    OK = "ok"
    STALE = "stale"
    ERROR = "error"


class RiskLevel(StrEnum):
    LOW = "LOW"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"
    PROFITABLE = "PROFITABLE"


@dataclass(frozen=True)
class MarketSpec:
    """Contract specification of one USDT-margined linear perpetual (quantities in base coin).

    ``maintenance_margin_rate`` is the first tier's rate, or None when it is unknown: some venues publish it
    only per symbol (position tiers), read when a rule needs it. It has no default, so every source states
    what it knows; unknown is never replaced by a typical figure, and the liquidation rule denies instead.
    """

    symbol: str
    base: str
    quote: str
    min_qty: Decimal
    qty_step: Decimal
    price_tick: Decimal
    min_notional: Decimal
    max_leverage: int
    contract_size: Decimal = Decimal(1)
    maintenance_margin_rate: Decimal | None = field(kw_only=True)


@dataclass(frozen=True)
class Ticker:
    symbol: str
    last: Decimal
    mark: Decimal
    timestamp: datetime
    bid: Decimal | None = None
    ask: Decimal | None = None
    volume_quote_24h: Decimal | None = None


@dataclass(frozen=True)
class Candle:
    """One OHLCV bar; ``ts`` is the bar's open time (UTC)."""

    ts: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True)
class Balance:
    """USDT margin balance. ``equity`` = wallet balance + unrealized P&L.

    ``equity_formula`` is set when the venue sends no equity and the adapter infers it as a sum of other fields:
    it names that sum, and the pages show the figure as estimated.
    """

    currency: str
    wallet: Decimal
    equity: Decimal
    available: Decimal
    margin_used: Decimal
    unrealized_pnl: Decimal
    equity_formula: str | None = None


@dataclass(frozen=True)
class Position:
    symbol: str
    side: PositionSide
    size: Decimal  # base-coin quantity, always > 0
    entry_price: Decimal
    mark_price: Decimal
    leverage: Decimal
    margin_mode: MarginMode
    liquidation_price: Decimal | None  # None: the exchange reports no liquidation price
    unrealized_pnl: Decimal
    margin: Decimal | None = None
    opened_at: datetime | None = None
    position_id: str | None = None  # the venue's own id where it has one (Bitunix; the paper venue's is never reused)

    @property
    def identity(self) -> str:
        """Return a key that tells this position apart from every earlier or later one on the same account.

        A venue may reuse its own position id once a position closes, so the open time is part of the key when
        the venue reports one; the entry price stands in only where there is neither id nor open time.
        """
        parts = [self.symbol, self.side.value]
        if self.position_id:
            parts.append(f"id={self.position_id}")
        if self.opened_at is not None:
            parts.append(f"opened={self.opened_at.isoformat()}")
        if len(parts) == 2:
            parts.append(f"entry={self.entry_price.normalize():f}")
        return "|".join(parts)

    @property
    def notional(self) -> Decimal:
        return self.size * self.mark_price

    @property
    def pnl_pct(self) -> Decimal:
        """Unrealized P&L as a percentage of entry notional (the price move in the position's favour)."""
        if self.entry_price == 0:
            return ZERO
        move = (self.mark_price - self.entry_price) / self.entry_price * 100
        return move * self.side.sign


@dataclass(frozen=True)
class Order:
    id: str
    symbol: str
    side: OrderSide
    type: OrderType
    status: OrderStatus
    qty: Decimal | None  # None for a position-level trigger that closes whatever is open
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    reduce_only: bool = False
    close_position: bool = False
    client_id: str | None = None
    filled_qty: Decimal = ZERO
    avg_fill_price: Decimal | None = None
    fee: Decimal = ZERO
    created_at: datetime | None = None
    position_side: PositionSide | None = None

    @property
    def is_stop_loss(self) -> bool:
        return self.type is OrderType.STOP_MARKET and (self.reduce_only or self.close_position)

    @property
    def is_take_profit(self) -> bool:
        return self.type is OrderType.TAKE_PROFIT_MARKET and (self.reduce_only or self.close_position)

    @property
    def is_protective(self) -> bool:
        return self.is_stop_loss or self.is_take_profit


@dataclass(frozen=True)
class OrderRequest:
    """What a caller wants. The gateway rounds it and gives it a client id before an adapter sees it."""

    symbol: str
    side: OrderSide
    type: OrderType
    qty: Decimal
    price: Decimal | None = None
    reduce_only: bool = False
    client_id: str | None = None
    leverage: int | None = None
    margin_mode: MarginMode | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None


@dataclass(frozen=True)
class Protection:
    """Position-level stop-loss and take-profit found resting on the exchange for one position."""

    stop_loss: Decimal | None
    take_profit: Decimal | None
    stop_covers_full_size: bool


@dataclass(frozen=True)
class AccountSnapshot:
    """What one poll learned about one account.

    ``fetched_at`` is the time of the last *successful* read; when a read fails the previous figures are
    kept with ``status`` STALE (or ERROR if there never were any) and ``error`` says why. A figure is never
    invented: ``balance`` is None when nothing real is known.
    """

    account: str
    exchange: str
    mode: str  # "paper" or "live"
    status: AccountStatus
    attempted_at: datetime
    fetched_at: datetime | None
    error: str | None = None
    balance: Balance | None = None
    positions: tuple[Position, ...] = ()
    orders: tuple[Order, ...] = ()
    simulated: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def stale_since(self) -> datetime | None:
        return self.fetched_at if self.status is not AccountStatus.OK else None


@dataclass(frozen=True)
class Verdict:
    """A risk rule's answer. Denials are values, not exceptions."""

    allowed: bool
    rule: str
    reason: str
    until: datetime | None = None

    @classmethod
    def allow(cls, rule: str, reason: str = "ok") -> Verdict:
        return cls(True, rule, reason)

    @classmethod
    def deny(cls, rule: str, reason: str, until: datetime | None = None) -> Verdict:
        return cls(False, rule, reason, until)
