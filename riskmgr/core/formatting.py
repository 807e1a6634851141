"""Turning Decimals into exact, readable strings for JSON answers (never floats)."""

from __future__ import annotations

from decimal import Decimal


def dec(value: Decimal | None) -> str | None:
    """Return ``value`` as plain positional text without trailing zeros (None stays None)."""
    if value is None:
        return None
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text
