"""Parsing of request parameters into typed values; every failure names the field and what is allowed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from riskmgr.errors import ValidationError


def json_body(data: Any) -> dict[str, Any]:
    """Return the JSON object of a request body, or fail naming the body."""
    if not isinstance(data, dict):
        raise ValidationError("body", "expected a JSON object")
    return data


def opt_time(args: Mapping[str, Any], field: str) -> datetime | None:
    """Parse an optional ISO 8601 timestamp (naive means UTC)."""
    raw = args.get(field)
    if raw in (None, ""):
        return None
    try:
        value = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(field, f"{raw!r} is not an ISO 8601 time such as 2026-01-31T12:00:00Z") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def req_str(data: Mapping[str, Any], field: str, choices: list[str] | None = None) -> str:
    """Return a required string, optionally one of ``choices``."""
    raw = data.get(field)
    if not isinstance(raw, str) or not raw.strip():
        allowed = f"; one of {', '.join(choices)}" if choices else ""
        raise ValidationError(field, f"is required{allowed}")
    value = raw.strip()
    if choices is not None and value not in choices:
        raise ValidationError(field, f"{value!r} is not allowed; one of {', '.join(choices)}")
    return value


def opt_decimal(
    data: Mapping[str, Any], field: str, *, lo: Decimal | None = None, hi: Decimal | None = None, positive: bool = False
) -> Decimal | None:
    """Parse an optional decimal number within bounds."""
    raw = data.get(field)
    if raw in (None, ""):
        return None
    if isinstance(raw, bool):
        raise ValidationError(field, "must be a number")
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise ValidationError(field, f"{raw!r} is not a number") from None
    if not value.is_finite():
        raise ValidationError(field, "must be a finite number")
    if positive and value <= 0:
        raise ValidationError(field, f"{value} must be greater than 0")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValidationError(field, f"{value} is out of range; allowed {lo}–{hi}")
    return value


def req_decimal(data: Mapping[str, Any], field: str, **bounds: Any) -> Decimal:
    """Parse a required decimal number within bounds."""
    value = opt_decimal(data, field, **bounds)
    if value is None:
        raise ValidationError(field, "is required")
    return value


def opt_int(data: Mapping[str, Any], field: str, lo: int, hi: int) -> int | None:
    """Parse an optional whole number in [lo, hi]."""
    raw = data.get(field)
    if raw in (None, ""):
        return None
    try:
        value = int(str(raw))
    except ValueError:
        raise ValidationError(field, f"{raw!r} is not a whole number; allowed {lo}–{hi}") from None
    if not lo <= value <= hi:
        raise ValidationError(field, f"{value} is out of range; allowed {lo}–{hi}")
    return value


def opt_bool(data: Mapping[str, Any], field: str) -> bool:
    """Parse an optional boolean (JSON true/false or the strings true/false/on/off/1/0)."""
    raw = data.get(field, False)
    if isinstance(raw, bool):
        return raw
    if str(raw).lower() in ("true", "on", "1", "yes"):
        return True
    if str(raw).lower() in ("false", "off", "0", "no", ""):
        return False
    raise ValidationError(field, f"{raw!r} is not true or false")
