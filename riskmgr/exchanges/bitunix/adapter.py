"""The Bitunix USDT-M futures account behind riskmgr's ExchangeAdapter interface.

Symbols are unified (``BTC/USDT:USDT``) everywhere outside this module; they become Bitunix ids only here.
Every reply is validated field by field (parse.py); a failed or odd read raises, it never yields a figure.
Order bodies and the Orders standing for TP/SL legs and closes are built in orders.py. trading_pairs lists no
maintenance margin rate: it is read from the symbol's position tiers when first asked for, then kept.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from riskmgr.core.clock import Clock, SystemClock, to_ms
from riskmgr.core.domain import (
    Balance,
    Candle,
    MarginMode,
    MarketSpec,
    Order,
    OrderRequest,
    OrderStatus,
    Position,
    PositionSide,
    Ticker,
)
from riskmgr.core.errors import ExchangeError, NotFoundError, NotSupportedError, ValidationError
from riskmgr.exchanges.base import ExchangeAdapter
from riskmgr.exchanges.bitunix import constants as C
from riskmgr.exchanges.bitunix import orders as O
from riskmgr.exchanges.bitunix import parse as P
from riskmgr.exchanges.bitunix.client import BatchResult, BitunixClient
from riskmgr.exchanges.tiers import RateCache
from riskmgr.risk.context import ClosedTrade

log = logging.getLogger(__name__)
MAX_CANDLES = 5000
HISTORY_POSITIONS = "/api/v1/futures/position/get_history_positions"
# get_history_positions filters by the position's *creation* time: ask this far back, then filter by mtime
HISTORY_LOOKBACK = timedelta(days=30)


class PartialCancelError(ExchangeError):
    """Some orders were cancelled and some were not. ``cancelled`` and ``failures`` say which and why."""

    def __init__(self, cancelled: list[str], failures: list[tuple[str, ExchangeError]], *, account: str = ""):
        detail = "; ".join(f"{oid}: {exc.describe()}" for oid, exc in failures)
        super().__init__(f"{len(failures)} order(s) not cancelled: {detail}", account=account,
                         operation="cancel_all_orders")
        self.cancelled = cancelled
        self.failures = failures


class BitunixAdapter(ExchangeAdapter):
    """One Bitunix futures account (live)."""

    exchange = "bitunix"
    mode = "live"
    concurrent_reads = True  # stateless signed requests (a fresh nonce each) over one requests.Session

    def __init__(self, account: str, client: BitunixClient, *, clock: Clock | None = None):
        super().__init__(account)
        self._client = client
        self._clock = clock or SystemClock()
        self._rates = RateCache()

    @classmethod
    def from_credentials(
        cls, account: str, api_key: str, secret: str, *, timeout: float = 10, clock: Clock | None = None
    ) -> BitunixAdapter:
        """Build an adapter with its own client."""
        clock = clock or SystemClock()
        return cls(account, BitunixClient(api_key, secret, timeout=timeout, clock=clock, account=account),
                   clock=clock)

    @contextmanager
    def _context(self, operation: str) -> Iterator[None]:
        """Stamp this account and ``operation`` on every exchange error that leaves the adapter.

        The client names the endpoint (a path) as the operation; the path moves into the message, which keeps it.
        An operation already named (a nested call such as set_leverage inside place_order) stays, as with ccxt.
        """
        try:
            yield
        except ExchangeError as exc:
            exc.account = exc.account or self.account
            endpoint = exc.operation or ""
            if endpoint.startswith("/") and endpoint not in str(exc):
                exc.args = (f"{endpoint}: {exc}",)
            if not endpoint or endpoint.startswith("/"):
                exc.operation = operation
            raise

    # -- reads ------------------------------------------------------------------------------------------
    def fetch_balance(self) -> Balance:
        """Return the USDT futures balance (equity inferred, see parse.parse_balance)."""
        with self._context("fetch_balance"):
            return P.parse_balance(self._client.get_account())

    def fetch_positions(self) -> list[Position]:
        """Return every open position with its mark price joined from the tickers."""
        with self._context("fetch_positions"):
            rows = self._position_rows()
            if not rows:
                return []
            natives = sorted({row.text("symbol").upper() for row in rows})
            marks = {t.text("symbol").upper(): t.positive("markPrice") for t in self._client.get_tickers(natives)}
            for native in natives:
                if native not in marks:
                    raise P.malformed(C.TICKERS, f"no markPrice for {native}, which has an open position")
            return [P.parse_position(row, marks[row.text("symbol").upper()]) for row in rows]

    def fetch_open_orders(self) -> list[Order]:
        """Return plain open orders plus every leg of every pending TP/SL order."""
        with self._context("fetch_open_orders"):
            orders = [P.parse_order(row) for row in self._client.get_pending_orders()]
            tpsl_rows = self._client.get_pending_tpsl()
            if tpsl_rows:
                sides = {row.text("positionId"): row.choice("side", C.POSITION_SIDES) for row in self._position_rows()}
                for row in tpsl_rows:
                    orders.extend(P.parse_tpsl_row(row, sides))
            return orders

    def fetch_markets(self) -> dict[str, MarketSpec]:
        """Return the spec of every USDT-margined perpetual (whatever its symbolStatus)."""
        with self._context("fetch_markets"):
            pairs = self._client.get_trading_pairs()
            specs = [P.parse_market(row) for row in pairs if row.text("quote").upper() in C.QUOTE_CURRENCIES]
            return {spec.symbol: spec for spec in specs}

    def fetch_maintenance_margin_rate(self, symbol: str) -> Decimal:
        """Return the first-tier maintenance margin rate of ``symbol`` (get_position_tiers, once per symbol)."""
        native = P.to_native(symbol)
        with self._context("fetch_maintenance_margin_rate"):
            return self._rates.get(native, lambda: self._tier_rate(native))

    def _tier_rate(self, native: str) -> Decimal:
        return P.parse_first_tier_rate(self._client.get_position_tiers(native), native)

    def fetch_tickers(self) -> dict[str, Ticker]:
        """Return last and mark prices of every USDT-margined perpetual."""
        with self._context("fetch_tickers"):
            rows = self._client.get_tickers()
            now = self._clock.now()
            tickers = [P.parse_ticker(row, now) for row in rows if P.is_supported_native(row.raw.get("symbol"))]
            return {ticker.symbol: ticker for ticker in tickers}

    def fetch_candles(
        self, symbol: str, timeframe: str, since: datetime | None = None, limit: int = 500
    ) -> list[Candle]:
        """Return up to ``limit`` bars oldest first: from ``since`` on, or the latest ones."""
        if timeframe not in C.INTERVALS:
            raise NotSupportedError(f"Bitunix has no {timeframe!r} candles; use one of {', '.join(C.INTERVALS)}",
                                    account=self.account, operation="fetch_candles")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_CANDLES:
            raise ValidationError("limit", f"{limit!r} is out of range; allowed 1–{MAX_CANDLES}")
        if since is not None and since.tzinfo is None:
            raise ValidationError("since", "must be a timezone-aware UTC datetime")
        native = P.to_native(symbol)
        interval, seconds = C.INTERVALS[timeframe]
        step, now_ms = seconds * 1000, to_ms(self._clock.now())
        if since is None:
            # One bar of slack: weekly bars need not start on an epoch-aligned boundary.
            start, end = (now_ms // step) * step - limit * step, now_ms
        else:
            start = to_ms(since)
            end = min(start + limit * step - 1, now_ms)
        with self._context("fetch_candles"):
            bars: dict[datetime, Candle] = {}
            for window in range(start, end + 1, C.KLINE_LIMIT * step):
                window_end = min(window + C.KLINE_LIMIT * step - 1, end)
                for row in self._client.get_klines(native, interval, window, window_end, C.KLINE_LIMIT):
                    candle = P.parse_candle(row)
                    bars[candle.ts] = candle
        ordered = [bars[ts] for ts in sorted(bars)]  # the docs do not promise an order
        return ordered[:limit] if since is not None else ordered[-limit:]

    def fetch_closed_trades(self, since: datetime) -> list[ClosedTrade]:
        """Return the positions closed since ``since``, newest first: symbol, side, realized P&L net of trading fees.

        Funding is left out: the docs do not say which sign a paid funding fee carries.
        """
        if since.tzinfo is None:
            raise ValidationError("since", "must be a timezone-aware UTC datetime")
        found: list[P.Row] = []
        with self._context("fetch_closed_trades"):
            for _page in range(C.MAX_PAGES):
                query = {"startTime": to_ms(since - HISTORY_LOOKBACK), "skip": len(found), "limit": C.PAGE_LIMIT}
                data = P.Row(self._client.get(HISTORY_POSITIONS, query), HISTORY_POSITIONS, "reply")
                page = P.rows(data.raw.get("positionList"), HISTORY_POSITIONS, "position")
                found.extend(page)
                if len(page) < C.PAGE_LIMIT or len(found) >= data.integer("total"):
                    break
            else:
                raise P.malformed(HISTORY_POSITIONS, f"more than {C.MAX_PAGES} pages of closed positions")
            trades = [P.parse_closed_position(row) for row in found]
        return sorted((t for t in trades if t.closed_at >= since), key=lambda t: t.closed_at, reverse=True)

    # -- writes -----------------------------------------------------------------------------------------
    def place_order(self, request: OrderRequest) -> Order:
        """Place a market or limit order, applying the request's leverage and margin mode first."""
        O.validate_request(request)
        native = P.to_native(request.symbol)
        with self._context("place_order"):
            if request.leverage is not None:
                self.set_leverage(request.symbol, request.leverage)
            if request.margin_mode is not None:
                self.set_margin_mode(request.symbol, request.margin_mode)
            reply = P.Row(self._client.place_order(self._order_body(request, native)), C.PLACE_ORDER, "reply")
            return Order(
                id=reply.text("orderId"),
                symbol=request.symbol,
                side=request.side,
                type=request.type,
                status=OrderStatus.NEW,
                qty=request.qty,
                price=request.price,
                reduce_only=request.reduce_only,
                client_id=reply.opt_text("clientId") or request.client_id,
                created_at=self._clock.now(),
            )

    def _order_body(self, request: OrderRequest, native: str) -> dict[str, Any]:
        if request.reduce_only:
            closing = self._position_row(native, O.side_reduced_by(request.side))
            return O.order_body(request, native, closing=closing)
        return O.order_body(request, native, hedge=P.parse_position_mode(self._client.get_account()) == "HEDGE")

    def place_position_protection(
        self,
        symbol: str,
        side: PositionSide,
        *,
        stop_loss: Decimal | None = None,
        take_profit: Decimal | None = None,
        client_id: str | None = None,
    ) -> list[Order]:
        """Place (or amend) the position-level TP/SL that closes the whole position at market.

        Bitunix allows one position TP/SL per position, so an existing one is modified; a leg not given
        here keeps its current price. The endpoint takes no client id, so ``client_id`` is not sent.
        """
        if stop_loss is None and take_profit is None:
            raise ValidationError("stop_loss", "give a stop-loss, a take-profit or both")
        for name, price in (("stop_loss", stop_loss), ("take_profit", take_profit)):
            if price is not None and not (price.is_finite() and price > 0):
                raise ValidationError(name, f"{price} must be a price greater than zero")
        native = P.to_native(symbol)
        with self._context("place_position_protection"):
            position_id = self._position_row(native, side).text("positionId")
            existing = [row for row in self._client.get_pending_tpsl(native, position_id)
                        if row.text("positionId") == position_id and P.is_position_tpsl(row)]
            if len(existing) > 1:
                raise P.malformed(C.TPSL_PENDING, f"position {position_id} has {len(existing)} position TP/SLs")
            body: dict[str, Any] = {"symbol": native, "positionId": position_id}
            for leg, price in (("sl", stop_loss), ("tp", take_profit)):
                O.merge_leg(body, leg, price, existing[0] if existing else None)
            if existing:
                reply = P.Row(self._client.modify_position_tpsl(body), C.TPSL_POSITION_MODIFY, "reply")
            else:
                reply = P.Row(self._client.place_position_tpsl(body), C.TPSL_POSITION_PLACE, "reply")
            return O.protection_orders(reply.text("orderId"), symbol, side, stop_loss, take_profit, self._clock.now())

    def replace_position_protection(
        self,
        symbol: str,
        side: PositionSide,
        *,
        stop_loss: Decimal | None,
        take_profit: Decimal | None,
        client_id: str | None = None,
    ) -> list[Order]:
        """Set the position's one position-level TP/SL to these levels (tpsl/position/modify_order when it exists).

        A position TP/SL closes the whole position at the moment it fires, so after an add it already covers the
        new size: amending its price is the whole replacement, with no moment unprotected. A leg not given keeps
        its current price; partial TP/SL rows (with a quantity) are left as they are.
        """
        return self.place_position_protection(symbol, side, stop_loss=stop_loss, take_profit=take_profit,
                                              client_id=client_id)

    def cancel_order(self, symbol: str, order_id: str) -> None:
        """Cancel one plain order, or one TP/SL order (cancelling a leg cancels its whole Bitunix row)."""
        native = P.to_native(symbol)
        with self._context("cancel_order"):
            tpsl = P.split_tpsl_id(order_id)
            if tpsl is not None:
                self._client.cancel_tpsl(native, tpsl[0])
                return
            result = self._client.cancel_orders(native, [order_id])
            if result.failed:
                raise result.failed[0].error(C.CANCEL_ORDERS, self.account)

    def cancel_all_orders(self, symbol: str | None = None, *, include_protective: bool = True) -> list[str]:
        """Cancel open orders (with or without TP/SL); raise PartialCancelError naming any that survived."""
        native = P.to_native(symbol) if symbol else None
        with self._context("cancel_all_orders"):
            if include_protective:
                results = [self._client.cancel_all_orders(native)]
            else:
                # cancel_all_orders is not documented to spare TP/SL orders, so cancel plain ones by id.
                results = self._cancel_plain_by_id(native)
            cancelled = [oid for result in results for oid in result.succeeded]
            failures = [(f.order_id or f.client_id or "?", f.error(C.CANCEL_ORDERS, self.account))
                        for result in results for f in result.failed]
            if include_protective:
                self._cancel_tpsl_rows(native, cancelled, failures)
        if failures:
            raise PartialCancelError(cancelled, failures, account=self.account)
        return cancelled

    def _cancel_plain_by_id(self, native: str | None) -> list[BatchResult]:
        by_symbol: dict[str, list[str]] = {}
        for row in self._client.get_pending_orders(native):
            by_symbol.setdefault(row.text("symbol"), []).append(row.text("orderId"))
        return [self._client.cancel_orders(sym, ids) for sym, ids in sorted(by_symbol.items())]

    def _cancel_tpsl_rows(
        self, native: str | None, cancelled: list[str], failures: list[tuple[str, ExchangeError]]
    ) -> None:
        for row in self._client.get_pending_tpsl(native):
            row_id, legs = row.text("id"), P.tpsl_legs(row)
            try:
                self._client.cancel_tpsl(row.text("symbol"), row_id)
            except ExchangeError as exc:  # keep going: every other stop must still be cancelled
                failures.append((row_id, exc))
                continue
            cancelled.extend(P.tpsl_leg_id(row_id, leg) for leg in legs)

    def close_position(self, symbol: str, side: PositionSide, client_id: str | None = None) -> Order:
        """Close one position at market with flash_close_position (which takes no client id)."""
        native = P.to_native(symbol)
        with self._context("close_position"):
            position = self._position_row(native, side)
            position_id = position.text("positionId")
            reply = self._client.flash_close_position(position_id)
            echoed = P.Row(reply, C.FLASH_CLOSE_POSITION, "reply").opt_text("positionId") if reply else None
            if echoed is not None and echoed != position_id:
                raise P.malformed(C.FLASH_CLOSE_POSITION, f"closed position {echoed}, asked for {position_id}")
            return O.closing_order(position, "flash_close", self._clock.now())

    def close_all_positions(self, symbol: str | None = None) -> list[Order]:
        """Close every position (of one symbol, or all) at market; return one closing Order per position read.

        Bitunix answers close_all_position with an empty string, so the orders describe the positions read
        just before the call; re-read positions to confirm the account is flat.
        """
        native = P.to_native(symbol) if symbol else None
        with self._context("close_all_positions"):
            positions = self._position_rows(native)
            if not positions:
                return []
            self._client.close_all_positions(native)
            now = self._clock.now()
            return [O.closing_order(row, "close_all", now) for row in positions]

    def set_leverage(self, symbol: str, leverage: int) -> None:
        """Set the leverage used for new positions on ``symbol``."""
        if isinstance(leverage, bool) or not isinstance(leverage, int) or leverage < 1:
            raise ValidationError("leverage", f"{leverage!r} must be a whole number of at least 1")
        native = P.to_native(symbol)
        with self._context("set_leverage"):
            self._client.change_leverage(native, leverage)

    def set_margin_mode(self, symbol: str, margin_mode: MarginMode) -> None:
        """Set isolated or cross margin on ``symbol`` (Bitunix refuses while orders or positions are open)."""
        native = P.to_native(symbol)
        with self._context("set_margin_mode"):
            self._client.change_margin_mode(native, C.MARGIN_MODE_NAMES[MarginMode(margin_mode)])

    # -- helpers ----------------------------------------------------------------------------------------
    def _position_rows(self, native: str | None = None) -> list[P.Row]:
        return P.rows(self._client.get_pending_positions(native), C.PENDING_POSITIONS, "position")

    def _position_row(self, native: str, side: PositionSide) -> P.Row:
        """Return the one open position of ``side`` on ``native``; NotFoundError when there is none."""
        matches = [row for row in self._position_rows(native)
                   if row.text("symbol").upper() == native and row.choice("side", C.POSITION_SIDES) is side]
        if not matches:
            raise NotFoundError(f"no open {side.value} position on {native}", operation=C.PENDING_POSITIONS)
        if len(matches) > 1:
            raise P.malformed(C.PENDING_POSITIONS, f"{len(matches)} {side.value} positions on {native}")
        return matches[0]
