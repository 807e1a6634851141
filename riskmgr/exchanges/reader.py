"""Read-only views of the exchange adapters: everything but the order gateway gets these.

Writes (orders, cancels, leverage) are reachable only through ``risk.gateway.OrderGateway``, which holds
the adapters themselves; a reader has no method that changes anything on an exchange.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from riskmgr.core.domain import Balance, Candle, MarketSpec, Order, Position, Ticker
from riskmgr.core.errors import NotSupportedError
from riskmgr.exchanges.base import ExchangeAdapter
from riskmgr.risk.context import ClosedTrade


class AccountReader:
    """The read side of one account's adapter."""

    __slots__ = ("_adapter", "account", "concurrent_reads", "exchange", "mode", "simulated")

    def __init__(self, adapter: ExchangeAdapter):
        self._adapter = adapter
        self.account = adapter.account
        self.exchange = adapter.exchange
        self.mode = adapter.mode
        self.simulated = adapter.simulated
        self.concurrent_reads = bool(getattr(adapter, "concurrent_reads", False))

    def __repr__(self) -> str:
        return f"<AccountReader {self._adapter!r}>"

    def fetch_balance(self) -> Balance:
        return self._adapter.fetch_balance()

    def fetch_positions(self) -> list[Position]:
        return self._adapter.fetch_positions()

    def fetch_open_orders(self) -> list[Order]:
        return self._adapter.fetch_open_orders()

    def fetch_markets(self) -> dict[str, MarketSpec]:
        return self._adapter.fetch_markets()

    def fetch_tickers(self) -> dict[str, Ticker]:
        return self._adapter.fetch_tickers()

    def fetch_candles(
        self, symbol: str, timeframe: str, since: datetime | None = None, limit: int = 500
    ) -> list[Candle]:
        return self._adapter.fetch_candles(symbol, timeframe, since, limit)

    def taker_fee_rate(self, symbol: str) -> Decimal | None:
        return self._adapter.taker_fee_rate(symbol)

    def slippage_rate(self, symbol: str) -> Decimal | None:
        return self._adapter.slippage_rate(symbol)

    def fetch_closed_trades(self, since: datetime) -> list[ClosedTrade]:
        """Return the closes (full or partial) since ``since``, newest first; raise when the venue cannot say."""
        fetch: Callable[[datetime], list[ClosedTrade]] | None = getattr(self._adapter, "fetch_closed_trades", None)
        if fetch is None:
            raise NotSupportedError(
                f"the {self.exchange} adapter cannot report closed trades",
                account=self.account, operation="fetch_closed_trades",
            )
        return fetch(since)

    def sync(self) -> None:
        """Let a simulated venue match resting orders and triggers against the latest prices."""
        sync = getattr(self._adapter, "sync", None)
        if sync is not None:
            sync()
