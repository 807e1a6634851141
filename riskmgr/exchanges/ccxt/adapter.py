"""Bitget and Binance USDⓈ-M through the sync ccxt classes: construction, error translation, shared flows.

Exchange quirks live in small subclasses (``bitget.py``, ``binance.py``); this module holds what both share:
building the ccxt client (host override, timeout, injected markets), translating every ccxt exception into
our tree at the boundary, scrubbing secrets from messages and wire logs, contract specs, candles, leverage,
plain orders and the cancel-all flow. Balances, positions and orders are read from the exchanges' raw strings
(ccxt's ``info``/implicit endpoints) into Decimal, never from ccxt's unified floats, by the readers in
``ccxt_fields.py``.
"""

from __future__ import annotations

import logging
import re
import threading
from abc import abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import ccxt

from riskmgr.core.clock import Clock, SystemClock, to_ms
from riskmgr.core.domain import Candle, MarginMode, MarketSpec, Order, OrderRequest, PositionSide
from riskmgr.core.errors import (
    AuthError,
    DuplicateClientIdError,
    ExchangeError,
    InsufficientFundsError,
    InvalidOrderError,
    MalformedResponseError,
    NotFoundError,
    NotSupportedError,
    RateLimitError,
    TemporaryError,
    ValidationError,
)
from riskmgr.exchanges.base import ExchangeAdapter
from riskmgr.exchanges.ccxt.fields import candle, positive
from riskmgr.exchanges.ccxt.protection import replace_protection
from riskmgr.exchanges.retry import retry_after_from

log = logging.getLogger(__name__)
WIRE_LOGGER = "riskmgr.exchanges.ccxt.wire"
MIN_NOTIONAL_FLOOR = Decimal(5)  # the product rule: never below 5 USDT whatever the exchange says
_MAX_MESSAGE = 400

# Most specific first: DuplicateOrderId is an InvalidOrder, RateLimitExceeded and DDoSProtection are siblings
# under NetworkError, and BadResponse must win over the OperationFailed catch-all for temporary trouble.
# Our own checks raise via _fail() inside _op(), which fills in the operation.
_TRANSLATION: tuple[tuple[type[Exception], type[ExchangeError]], ...] = (
    (ccxt.DuplicateOrderId, DuplicateClientIdError), (ccxt.RateLimitExceeded, RateLimitError),
    (ccxt.DDoSProtection, RateLimitError), (ccxt.BadResponse, MalformedResponseError),
    (ccxt.OperationFailed, TemporaryError),  # NetworkError, RequestTimeout, ExchangeNotAvailable, InvalidNonce
    (ccxt.AuthenticationError, AuthError), (ccxt.InsufficientFunds, InsufficientFundsError),
    (ccxt.OrderNotFound, NotFoundError), (ccxt.InvalidOrder, InvalidOrderError),
    (ccxt.BadRequest, InvalidOrderError), (ccxt.NotSupported, NotSupportedError),
)
_CODE = re.compile(r'"code"\s*:\s*"?(-?\d+)')
_SIGNATURE = re.compile(r"(signature=)[0-9a-fA-F]+")
_AUTH_HEADER = re.compile(r"('(?:ACCESS-KEY|ACCESS-SIGN|ACCESS-PASSPHRASE|X-MBX-APIKEY)'\s*:\s*')[^']*", re.IGNORECASE)


def sanitize(text: str, secrets: Sequence[str]) -> str:
    """Return ``text`` with keys, secrets, passphrases, signatures and auth headers masked, and shortened."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _AUTH_HEADER.sub(r"\1***", _SIGNATURE.sub(r"\1***", text))
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + "…"


def exchange_code(message: str) -> str | None:
    """Return the exchange's error code quoted in a ccxt message body, if any."""
    match = _CODE.search(message)
    return match.group(1) if match else None


class _RedactingLogger(logging.LoggerAdapter[logging.Logger]):
    """ccxt logs every request with its headers at DEBUG; format first, then mask, so keys never reach a log."""

    def __init__(self, logger: logging.Logger, secrets: Sequence[str]):
        super().__init__(logger, {})
        self._secrets = tuple(secrets)

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if not self.logger.isEnabledFor(level):
            return
        text = str(msg) % args if args else str(msg)
        self.logger.log(level, "%s", sanitize(text, self._secrets))


@dataclass(frozen=True)
class OpenOrder:
    """An open order plus how the exchange files it (Bitget: normal or a plan type; Binance: regular/algo)."""

    order: Order
    kind: str
    plan_type: str | None = None


class CcxtAdapter(ExchangeAdapter):
    """An ExchangeAdapter over one sync ccxt client; subclasses supply the exchange's endpoints and parsing."""

    duplicate_codes: frozenset[str] = frozenset()  # exchange codes meaning "client order id already used"
    not_found_codes: frozenset[str] = frozenset()  # exchange codes meaning "no such order or position"
    concurrent_reads = True  # one requests.Session per client; markets load under a lock; errors read their own reply

    def __init__(self, account: str, client: ccxt.Exchange, secrets: Sequence[str], *, timeout_s: float = 10,
                 markets: list[dict[str, Any]] | None = None, clock: Clock | None = None):
        super().__init__(account)
        self._clock: Clock = clock or SystemClock()  # reads an HTTP-date Retry-After against it
        self._secrets = tuple(s for s in secrets if s)
        self._markets_lock = threading.RLock()
        self.client = client
        client.timeout = int(timeout_s * 1000)
        client.logger = _RedactingLogger(logging.getLogger(WIRE_LOGGER), self._secrets)
        if markets is not None:
            self.set_markets(markets)

    # -- boundary ------------------------------------------------------------------------------------
    @contextmanager
    def _op(self, operation: str) -> Iterator[None]:
        """Translate every vendor exception raised inside into our tree, with account and operation."""
        try:
            yield
        except ExchangeError as exc:
            exc.account = exc.account or self.account
            exc.operation = exc.operation or operation
            raise
        except ccxt.BaseError as exc:
            raise self._translate(operation, exc) from exc
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            # ccxt's own parsers trip over shapes they did not expect; that is a reply we cannot read.
            message = sanitize(f"unreadable reply ({type(exc).__name__}: {exc})", self._secrets)
            exc.args = (message,)
            raise MalformedResponseError(message, account=self.account, operation=operation) from exc

    def _translate(self, operation: str, exc: ccxt.BaseError) -> ExchangeError:
        message = sanitize(str(exc), self._secrets)
        exc.args = (message,)  # the chained cause is shown in tracebacks too: keep it clean
        code = exchange_code(message)
        by_class = next((ours for theirs, ours in _TRANSLATION if isinstance(exc, theirs)), ExchangeError)
        error = self._kind_for_code(code, by_class)(message, account=self.account, operation=operation, code=code)
        if isinstance(error, RateLimitError):  # the throttled reply's headers may name the wait (Binance 418/429)
            error.retry_after = retry_after_from(self._reply_headers(exc), self._clock.now())
        return error

    def _reply_headers(self, exc: ccxt.BaseError) -> Mapping[str, str] | None:
        """Return the headers of the reply that raised ``exc`` (its HTTP error first: another thread may call)."""
        http_error = exc.__cause__ or exc.__context__
        headers = getattr(getattr(http_error, "response", None), "headers", None)
        return headers if headers is not None else getattr(self.client, "last_response_headers", None)

    def _kind_for_code(self, code: str | None, default: type[ExchangeError]) -> type[ExchangeError]:
        """Return the error class an exchange code demands where ccxt's own class is too vague."""
        if code in self.duplicate_codes:
            return DuplicateClientIdError
        return NotFoundError if code in self.not_found_codes else default

    def _fail(self, kind: type[ExchangeError], message: str, code: str | None = None) -> ExchangeError:
        return kind(sanitize(message, self._secrets), account=self.account, code=code)

    # -- markets -------------------------------------------------------------------------------------
    def set_markets(self, markets: list[dict[str, Any]]) -> None:
        """Use these ccxt market structures instead of loading them (tests, or a cache shared by accounts)."""
        with self._markets_lock:
            self.client.set_markets(markets)

    def load_markets(self, reload: bool = False) -> None:
        """Load the exchange's markets once (or again when ``reload``)."""
        with self._markets_lock, self._op("load_markets"):
            if reload or not self.client.markets:
                self.client.load_markets(reload=reload)

    def markets_snapshot(self) -> list[dict[str, Any]]:
        """Return the loaded ccxt markets, JSON-serialisable, for caching and ``markets=`` injection."""
        self.load_markets()
        return list(self.client.markets.values())

    def _market(self, symbol: str) -> dict[str, Any]:
        self.load_markets()
        market: dict[str, Any] | None = self.client.markets.get(symbol)
        if market is None or not self._is_usdt_perp(market):
            raise self._fail(InvalidOrderError, f"{symbol!r} is not a USDT perpetual on {self.exchange}")
        return market

    def _native(self, symbol: str) -> str:
        return str(self._market(symbol)["id"])

    def _symbol_of(self, native_id: str, where: str, *, reload: bool = True) -> str | None:
        """Return the unified symbol of a native id; reload markets once for a listing newer than ours."""
        found = self._find_symbol(native_id)
        if found is None and reload:
            self.load_markets(reload=True)
            found = self._find_symbol(native_id)
            if found is None:
                raise MalformedResponseError(f"{where}: unknown contract {native_id!r}")
        return found

    def _find_symbol(self, native_id: str) -> str | None:
        candidates = (self.client.markets_by_id or {}).get(native_id) or []
        return next((str(m["symbol"]) for m in candidates if self._is_usdt_perp(m)), None)

    @staticmethod
    def _is_usdt_perp(market: Mapping[str, Any]) -> bool:
        return bool(market.get("swap") and market.get("linear") and market.get("settle") == "USDT")

    def fetch_markets(self) -> dict[str, MarketSpec]:
        """Return the contract specs of every active USDT perpetual."""
        with self._op("fetch_markets"):
            self.load_markets()
            live = [m for m in self.client.markets.values() if self._is_usdt_perp(m) and m.get("active")]
            extra = self._market_extras(live)
            if extra is not None:  # a market the extra figures miss cannot be sized: leave it out
                live = [m for m in live if m["symbol"] in extra]
            return {str(m["symbol"]): self._spec(m, (extra or {}).get(str(m["symbol"]), {})) for m in live}

    def taker_fee_rate(self, symbol: str) -> Decimal | None:
        """Return the taker fee ccxt's market of ``symbol`` carries (the venue's base tier), or None without one."""
        with self._op("taker_fee_rate"):
            taker = self._market(symbol).get("taker")
            if taker is None:
                return None  # the caller falls back to the limits' estimate, labelled as one
            if not isinstance(taker, bool) and taker == 0:
                return Decimal(0)  # a promotion can waive the fee
            return positive(taker, f"market {symbol} taker")

    def _market_extras(self, markets: list[dict[str, Any]]) -> dict[str, dict[str, Any]] | None:
        """Return per-symbol figures the markets lack (``max_leverage``, ``mmr``), or None when none are needed."""
        return None

    def _spec(self, market: dict[str, Any], extra: Mapping[str, Any]) -> MarketSpec:
        symbol = str(market["symbol"])
        where = f"market {symbol}"
        limits, precision = market.get("limits") or {}, market.get("precision") or {}
        exchange_min = positive((limits.get("cost") or {}).get("min"), f"{where} limits.cost.min")
        max_leverage = extra.get("max_leverage") or (limits.get("leverage") or {}).get("max")
        return MarketSpec(
            symbol=symbol, base=str(market["base"]), quote=str(market["quote"]),
            min_qty=positive((limits.get("amount") or {}).get("min"), f"{where} limits.amount.min"),
            qty_step=positive(precision.get("amount"), f"{where} precision.amount"),
            price_tick=positive(precision.get("price"), f"{where} precision.price"),
            min_notional=max(exchange_min, MIN_NOTIONAL_FLOOR),
            max_leverage=int(positive(max_leverage, f"{where} limits.leverage.max")),
            contract_size=positive(market.get("contractSize"), f"{where} contractSize"),
            # None where the markets carry no rate (Bitget): fetch_maintenance_margin_rate reads it per symbol
            maintenance_margin_rate=extra.get("mmr"),
        )

    # -- shared reads and writes ---------------------------------------------------------------------
    def fetch_candles(self, symbol: str, timeframe: str, since: datetime | None = None,
                      limit: int = 500) -> list[Candle]:
        """Return candles oldest first."""
        with self._op("fetch_candles"):
            self._market(symbol)
            if timeframe not in (self.client.timeframes or {}):
                raise ValidationError("timeframe", f"{timeframe!r} is not one of {', '.join(self.client.timeframes)}")
            if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
                raise ValidationError("limit", f"{limit!r} must be a whole number from 1 to 1000")
            since_ms = to_ms(since) if since is not None else None
            bars = self.client.fetch_ohlcv(symbol, timeframe, since_ms, limit)
            if not isinstance(bars, list):  # None is no answer, not "no candles"
                raise MalformedResponseError(f"ohlcv {symbol} {timeframe}: expected a list of bars, got "
                                             f"{type(bars).__name__}")
            candles = [candle(bar, f"{symbol} {timeframe} candle") for bar in bars]
            return sorted(candles, key=lambda c: c.ts)

    def set_leverage(self, symbol: str, leverage: int) -> None:
        """Set the leverage used for new positions on ``symbol``."""
        with self._op("set_leverage"):
            if isinstance(leverage, bool) or not isinstance(leverage, int) or leverage < 1:
                raise self._fail(InvalidOrderError, f"leverage: {leverage!r} must be a whole number >= 1")
            self._market(symbol)
            self.client.set_leverage(leverage, symbol)

    def place_order(self, request: OrderRequest) -> Order:
        """Place a market or limit order (reduce-only and client order id passed through)."""
        with self._op("place_order"):
            market = self._market(request.symbol)
            kind = request.type.value
            if kind not in ("market", "limit") or (kind == "limit") != (request.price is not None):
                raise self._fail(InvalidOrderError, f"type: {kind} with price {request.price} is not placeable")
            if request.qty <= 0:
                raise self._fail(InvalidOrderError, f"qty: {request.qty} must be above zero")
            if request.leverage is not None:
                self.client.set_leverage(request.leverage, request.symbol)
            params = self._order_params(request, market)
            price = float(request.price) if request.price is not None else None
            side, qty = request.side.value, float(request.qty)
            result = self.client.create_order(request.symbol, kind, side, qty, price, params)
            return self._accepted_order(request, result)

    @abstractmethod
    def _order_params(self, request: OrderRequest, market: dict[str, Any]) -> dict[str, Any]:
        """Return the ccxt params for a plain order (client id, reduce-only, margin mode, attached TP/SL)."""

    @abstractmethod
    def _accepted_order(self, request: OrderRequest, result: dict[str, Any]) -> Order:
        """Return the Order for what create_order answered."""

    def _sent_qty(self, symbol: str, qty: Decimal) -> Decimal:
        """Return the quantity as ccxt sends it (truncated to the market's step)."""
        return Decimal(str(self.client.amount_to_precision(symbol, float(qty))))

    def fetch_open_orders(self) -> list[Order]:
        """Return every open order, including trigger and TP/SL orders."""
        with self._op("fetch_open_orders"):
            return [o.order for o in self._open_orders(None)]

    @abstractmethod
    def _open_orders(self, symbol: str | None) -> list[OpenOrder]:
        """Return the open orders (all symbols, or one) with the exchange's filing of each."""

    def cancel_order(self, symbol: str, order_id: str) -> None:
        """Cancel one order, plain or trigger (looked up first: each kind has its own endpoint)."""
        with self._op("cancel_order"):
            self._market(symbol)
            found = next((o for o in self._open_orders(symbol) if o.order.id == str(order_id)), None)
            if found is None:
                raise self._fail(NotFoundError, f"no open order {order_id} on {symbol}")
            self._cancel_one(found)

    def cancel_all_orders(self, symbol: str | None = None, *, include_protective: bool = True) -> list[str]:
        """Cancel open orders (optionally keeping stop-loss/take-profit orders); return the ids cancelled."""
        with self._op("cancel_all_orders"):
            if symbol is not None:
                self._market(symbol)
            listed = self._open_orders(symbol)
            if not include_protective:
                doomed = [o for o in listed if not o.order.is_protective]
                return [i for i in self._each(doomed, self._cancel_if_open, lambda o: f"order {o.order.id}") if i]
            cancelled: list[str] = []
            for sym in sorted({o.order.symbol for o in listed}):
                cancelled += self._cancel_symbol(sym, [o for o in listed if o.order.symbol == sym])
            return cancelled

    def _cancel_if_open(self, item: OpenOrder) -> str | None:
        try:
            with self._op("cancel_order"):
                self._cancel_one(item)
        except NotFoundError as exc:  # filled or cancelled since it was listed: nothing left to do
            log.info("%s: order %s already gone (%s)", self.account, item.order.id, exc)
            return None
        return item.order.id

    def _each(self, items: Sequence[Any], action: Callable[[Any], Any], label: Callable[[Any], str]) -> list[Any]:
        """Run ``action`` on every item even when some fail: a flattening must not stop at the first error."""
        done, failures = [], []
        for item in items:
            try:
                done.append(action(item))
            except ExchangeError as exc:
                failures.append((label(item), exc))
        if failures:
            first, detail = failures[0][1], "; ".join(f"{name}: {exc}" for name, exc in failures)
            raise self._fail(type(first), f"{len(failures)} of {len(items)} failed: {detail}", first.code)
        return done

    @abstractmethod
    def _cancel_one(self, item: OpenOrder) -> None:
        """Cancel one listed order through the endpoint its kind needs."""

    @abstractmethod
    def _cancel_symbol(self, symbol: str, listed: list[OpenOrder]) -> list[str]:
        """Cancel everything open on ``symbol`` in bulk; return the ids cancelled."""

    # -- replacing a position's protection (ccxt_protection.py) ----------------------------------------
    def replace_position_protection(self, symbol: str, side: PositionSide, *, stop_loss: Decimal | None,
                                    take_profit: Decimal | None, client_id: str | None = None) -> list[Order]:
        """Cancel the side's stop (and target, when given) and place position-level ones; restore on refusal."""
        with self._op("replace_position_protection"):
            return replace_protection(self, symbol, side, stop_loss, take_profit, client_id)

    def held(self, symbol: str, side: PositionSide) -> dict[str, Any]:
        """Return the venue's row of the open ``side`` position on ``symbol``; NotFoundError when there is none."""
        return self._held(self._native(symbol), side)

    def open_orders_of(self, symbol: str) -> list[OpenOrder]:
        """Return the open orders of one symbol with how the venue files each."""
        return self._open_orders(symbol)

    def cancel_listed(self, item: OpenOrder) -> str | None:
        """Cancel one listed order; None when it was already gone."""
        return self._cancel_if_open(item)

    @abstractmethod
    def _held(self, native: str, side: PositionSide) -> dict[str, Any]:
        """Return the venue's row of the open ``side`` position on ``native``; NotFoundError when there is none."""

    @abstractmethod
    def close_all_positions(self, symbol: str | None = None) -> list[Order]:
        """Close every position (of one symbol, or all) at market; return one closing Order per position."""

    def set_margin_mode(self, symbol: str, margin_mode: MarginMode) -> None:
        """Set cross or isolated margin for ``symbol``; already being in that mode is not an error."""
        with self._op("set_margin_mode"):
            self._market(symbol)
            try:
                self.client.set_margin_mode(MarginMode(margin_mode).value, symbol)
            except ccxt.MarginModeAlreadySet:  # Binance answers -4046 when nothing needs changing
                log.debug("%s: %s already in %s margin mode", self.account, symbol, margin_mode)
