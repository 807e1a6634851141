"""The one interface every exchange sits behind: paper, Bitunix, Bitget, Binance USDⓈ-M.

Contract (every adapter, every method):

| method | returns | on failure raises |
|---|---|---|
| fetch_balance() | Balance (USDT) | TemporaryError, RateLimitError, AuthError, MalformedResponseError |
| fetch_positions() | list[Position], mark price filled in | same |
| fetch_open_orders() | list[Order] incl. trigger, stop-loss and take-profit orders | same |
| fetch_markets() | dict[symbol, MarketSpec]; maintenance rate None where the list has none | same |
| fetch_maintenance_margin_rate(symbol) | Decimal: first tier's rate, read once per symbol | + InvalidOrderError |
| fetch_tickers() | dict[symbol, Ticker] | same |
| fetch_candles(symbol, tf, since, limit) | list[Candle], oldest first | same |
| place_order(OrderRequest) | Order as accepted (client_id echoed) | + InsufficientFundsError, InvalidOrderError |
| place_position_protection(...) | list[Order] placed (stop and/or target) | + InvalidOrderError, NotFoundError |
| replace_position_protection(...) | list[Order] protecting the whole position | + InvalidOrderError, NotFoundError |
| cancel_order(symbol, order_id) | None | + NotFoundError |
| cancel_all_orders(symbol?, include_protective) | list of cancelled order ids | same |
| close_position(symbol, side, client_id) | the reduce-only market Order | + NotFoundError |
| set_leverage(symbol, leverage) | None | + InvalidOrderError |
| set_margin_mode(symbol, margin_mode) | None | + InvalidOrderError, NotSupportedError |
| close_all_positions(symbol?) | one closing Order per position | + the first failure, after trying every one |
| fetch_closed_trades(since) | list[ClosedTrade] newest first, symbol and side set where known | + NotSupportedError |

Rules: symbols are ccxt-unified (``BTC/USDT:USDT``); quantities are base-coin Decimals; no method ever
returns an invented figure (a failed read raises); vendor exceptions are translated with ``raise ... from``.
Adapters are reached for writes only through ``risk.gateway.OrderGateway``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
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
from riskmgr.core.errors import ExchangeError, InvalidOrderError, NotSupportedError
from riskmgr.risk.context import ClosedTrade


class ExchangeAdapter(ABC):
    """One trading account on one venue."""

    exchange: str = "abstract"
    mode: str = "live"  # "paper" or "live"
    simulated: bool = False
    attaches_protection: bool = True  # False: an entry order cannot carry its stop-loss / take-profit
    concurrent_reads: bool = False  # True: balance, positions and open orders may be read at the same time

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

    # -- defaults every adapter may refine ----------------------------------------------------------
    def fetch_maintenance_margin_rate(self, symbol: str) -> Decimal:
        """Return the first-tier maintenance margin rate of ``symbol`` (this default: the one in its spec)."""
        spec = self.fetch_markets().get(symbol)
        if spec is None:
            raise InvalidOrderError(f"{symbol!r} is not a USDT perpetual on {self.exchange}", account=self.account,
                                    operation="fetch_maintenance_margin_rate")
        if spec.maintenance_margin_rate is None:
            raise NotSupportedError(
                f"the {self.exchange} adapter cannot read the maintenance margin rate of {symbol}",
                account=self.account, operation="fetch_maintenance_margin_rate",
            )
        return spec.maintenance_margin_rate

    def taker_fee_rate(self, symbol: str) -> Decimal | None:
        """Return the taker fee of ``symbol`` as a fraction (0.0005 = 0.05 %), or None where the adapter cannot say."""
        return None

    def slippage_rate(self, symbol: str) -> Decimal | None:
        """Return the slippage per fill of ``symbol`` as a fraction where it is a setting (paper), else None."""
        return None

    def replace_position_protection(
        self,
        symbol: str,
        side: PositionSide,
        *,
        stop_loss: Decimal | None,
        take_profit: Decimal | None,
        client_id: str | None = None,
    ) -> list[Order]:
        """Make one stop-loss (and take-profit, when given) cover the whole current position, replacing any before.

        Never closes the position. A venue that must cancel before it places restores the old level when the new
        one is refused and raises; the error's message says whether the old protection is back.
        """
        raise NotSupportedError(
            f"the {self.exchange} adapter cannot replace a position's protection", account=self.account,
            operation="replace_position_protection",
        )

    def fetch_closed_trades(self, since: datetime) -> list[ClosedTrade]:
        """Return the closes (full or partial) since ``since``, newest first, with their P&L after fees."""
        raise NotSupportedError(
            f"the {self.exchange} adapter cannot report closed trades", account=self.account,
            operation="fetch_closed_trades",
        )

    def set_margin_mode(self, symbol: str, margin_mode: MarginMode) -> None:
        """Set cross or isolated margin for new positions on ``symbol``."""
        raise NotSupportedError(
            f"the {self.exchange} adapter cannot change the margin mode", account=self.account,
            operation="set_margin_mode",
        )

    def close_all_positions(self, symbol: str | None = None) -> list[Order]:
        """Close every position (of one symbol, or all) one by one; raise the first failure after trying all."""
        positions = [p for p in self.fetch_positions() if symbol is None or p.symbol == symbol]
        closed: list[Order] = []
        failures: list[tuple[Position, ExchangeError]] = []
        for position in positions:
            try:
                closed.append(self.close_position(position.symbol, position.side))
            except ExchangeError as exc:  # keep going: a flattening must not stop at the first refusal
                failures.append((position, exc))
        if failures:
            first = failures[0][1]
            detail = "; ".join(f"{p.symbol} {p.side.value}: {exc.describe()}" for p, exc in failures)
            # keep the first failure's class (a caller decides by it) unless it needs other arguments
            kind = type(first) if type(first).__init__ is ExchangeError.__init__ else ExchangeError
            raise kind(
                f"{len(failures)} of {len(positions)} position(s) not closed: {detail}", account=self.account,
                operation="close_all_positions", code=first.code,
            )
        return closed
