"""Bitunix request signing: a double SHA-256 over nonce, time, key, sorted query and body (no HMAC).

Only signing lives here; the clock and the nonce are passed in so a test can recompute a known signature.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from typing import NoReturn

from riskmgr.exchanges.bitunix.constants import LANGUAGE


class Secret:
    """A credential that never shows itself in a repr, a str, a log line or an exception message."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        if not isinstance(value, str) or not value.strip():
            raise ValueError("a Bitunix credential must be a non-empty string (the value is not shown)")
        self._value = value

    def reveal(self) -> str:
        """Return the raw value; call only where it goes into a signature or a header."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")


def new_nonce() -> str:
    """Return a fresh random 32-character nonce."""
    return uuid.uuid4().hex


def signing_query(query: Mapping[str, object] | None) -> str:
    """Join query parameters sorted by key as key+value with no separators, leaving out empty values."""
    if not query:
        return ""
    return "".join(f"{key}{query[key]}" for key in sorted(query) if query[key] is not None and query[key] != "")


def sign(
    api_key: str, secret: str, nonce: str, timestamp_ms: int, query: Mapping[str, object] | None, body: str
) -> str:
    """Return the lowercase-hex Bitunix signature of one request."""
    digest_input = f"{nonce}{timestamp_ms}{api_key}{signing_query(query)}{body}"
    digest = hashlib.sha256(digest_input.encode("utf-8")).hexdigest()
    return hashlib.sha256((digest + secret).encode("utf-8")).hexdigest()


def signed_headers(
    api_key: Secret, secret: Secret, nonce: str, timestamp_ms: int, query: Mapping[str, object] | None, body: str
) -> dict[str, str]:
    """Return the headers of one private request, its signature computed over exactly ``query`` and ``body``."""
    return {
        "api-key": api_key.reveal(),
        "nonce": nonce,
        "timestamp": str(timestamp_ms),
        "sign": sign(api_key.reveal(), secret.reveal(), nonce, timestamp_ms, query, body),
        "language": LANGUAGE,
        "Content-Type": "application/json",
    }
