"""The one interface every exchange sits behind: paper, Bitunix, Bitget, Binance USDⓈ-M.

Contract (every adapter, every method):

| method | returns | on failure raises |
|---|---|---|
| fetch_balance() | Balance (USDT) | TemporaryError, RateLimitError, AuthError, MalformedResponseError |
| fetch_positions() | list[Position], mark price filled in | same |
| fetch_open_orders() | list[Order] incl. trigger, stop-loss and take-profit orders | same |
| fetch_markets() | dict[symbol, MarketSpec] | same |
| fetch_tickers() | dict[symbol, Ticker] | same |
| fetch_candles(symbol, tf, since, limit) | list[Candle], oldest first | same |
| place_order(OrderRequest) | Order as accepted (client_id echoed) | + InsufficientFundsError, InvalidOrderError |
| place_position_protection(...) | list[Order] placed (stop and/or target) | + InvalidOrderError, NotFoundError |
| cancel_order(symbol, order_id) | None | + NotFoundError |
| cancel_all_orders(symbol?, include_protective) | list of cancelled order ids | same |
| close_position(symbol, side, client_id) | the reduce-only market Order | + NotFoundError |
| set_leverage(symbol, leverage) | None | + InvalidOrderError |

Rules: symbols are ccxt-unified (``BTC/USDT:USDT``); quantities are base-coin Decimals; no method ever
returns an invented figure (a failed read raises); vendor exceptions are translated with ``raise ... from``.
Adapters are reached for writes only through ``risk.gateway.OrderGateway``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from decimal import Decimal

from riskmgr.domain import (
    Balance,
    Candle,
    MarketSpec,
    Order,
    OrderRequest,
    Position,
    PositionSide,
    Ticker,
)


class ExchangeAdapter(ABC):
    """One trading account on one venue."""

    exchange: str = "abstract"
    mode: str = "live"  # "paper" or "live"
    simulated: bool = False

    def __init__(self, account: str):
        self.account = account

    def __repr__(self) -> str:  # never shows keys
        return f"<{type(self).__name__} account={self.account!r} exchange={self.exchange!r}>"

    # -- reads --------------------------------------------------------------------------------------
    @abstractmethod
    def fetch_balance(self) -> Balance:
        """Return the USDT futures balance."""

    @abstractmethod
    def fetch_positions(self) -> list[Position]:
        """Return every open position."""

    @abstractmethod
    def fetch_open_orders(self) -> list[Order]:
        """Return every open order, including trigger and TP/SL orders."""

    @abstractmethod
    def fetch_markets(self) -> dict[str, MarketSpec]:
        """Return the contract specs of every USDT perpetual."""

    @abstractmethod
    def fetch_tickers(self) -> dict[str, Ticker]:
        """Return last and mark prices of every USDT perpetual."""

    @abstractmethod
    def fetch_candles(
        self, symbol: str, timeframe: str, since: datetime | None = None, limit: int = 500
    ) -> list[Candle]:
        """Return candles oldest first."""

    # -- writes (only through the OrderGateway) -----------------------------------------------------
    @abstractmethod
    def place_order(self, request: OrderRequest) -> Order:
        """Place a market or limit order."""

    @abstractmethod
    def place_position_protection(
        self,
        symbol: str,
        side: PositionSide,
        *,
        stop_loss: Decimal | None = None,
        take_profit: Decimal | None = None,
        client_id: str | None = None,
    ) -> list[Order]:
        """Place position-level stop-loss and/or take-profit trigger orders (close the whole position)."""

    @abstractmethod
    def cancel_order(self, symbol: str, order_id: str) -> None:
        """Cancel one order (plain or trigger)."""

    @abstractmethod
    def cancel_all_orders(self, symbol: str | None = None, *, include_protective: bool = True) -> list[str]:
        """Cancel open orders (optionally keeping stop-loss/take-profit orders); return the ids cancelled."""

    @abstractmethod
    def close_position(self, symbol: str, side: PositionSide, client_id: str | None = None) -> Order:
        """Close one position with a reduce-only market order."""

    @abstractmethod
    def set_leverage(self, symbol: str, leverage: int) -> None:
        """Set the leverage used for new positions on ``symbol``."""
