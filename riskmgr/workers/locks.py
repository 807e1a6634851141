"""A Redis lock per periodic task: taken with SET NX and an expiry, released only by its holder's token."""

from __future__ import annotations

import secrets
from typing import Any

_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
PREFIX = "riskmgr:lock:"


def acquire(client: Any, name: str, ttl_seconds: float) -> str | None:
    """Take lock ``name`` for at most ``ttl_seconds``; return its token, or None when someone holds it."""
    token = secrets.token_hex(16)
    if client.set(PREFIX + name, token, nx=True, px=max(1, int(ttl_seconds * 1000))):
        return token
    return None


def release(client: Any, name: str, token: str) -> bool:
    """Release lock ``name`` if ``token`` still holds it (an expired lock another run took is left alone)."""
    return bool(client.eval(_RELEASE, 1, PREFIX + name, token))


def holder(client: Any, name: str) -> str | None:
    value = client.get(PREFIX + name)
    return value.decode() if isinstance(value, bytes) else value
