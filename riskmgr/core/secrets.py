"""The secrets the app knows (API keys, tokens, passwords), registered once so that no log line, alert or
error message ever shows them: ``mask`` replaces each with ***."""

from __future__ import annotations

import threading

_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Mask ``value`` in every log line from now on (values shorter than 6 characters are ignored)."""
    if value and len(value) >= 6:
        with _lock:
            _secrets.add(value)


def mask(text: str) -> str:
    """Return ``text`` with every registered secret replaced by ***."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        text = text.replace(secret, "***")
    return text
