"""Typed readers of environment variables: each failure raises ``ConfigError`` naming the variable, the value
given and what is allowed. Every feature's settings are read with these, once, at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from riskmgr.core.errors import ConfigError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def read_raw(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def read_int(env: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    """Read an integer in [lo, hi]."""
    raw = read_raw(env, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number; allowed {lo}–{hi}") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name}={raw!r} is out of range; allowed {lo}–{hi}")
    return value


def read_decimal(env: Mapping[str, str], name: str, default: str, lo: str, hi: str) -> Decimal:
    """Read a decimal number in [lo, hi]."""
    raw = read_raw(env, name)
    if raw is None:
        return Decimal(default)
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ConfigError(f"{name}={raw!r} is not a number; allowed {lo}–{hi}") from None
    if not value.is_finite() or not Decimal(lo) <= value <= Decimal(hi):
        raise ConfigError(f"{name}={raw!r} is out of range; allowed {lo}–{hi}")
    return value


def read_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    """Read a boolean spelled true/false, yes/no, on/off or 1/0."""
    raw = read_raw(env, name)
    if raw is None:
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean; allowed true/false, yes/no, on/off, 1/0")


def read_choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    """Read one of a fixed set of words (case-insensitive)."""
    raw = read_raw(env, name)
    if raw is None:
        return default
    if raw.lower() not in choices:
        raise ConfigError(f"{name}={raw!r} is not allowed; choose one of {', '.join(choices)}")
    return raw.lower()


def read_names(env: Mapping[str, str], name: str, default: str) -> tuple[str, ...]:
    """Read a comma-separated list of account-style names (letters, digits, - and _)."""
    raw = read_raw(env, name)
    items = tuple(x.strip() for x in (raw if raw is not None else default).split(",") if x.strip())
    for item in items:
        if not item.replace("-", "").replace("_", "").isalnum() or len(item) > 40:
            raise ConfigError(
                f"{name}={raw!r}: {item!r} is not a valid name; use up to 40 letters, digits, '-' or '_'"
            )
    if len(set(items)) != len(items):
        raise ConfigError(f"{name}={raw!r} names an account twice")
    return items
