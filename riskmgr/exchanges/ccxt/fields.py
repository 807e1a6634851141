"""Readers of the raw fields in ccxt replies (the exchanges' own strings, never ccxt's unified floats).

Every missing or unreadable field raises MalformedResponseError naming the field and where it was read, so a
reply we cannot read becomes a failed read, never a figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from riskmgr.core.clock import from_ms
from riskmgr.core.domain import Candle, OrderStatus
from riskmgr.core.errors import MalformedResponseError

T = TypeVar("T")


def dec(row: Mapping[str, Any], key: str, where: str) -> Decimal:
    """Return ``row[key]`` as a finite Decimal or raise MalformedResponseError naming the field."""
    value = opt_dec(row, key, where)
    if value is None:
        raise MalformedResponseError(f"{where}: field {key!r} is missing or empty")
    return value


def opt_dec(row: Mapping[str, Any], key: str, where: str) -> Decimal | None:
    """Return ``row[key]`` as a Decimal, None when absent or empty; raise when present but not a number."""
    if not isinstance(row, Mapping):
        raise MalformedResponseError(f"{where}: expected an object, got {type(row).__name__}")
    raw = row.get(key)
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        value = Decimal("NaN")
    if isinstance(raw, bool) or not value.is_finite():
        raise MalformedResponseError(f"{where}: field {key!r}={raw!r} is not a number")
    return value


def text(row: Mapping[str, Any], key: str, where: str) -> str:
    """Return ``row[key]`` as a non-empty string or raise MalformedResponseError naming the field."""
    raw = row.get(key) if isinstance(row, Mapping) else None
    if raw is None or str(raw).strip() == "":
        raise MalformedResponseError(f"{where}: field {key!r} is missing or empty")
    return str(raw)


def pick(row: Mapping[str, Any], key: str, where: str, choices: Mapping[str, T]) -> T:
    """Return the choice named by ``row[key]`` (case-insensitive) or raise MalformedResponseError listing them."""
    raw = text(row, key, where)
    if raw.lower() not in choices:
        raise MalformedResponseError(f"{where}: field {key!r}={raw!r} is not one of {', '.join(choices)}")
    return choices[raw.lower()]


def opt_time(row: Mapping[str, Any], key: str, where: str) -> datetime | None:
    """Return the ms timestamp ``row[key]`` as an aware UTC datetime, None when absent."""
    value = opt_dec(row, key, where)
    return from_ms(int(value)) if value is not None and value > 0 else None


def rows(payload: Any, key: str, where: str, *, null_is_empty: bool = False) -> list[dict[str, Any]]:
    """Return the list ``payload[key]``; a missing key is malformed, null only where the exchange documents it."""
    if not isinstance(payload, Mapping) or key not in payload:
        raise MalformedResponseError(f"{where}: field {key!r} is missing")
    value = payload[key]
    if value is None and null_is_empty:
        return []
    if not isinstance(value, list) or not all(isinstance(r, Mapping) for r in value):
        raise MalformedResponseError(f"{where}: field {key!r} is not a list of objects")
    return list(value)


def open_status(raw: str | None) -> OrderStatus:
    """Map an open order's status: a partial fill is told apart, every other open state is NEW."""
    partial = (raw or "").lower() in ("partially_filled", "partial_filled")
    return OrderStatus.PARTIALLY_FILLED if partial else OrderStatus.NEW


def positive(value: Any, where: str) -> Decimal:
    """Return a ccxt numeric field as Decimal via its shortest repr (exact for the exchange's strings)."""
    if value is None or isinstance(value, bool):
        raise MalformedResponseError(f"{where} is missing")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise MalformedResponseError(f"{where}={value!r} is not a number") from None
    if not number.is_finite() or number <= 0:
        raise MalformedResponseError(f"{where}={value!r} is not a positive number")
    return number


def candle(bar: Sequence[Any], where: str) -> Candle:
    """Return one ccxt OHLCV row as a Candle, or raise MalformedResponseError when it is incomplete."""
    if not isinstance(bar, (list, tuple)) or len(bar) < 6 or any(v is None for v in bar[:6]):
        raise MalformedResponseError(f"{where}: expected [ts, open, high, low, close, volume], got {bar!r}")
    return Candle(from_ms(int(bar[0])), float(bar[1]), float(bar[2]), float(bar[3]), float(bar[4]), float(bar[5]))
