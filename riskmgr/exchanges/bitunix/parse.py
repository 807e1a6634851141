"""Turn Bitunix replies into riskmgr domain objects, validating every field that is used.

A missing or malformed field raises MalformedResponseError naming the endpoint and the field; nothing is
guessed or defaulted. Symbols are converted here between Bitunix ids (``BTCUSDT``) and ccxt-unified
symbols (``BTC/USDT:USDT``) with a parser that knows base, quote and settle.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from riskmgr.core.clock import from_ms
from riskmgr.core.domain import (
    Balance,
    Candle,
    MarketSpec,
    Order,
    OrderSide,
    OrderStatus,
    OrderType,
    Position,
    PositionSide,
    Ticker,
)
from riskmgr.core.errors import MalformedResponseError, TemporaryError, ValidationError
from riskmgr.exchanges.bitunix import constants as C
from riskmgr.exchanges.tiers import first_tier_rate
from riskmgr.risk.context import ClosedTrade

_Choice = TypeVar("_Choice")

_UNIFIED = re.compile(r"^([A-Z0-9]+)/([A-Z0-9]+):([A-Z0-9]+)$")
_NATIVE = re.compile(r"^[A-Z0-9]+$")
_SHOWN = 80  # characters of a bad value quoted in an error message


def malformed(endpoint: str, message: str) -> MalformedResponseError:
    """Return the error for an unusable reply from ``endpoint``."""
    return MalformedResponseError(f"{endpoint}: {message}", operation=endpoint)


class Row:
    """One JSON object from a reply, with typed, validated field access."""

    def __init__(self, raw: Any, endpoint: str, what: str = "row"):
        if not isinstance(raw, Mapping):
            raise malformed(endpoint, f"expected an object for {what}, got {type(raw).__name__}")
        self.raw = raw
        self.endpoint = endpoint
        self.what = what

    def _fail(self, name: str, problem: str) -> MalformedResponseError:
        shown = repr(self.raw.get(name))[:_SHOWN]
        return malformed(self.endpoint, f"field {name!r} of {self.what} {problem} (got {shown})")

    def present(self, name: str) -> bool:
        """Return True when the field exists and is neither null nor an empty string."""
        value = self.raw.get(name)
        return value is not None and value != ""

    def text(self, name: str) -> str:
        """Return a required non-empty string (numbers are accepted and turned into text)."""
        value = self.raw.get(name)
        if isinstance(value, bool) or not isinstance(value, str | int) or str(value).strip() == "":
            raise self._fail(name, "is missing or not a non-empty string")
        return str(value).strip()

    def opt_text(self, name: str) -> str | None:
        """Return an optional string, None when absent or empty."""
        return self.text(name) if self.present(name) else None

    def decimal(self, name: str) -> Decimal:
        """Return a required finite number (the exchange sends numbers both as JSON numbers and as strings)."""
        value = self.raw.get(name)
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal | float):
            raise self._fail(name, "is missing or not a number")
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise self._fail(name, "is not a number") from None
        if not number.is_finite():
            raise self._fail(name, "is not a finite number")
        return number

    def opt_decimal(self, name: str) -> Decimal | None:
        """Return an optional number, None when absent or empty."""
        return self.decimal(name) if self.present(name) else None

    def positive(self, name: str) -> Decimal:
        """Return a required number greater than zero."""
        number = self.decimal(name)
        if number <= 0:
            raise self._fail(name, "must be greater than zero")
        return number

    def integer(self, name: str) -> int:
        """Return a required whole number."""
        number = self.decimal(name)
        if number != number.to_integral_value():
            raise self._fail(name, "is not a whole number")
        return int(number)

    def time_ms(self, name: str) -> datetime:
        """Return a required millisecond timestamp (number or numeric string) as an aware UTC datetime."""
        ms = self.integer(name)
        if ms <= 0:
            raise self._fail(name, "is not a positive millisecond timestamp")
        return from_ms(ms)

    def opt_time_ms(self, name: str) -> datetime | None:
        """Return an optional millisecond timestamp."""
        return self.time_ms(name) if self.present(name) else None

    def boolean(self, name: str, *, default: bool | None = None) -> bool:
        """Return a boolean sent as true/false or "true"/"false"; ``default`` only when the field is absent."""
        value = self.raw.get(name)
        if value is None and default is not None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise self._fail(name, "is not a boolean")

    def choice(self, name: str, table: Mapping[str, _Choice]) -> _Choice:
        """Return ``table[value]`` for a required field that must be one of the table's keys."""
        value = self.text(name).upper()
        if value not in table:
            raise self._fail(name, f"is not one of {', '.join(sorted(table))}")
        return table[value]


def rows(data: Any, endpoint: str, what: str = "row", *, null_is_empty: bool = False) -> list[Row]:
    """Return the rows of a list reply; null (or absent) is malformed unless ``null_is_empty`` says it means none.

    "Nothing" is answered ``[]`` by the list endpoints; a null there is an unusable read, never "none".
    """
    if data is None:
        if null_is_empty:
            return []
        raise malformed(endpoint, f"data is null where a list of {what}s is required (no {what}s given, "
                                  "not even an empty list)")
    if not isinstance(data, list):
        raise malformed(endpoint, f"expected a list of {what}s, got {type(data).__name__}")
    return [Row(item, endpoint, what) for item in data]


# -- symbols ----------------------------------------------------------------------------------------------
def split_unified(symbol: str) -> tuple[str, str, str]:
    """Return (base, quote, settle) of a unified USDT-margined linear perpetual such as ``BTC/USDT:USDT``."""
    match = _UNIFIED.match(symbol.strip().upper()) if isinstance(symbol, str) else None
    if match is None:
        raise ValidationError("symbol", f"{symbol!r} is not a unified perpetual symbol like BTC/USDT:USDT")
    base, quote, settle = match.groups()
    if quote not in C.QUOTE_CURRENCIES or settle != quote:
        raise ValidationError("symbol", f"{symbol!r} is not a USDT-margined linear perpetual")
    return base, quote, settle


def to_native(symbol: str) -> str:
    """Return the Bitunix id (``BTCUSDT``) of a unified symbol."""
    base, quote, _settle = split_unified(symbol)
    return base + quote


def unified(base: str, quote: str) -> str:
    """Return the unified symbol of a linear perpetual settled in its quote currency."""
    return f"{base}/{quote}:{quote}"


def is_supported_native(native: object) -> bool:
    """Return True for a Bitunix id of a USDT-margined pair (other quotes are not riskmgr's business)."""
    return isinstance(native, str) and any(
        native.upper().endswith(quote) and len(native) > len(quote) for quote in C.QUOTE_CURRENCIES
    )


def to_unified(native: str, endpoint: str) -> str:
    """Return the unified symbol of a Bitunix id, splitting off a known quote currency."""
    text = native.strip().upper() if isinstance(native, str) else ""
    if _NATIVE.match(text):
        for quote in C.QUOTE_CURRENCIES:
            if text.endswith(quote) and len(text) > len(quote):
                return unified(text[: -len(quote)], quote)
    raise malformed(endpoint, f"symbol {native!r} is not a USDT-margined Bitunix id like BTCUSDT")


# -- account ----------------------------------------------------------------------------------------------
def account_row(data: Any) -> Row:
    """Return the USDT account object; the docs show ``data`` as a list, live replies send one object."""
    candidates = rows(data, C.ACCOUNT, "account") if isinstance(data, list) else [Row(data, C.ACCOUNT, "account")]
    usdt = [row for row in candidates if row.opt_text("marginCoin") in (None, C.MARGIN_COIN)]
    if len(usdt) != 1:
        raise malformed(C.ACCOUNT, f"expected exactly one {C.MARGIN_COIN} account, found {len(usdt)}")
    return usdt[0]


EQUITY_FORMULA = ("available + frozen + margin + crossUnrealizedPNL + isolationUnrealizedPNL "
                  "(Bitunix sends no equity field; bonus left out)")


def parse_balance(data: Any) -> Balance:
    """Return the USDT balance.

    Bitunix sends no equity field. Equity is inferred as available + frozen (order margin) + margin
    (position margin) + cross and isolated unrealized P&L; ``bonus`` is left out because it cannot be
    withdrawn. This sum is an inference from the field descriptions, not a documented formula.
    """
    row = account_row(data)
    available, frozen, margin = row.decimal("available"), row.decimal("frozen"), row.decimal("margin")
    unrealized = row.decimal("crossUnrealizedPNL") + row.decimal("isolationUnrealizedPNL")
    wallet = available + frozen + margin
    return Balance(
        currency=C.MARGIN_COIN,
        wallet=wallet,
        equity=wallet + unrealized,
        available=available,
        margin_used=margin + frozen,
        unrealized_pnl=unrealized,
        equity_formula=EQUITY_FORMULA,
    )


def parse_position_mode(data: Any) -> str:
    """Return ONE_WAY or HEDGE from the account reply."""
    return account_row(data).choice("positionMode", {mode: mode for mode in C.POSITION_MODES})


# -- positions --------------------------------------------------------------------------------------------
def parse_position(row: Row, mark_price: Decimal) -> Position:
    """Return one open position; ``mark_price`` comes from the tickers because positions carry none."""
    liquidation = row.decimal("liqPrice")
    return Position(
        symbol=to_unified(row.text("symbol"), row.endpoint),
        side=row.choice("side", C.POSITION_SIDES),
        size=row.positive("qty"),
        entry_price=row.positive("avgOpenPrice"),
        mark_price=mark_price,
        leverage=row.positive("leverage"),
        margin_mode=row.choice("marginMode", C.MARGIN_MODES),
        liquidation_price=liquidation if liquidation > 0 else None,  # <= 0: no liquidation price (docs)
        unrealized_pnl=row.decimal("unrealizedPNL"),
        margin=row.opt_decimal("margin"),
        opened_at=row.opt_time_ms("ctime"),
        position_id=row.text("positionId"),
    )


def parse_closed_position(row: Row) -> ClosedTrade:
    """Return one closed position of the history: close time, realized P&L net of fees, symbol and side.

    A contract outside riskmgr's quote currencies keeps its P&L (it still counts for the loss streak) but no
    symbol; the side is None only when the row does not carry one.
    """
    native = row.text("symbol")
    return ClosedTrade(
        closed_at=row.time_ms("mtime"),
        realized_pnl=row.decimal("realizedPNL") - row.decimal("fee"),
        symbol=to_unified(native, row.endpoint) if is_supported_native(native) else None,
        side=row.choice("side", C.POSITION_SIDES) if row.present("side") else None,
        opened_at=row.opt_time_ms("ctime"), entry_price=row.opt_decimal("entryPrice"),
        exit_price=row.opt_decimal("closePrice"), qty=row.opt_decimal("maxQty"), trading_fees=row.decimal("fee"),
        venue_id=row.opt_text("positionId"),
    )


# -- orders -----------------------------------------------------------------------------------------------
def parse_order(row: Row) -> Order:
    """Return one plain (non-TP/SL) open order."""
    order_type = row.choice("orderType", C.ORDER_TYPES)
    # Order history has shown price as the literal "MARKET" [OBS]; a market order has no price anyway.
    price = row.positive("price") if order_type is OrderType.LIMIT else None
    return Order(
        id=row.text("orderId"),
        symbol=to_unified(row.text("symbol"), row.endpoint),
        side=row.choice("side", {"BUY": OrderSide.BUY, "SELL": OrderSide.SELL}),
        type=order_type,
        status=row.choice("status", C.ORDER_STATUSES),
        qty=row.positive("qty"),
        price=price,
        reduce_only=row.boolean("reduceOnly", default=False),
        client_id=row.opt_text("clientId"),
        filled_qty=row.opt_decimal("tradeQty") or Decimal(0),
        fee=row.opt_decimal("fee") or Decimal(0),
        created_at=row.opt_time_ms("ctime"),
    )


def tpsl_leg_id(row_id: str, leg: str) -> str:
    """Return the domain id of one leg (``sl`` or ``tp``) of a Bitunix TP/SL order."""
    return f"{row_id}{C.TPSL_LEG_SEPARATOR}{leg}"


def split_tpsl_id(order_id: str) -> tuple[str, str] | None:
    """Return (Bitunix TP/SL id, leg) for a leg id, or None for a plain order id."""
    row_id, sep, leg = order_id.rpartition(C.TPSL_LEG_SEPARATOR)
    if sep and row_id and leg in C.TPSL_LEGS:
        return row_id, leg
    return None


def parse_tpsl_row(row: Row, position_sides: Mapping[str, PositionSide]) -> list[Order]:
    """Return one Order per leg of a pending TP/SL row (a row may carry a stop-loss and a take-profit).

    A leg without a quantity is a position-level TP/SL: it closes whatever is open when it fires.
    The row has no side, so the side comes from the position it protects (``position_sides`` by id).
    """
    row_id, position_id = row.text("id"), row.text("positionId")
    if position_id not in position_sides:
        raise TemporaryError(
            f"TP/SL order {row_id} protects position {position_id}, which is not open; positions are changing",
            operation=row.endpoint,
        )
    side = position_sides[position_id]
    legs = tpsl_legs(row)
    if not legs:
        raise malformed(row.endpoint, f"TP/SL order {row_id} has neither slPrice nor tpPrice")
    return [_tpsl_leg(row, row_id, leg, side) for leg in legs]


def is_position_tpsl(row: Row) -> bool:
    """Return True for a position-level TP/SL row (no leg has a quantity: it closes the whole position)."""
    return all(not row.opt_decimal(C.TPSL_FIELDS[leg][1]) for leg in C.TPSL_LEGS)


def tpsl_legs(row: Row) -> list[str]:
    """Return the legs (``sl``, ``tp``) a TP/SL row carries."""
    return [leg for leg in C.TPSL_LEGS if row.present(C.TPSL_FIELDS[leg][0])]


def _tpsl_leg(row: Row, row_id: str, leg: str, side: PositionSide) -> Order:
    price_field, qty_field, type_field, limit_field, order_type = C.TPSL_FIELDS[leg]
    qty = row.opt_decimal(qty_field)
    whole_position = qty is None or qty == 0
    is_limit = row.present(type_field) and row.text(type_field).upper() == "LIMIT"
    return Order(
        id=tpsl_leg_id(row_id, leg),
        symbol=to_unified(row.text("symbol"), row.endpoint),
        side=side.close_order_side,
        type=order_type,
        status=OrderStatus.NEW,
        qty=None if whole_position else qty,
        price=row.positive(limit_field) if is_limit else None,
        trigger_price=row.positive(price_field),
        reduce_only=not whole_position,
        close_position=whole_position,
        position_side=side,
    )


# -- market data ------------------------------------------------------------------------------------------
def parse_ticker(row: Row, now: datetime) -> Ticker:
    """Return one ticker; Bitunix tickers carry no time, so ``now`` is when the reply was read."""
    return Ticker(
        symbol=to_unified(row.text("symbol"), row.endpoint),
        last=row.positive("lastPrice"),
        mark=row.positive("markPrice"),
        timestamp=now,
        volume_quote_24h=row.opt_decimal(C.QUOTE_VOLUME_FIELD),
    )


def parse_candle(row: Row) -> Candle:
    """Return one bar; ``time`` is the bar's open time in milliseconds."""
    return Candle(
        ts=row.time_ms("time"),
        open=float(row.positive("open")),
        high=float(row.positive("high")),
        low=float(row.positive("low")),
        close=float(row.positive("close")),
        volume=float(row.decimal(C.BASE_VOLUME_FIELD)),
    )


def parse_market(row: Row) -> MarketSpec:
    """Return the contract spec of one trading pair (quantities in base coin)."""
    base, quote = row.text("base").upper(), row.text("quote").upper()
    if to_native(unified(base, quote)) != row.text("symbol").upper():
        raise malformed(row.endpoint, f"symbol {row.text('symbol')!r} does not match base {base} and quote {quote}")
    return MarketSpec(
        symbol=unified(base, quote),
        base=base,
        quote=quote,
        min_qty=row.positive("minTradeVolume"),
        qty_step=Decimal(1).scaleb(-_precision(row, "basePrecision")),
        price_tick=Decimal(1).scaleb(-_precision(row, "quotePrecision")),
        min_notional=C.DEFAULT_MIN_NOTIONAL,  # trading_pairs has no min-notional field
        max_leverage=row.integer("maxLeverage"),
        maintenance_margin_rate=None,  # trading_pairs has none: fetch_maintenance_margin_rate reads the tiers
    )


def parse_first_tier_rate(tiers: list[Row], native: str) -> Decimal:
    """Return the maintenance margin rate of ``native``'s lowest position tier (official SDK: PositionTiersResp)."""
    strays = {row.text("symbol").upper() for row in tiers} - {native}
    if strays:  # another contract's table would give another contract's rate
        raise malformed(C.POSITION_TIERS, f"the reply for {native} lists tiers of {', '.join(sorted(strays))}")
    pairs = [(row.decimal("startValue"), row.decimal("maintenanceMarginRate")) for row in tiers]
    return first_tier_rate(pairs, f"{C.POSITION_TIERS} {native}")


def _precision(row: Row, name: str) -> int:
    places = row.integer(name)
    if not 0 <= places <= 18:
        raise malformed(row.endpoint, f"field {name!r} of {row.what} must be 0–18 decimal places (got {places})")
    return places
