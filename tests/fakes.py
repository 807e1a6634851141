"""Small test doubles shared by several test modules."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from riskmgr.core.domain import (
    Balance,
    Candle,
    MarginMode,
    MarketSpec,
    Order,
    OrderRequest,
    Position,
    PositionSide,
    Ticker,
)
from riskmgr.core.errors import NotSupportedError
from riskmgr.exchanges.base import ExchangeAdapter

BTC = "BTC/USDT:USDT"


def balance(equity: str = "1000") -> Balance:
    e = Decimal(equity)
    return Balance("USDT", wallet=e, equity=e, available=e, margin_used=Decimal(0), unrealized_pnl=Decimal(0))


def long_btc(size: str = "0.01", entry: str = "50000", mark: str = "50000") -> Position:
    return Position(
        symbol=BTC, side=PositionSide.LONG, size=Decimal(size), entry_price=Decimal(entry), mark_price=Decimal(mark),
        leverage=Decimal(5), margin_mode=MarginMode.ISOLATED, liquidation_price=Decimal("40250"),
        unrealized_pnl=(Decimal(mark) - Decimal(entry)) * Decimal(size),
    )


class ReadOnlyFake(ExchangeAdapter):
    """An adapter whose reads return what the test sets, fail when told to, and may block on a hook."""

    exchange = "fake"
    mode = "live"

    def __init__(self, account: str, equity: str = "1000"):
        super().__init__(account)
        self.balance = balance(equity)
        self.positions: list[Position] = []
        self.orders: list[Order] = []
        self.fail_with: Exception | None = None
        self.before_read: Callable[[], None] | None = None
        self.reads = 0
        self._lock = threading.Lock()

    def fetch_balance(self) -> Balance:
        with self._lock:
            self.reads += 1
        if self.before_read:
            self.before_read()
        if self.fail_with is not None:
            raise self.fail_with
        return self.balance

    def fetch_positions(self) -> list[Position]:
        if self.fail_with is not None:
            raise self.fail_with
        return list(self.positions)

    def fetch_open_orders(self) -> list[Order]:
        if self.fail_with is not None:
            raise self.fail_with
        return list(self.orders)

    def fetch_markets(self) -> dict[str, MarketSpec]:
        spec = MarketSpec(BTC, "BTC", "USDT", Decimal("0.001"), Decimal("0.001"), Decimal("0.1"), Decimal(5), 125,
                          maintenance_margin_rate=Decimal("0.005"))
        return {BTC: spec}

    def fetch_tickers(self) -> dict[str, Ticker]:
        raise NotSupportedError("fake has no tickers")

    def fetch_candles(
        self, symbol: str, timeframe: str, since: datetime | None = None, limit: int = 500
    ) -> list[Candle]:
        raise NotSupportedError("fake has no candles")

    def place_order(self, request: OrderRequest) -> Order:
        raise NotSupportedError("read-only fake")

    def place_position_protection(self, symbol, side, *, stop_loss=None, take_profit=None, client_id=None):  # type: ignore[no-untyped-def]
        raise NotSupportedError("read-only fake")

    def cancel_order(self, symbol: str, order_id: str) -> None:
        raise NotSupportedError("read-only fake")

    def cancel_all_orders(self, symbol: str | None = None, *, include_protective: bool = True) -> list[str]:
        raise NotSupportedError("read-only fake")

    def close_position(self, symbol: str, side: PositionSide, client_id: str | None = None) -> Order:
        raise NotSupportedError("read-only fake")

    def set_leverage(self, symbol: str, leverage: int) -> None:
        raise NotSupportedError("read-only fake")
