"""A small hand-written Bitunix futures REST client on one requests.Session.

It signs exactly the bytes it sends, puts a timeout on every call, checks the ``{code, msg, data}``
envelope and translates every failure into the riskmgr exception tree. It returns the raw ``data`` of
each reply (parsing into domain objects is the adapter's job), except for the cancel lists, whose
per-item failures it turns into ``BatchResult`` so no failed id can go unnoticed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import requests

from riskmgr.core.clock import Clock, SystemClock, to_ms
from riskmgr.core.errors import AuthError, ExchangeError, MalformedResponseError, RateLimitError, TemporaryError
from riskmgr.exchanges.bitunix import constants as C
from riskmgr.exchanges.bitunix.auth import Secret, new_nonce, signed_headers
from riskmgr.exchanges.bitunix.parse import Row, malformed, rows
from riskmgr.exchanges.retry import retry_after_from

log = logging.getLogger(__name__)
_SNIPPET = 200  # characters of an unparseable body quoted in an error


@dataclass(frozen=True)
class BatchFailure:
    """One id the exchange refused inside an otherwise successful batch call."""

    order_id: str | None
    client_id: str | None
    code: int | None
    message: str

    def error(self, operation: str, account: str = "") -> ExchangeError:
        """Return the riskmgr exception this failure maps to."""
        cls = C.error_class_for(self.code) if self.code is not None else ExchangeError
        ident = self.order_id or self.client_id or "?"
        return cls(f"order {ident}: {self.message}", account=account, operation=operation,
                   code=None if self.code is None else str(self.code))


@dataclass(frozen=True)
class BatchResult:
    """What a cancel call did: the ids cancelled and, per refused id, why."""

    succeeded: tuple[str, ...]
    failed: tuple[BatchFailure, ...]


def compact_json(body: Mapping[str, Any]) -> str:
    """Return the compact JSON text (no spaces) that is both signed and sent."""
    return json.dumps(body, separators=(",", ":"))


class BitunixClient:
    """Signed access to the Bitunix futures REST API. Keys never appear in a repr, a log or an error."""

    def __init__(
        self,
        api_key: str,
        secret: str,
        *,
        base_url: str = C.BASE_URL,
        session: requests.Session | None = None,
        timeout: float = 10,
        clock: Clock | None = None,
        nonce_factory: Callable[[], str] = new_nonce,
        account: str = "",
    ):
        if timeout <= 0:
            raise ValueError(f"timeout must be positive seconds, got {timeout!r}")
        self._api_key = Secret(api_key)
        self._secret = Secret(secret)
        self._base_url = base_url.rstrip("/")
        self._session = session or requests.Session()
        self._timeout = timeout
        self._clock = clock or SystemClock()
        self._nonce_factory = nonce_factory
        self.account = account

    def __repr__(self) -> str:
        return f"<BitunixClient account={self.account!r} base_url={self._base_url!r}>"

    # -- transport --------------------------------------------------------------------------------------
    def get(self, path: str, query: Mapping[str, object] | None = None, *, signed: bool = True) -> Any:
        """Send a GET and return the reply's ``data``."""
        clean = {key: str(value) for key, value in (query or {}).items() if value is not None and value != ""}
        headers = self._headers(clean, "") if signed else {"language": C.LANGUAGE}
        return self._send("GET", path, params=clean, data=None, headers=headers)

    def post(self, path: str, body: Mapping[str, Any]) -> Any:
        """Send a signed POST with a compact JSON body and return the reply's ``data``."""
        text = compact_json(body)
        return self._send("POST", path, params=None, data=text.encode("utf-8"), headers=self._headers({}, text))

    def _headers(self, query: Mapping[str, object], body: str) -> dict[str, str]:
        timestamp = to_ms(self._clock.now())
        return signed_headers(self._api_key, self._secret, self._nonce_factory(), timestamp, query, body)

    def _send(self, method: str, path: str, *, params: Any, data: bytes | None, headers: dict[str, str]) -> Any:
        try:
            response = self._session.request(
                method, self._base_url + path, params=params, data=data, headers=headers, timeout=self._timeout
            )
        except requests.Timeout as exc:
            raise self._error(TemporaryError, f"no answer within {self._timeout}s", path) from exc
        except requests.ConnectionError as exc:
            raise self._error(TemporaryError, f"connection failed ({type(exc).__name__})", path) from exc
        except requests.RequestException as exc:
            raise self._error(TemporaryError, f"request failed ({type(exc).__name__})", path) from exc
        log.debug("bitunix %s %s -> HTTP %s", method, path, response.status_code)
        return self._unwrap(response, path)

    def _error(self, cls: type[ExchangeError], message: str, path: str, code: object = None) -> ExchangeError:
        return cls(self._scrub(message), account=self.account, operation=path,
                   code=None if code is None else str(code))

    def _scrub(self, message: str) -> str:
        """Mask the key and secret should the exchange's message (or a proxy's page) repeat them."""
        for credential in (self._api_key, self._secret):
            message = message.replace(credential.reveal(), "***")
        return message

    def _rate_limited(self, message: str, path: str, response: requests.Response, code: object = None
                      ) -> RateLimitError:
        """Return the RateLimitError of a throttled reply, carrying the wait its Retry-After header names."""
        error = RateLimitError(self._scrub(message), account=self.account, operation=path,
                               code=None if code is None else str(code))
        error.retry_after = retry_after_from(response.headers, self._clock.now())
        if error.retry_after is not None:
            log.info("bitunix %s: rate limited, the exchange asks to wait %.1f s", path, error.retry_after)
        return error

    def _unwrap(self, response: requests.Response, path: str) -> Any:
        status = response.status_code
        if status == 429:
            raise self._rate_limited("HTTP 429 too many requests", path, response)
        if status >= 500:
            raise self._error(TemporaryError, f"HTTP {status} from the exchange", path)
        try:
            payload: Any = response.json(parse_float=Decimal)
        except ValueError:
            payload = None
        code = payload.get("code") if isinstance(payload, dict) else None
        if isinstance(code, bool) or not isinstance(code, int | str) or not str(code).lstrip("-").isdigit():
            if status in (401, 403):
                raise self._error(AuthError, f"HTTP {status}: keys or IP refused", path)
            if payload is None:
                snippet = response.text[:_SNIPPET]
                raise self._error(MalformedResponseError, f"HTTP {status} reply is not JSON: {snippet!r}", path)
            raise self._error(MalformedResponseError, f"HTTP {status} reply has no numeric 'code' envelope", path)
        if int(code) != 0:
            message = str(payload.get("msg") or "no message")
            if C.error_class_for(int(code)) is RateLimitError:
                raise self._rate_limited(message, path, response, code)
            raise self._error(C.error_class_for(int(code)), message, path, code)
        if status != 200:
            raise self._error(MalformedResponseError, f"HTTP {status} with code 0", path)
        return payload.get("data")

    # -- account and positions --------------------------------------------------------------------------
    def get_account(self) -> Any:
        """Return the USDT futures account (an object, or a one-item list in the docs' example)."""
        return self.get(C.ACCOUNT, {"marginCoin": C.MARGIN_COIN})

    def get_pending_positions(self, symbol: str | None = None) -> Any:
        """Return the open positions, optionally of one native symbol."""
        return self.get(C.PENDING_POSITIONS, {"symbol": symbol})

    def get_position_tiers(self, symbol: str) -> list[Row]:
        """Return the position tiers (leverage and maintenance margin rate by position value) of one symbol."""
        # signed like the other /position/ endpoints: a signature is harmless should the endpoint be public
        return rows(self.get(C.POSITION_TIERS, {"symbol": symbol}), C.POSITION_TIERS, "position tier")

    def change_leverage(self, symbol: str, leverage: int) -> Any:
        """Set the leverage of one native symbol."""
        return self.post(C.CHANGE_LEVERAGE, {"symbol": symbol, "marginCoin": C.MARGIN_COIN, "leverage": leverage})

    def change_margin_mode(self, symbol: str, margin_mode: str) -> Any:
        """Set ISOLATION or CROSS on one native symbol (refused while orders or positions are open)."""
        return self.post(C.CHANGE_MARGIN_MODE, {"marginMode": margin_mode, "symbol": symbol,
                                                "marginCoin": C.MARGIN_COIN})

    # -- orders -----------------------------------------------------------------------------------------
    def get_pending_orders(self, symbol: str | None = None) -> list[Row]:
        """Return every open plain order (not TP/SL), following the pages."""
        found: list[Row] = []
        for _page in range(C.MAX_PAGES):
            data = Row(self.get(C.PENDING_ORDERS, {"symbol": symbol, "skip": len(found),
                                                   "limit": C.PAGE_LIMIT}), C.PENDING_ORDERS, "reply")
            total = data.integer("total")
            page = rows(data.raw.get("orderList"), C.PENDING_ORDERS, "order")
            found.extend(page)
            if len(page) < C.PAGE_LIMIT or len(found) >= total:
                if len(found) < total:
                    raise malformed(C.PENDING_ORDERS, f"total says {total} orders but only {len(found)} came")
                return found
        raise malformed(C.PENDING_ORDERS, f"more than {C.MAX_PAGES} pages of open orders")

    def get_pending_tpsl(self, symbol: str | None = None, position_id: str | None = None) -> list[Row]:
        """Return every pending TP/SL row, following the pages."""
        found: list[Row] = []
        for _page in range(C.MAX_PAGES):
            query = {"symbol": symbol, "positionId": position_id, "skip": len(found), "limit": C.PAGE_LIMIT}
            page = rows(self.get(C.TPSL_PENDING, query), C.TPSL_PENDING, "TP/SL order")
            found.extend(page)
            if len(page) < C.PAGE_LIMIT:
                return found
        raise malformed(C.TPSL_PENDING, f"more than {C.MAX_PAGES} pages of TP/SL orders")

    def place_order(self, body: Mapping[str, Any]) -> Any:
        """Place one order; ``body`` holds the documented fields with amounts already as strings."""
        return self.post(C.PLACE_ORDER, body)

    def cancel_orders(self, symbol: str, order_ids: list[str]) -> BatchResult:
        """Cancel orders by id, in batches; the result lists each refused id with its reason."""
        results = [
            self._batch(C.CANCEL_ORDERS, self.post(C.CANCEL_ORDERS, {
                "symbol": symbol, "orderList": [{"orderId": oid} for oid in order_ids[i:i + C.CANCEL_BATCH]]}))
            for i in range(0, len(order_ids), C.CANCEL_BATCH)
        ]
        return BatchResult(tuple(s for r in results for s in r.succeeded), tuple(f for r in results for f in r.failed))

    def cancel_all_orders(self, symbol: str | None = None) -> BatchResult:
        """Cancel every plain open order (of one symbol, or all)."""
        body = {"symbol": symbol} if symbol else {}
        return self._batch(C.CANCEL_ALL_ORDERS, self.post(C.CANCEL_ALL_ORDERS, body))

    def flash_close_position(self, position_id: str) -> Any:
        """Close one position at market by its position id."""
        return self.post(C.FLASH_CLOSE_POSITION, {"positionId": position_id})

    def close_all_positions(self, symbol: str | None = None) -> Any:
        """Close every position (of one symbol, or all) at market."""
        return self.post(C.CLOSE_ALL_POSITION, {"symbol": symbol} if symbol else {})

    # -- TP/SL ------------------------------------------------------------------------------------------
    def place_position_tpsl(self, body: Mapping[str, Any]) -> Any:
        """Place the one position-level TP/SL of a position."""
        return self.post(C.TPSL_POSITION_PLACE, body)

    def modify_position_tpsl(self, body: Mapping[str, Any]) -> Any:
        """Change the position-level TP/SL of a position."""
        return self.post(C.TPSL_POSITION_MODIFY, body)

    def cancel_tpsl(self, symbol: str, order_id: str) -> Any:
        """Cancel one TP/SL row (both of its legs)."""
        return self.post(C.TPSL_CANCEL, {"symbol": symbol, "orderId": order_id})

    # -- public market data -----------------------------------------------------------------------------
    def get_klines(self, symbol: str, interval: str, start_ms: int, end_ms: int, limit: int) -> list[Row]:
        """Return the bars of one window (at most 200)."""
        query = {"symbol": symbol, "interval": interval, "startTime": start_ms, "endTime": end_ms, "limit": limit}
        return rows(self.get(C.KLINE, query, signed=False), C.KLINE, "kline")

    def get_tickers(self, symbols: list[str] | None = None) -> list[Row]:
        """Return tickers of some native symbols, or of all."""
        query = {"symbols": ",".join(symbols)} if symbols else None
        return rows(self.get(C.TICKERS, query, signed=False), C.TICKERS, "ticker")

    def get_trading_pairs(self) -> list[Row]:
        """Return the spec of every trading pair."""
        return rows(self.get(C.TRADING_PAIRS, signed=False), C.TRADING_PAIRS, "trading pair")

    def _batch(self, endpoint: str, data: Any) -> BatchResult:
        if data is None:  # code 0 with null data: nothing was there to cancel
            return BatchResult((), ())
        reply = Row(data, endpoint, "reply")
        # a write's reply: a null list there means no id of that kind (the cancel itself was answered code 0)
        succeeded = tuple(item.text("orderId")
                          for item in rows(reply.raw.get("successList"), endpoint, "success", null_is_empty=True))
        failed = tuple(
            BatchFailure(
                order_id=item.opt_text("orderId"),
                client_id=item.opt_text("clientId"),
                code=item.integer("errorCode") if item.present("errorCode") else None,
                message=self._scrub(item.opt_text("errorMsg") or "no reason given"),
            )
            for item in rows(reply.raw.get("failureList"), endpoint, "failure", null_is_empty=True)
        )
        for failure in failed:
            log.warning("bitunix %s refused order %s: [%s] %s", endpoint, failure.order_id or failure.client_id,
                        failure.code, failure.message)
        return BatchResult(succeeded, failed)
