"""Filters between a scan and a trade: drop expired signals, symbols already held and symbols cooling down."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from riskmgr.core.errors import ValidationError
from riskmgr.core.labels import sentence_time
from riskmgr.signals.conservative import Signal

DEFAULT_COOLDOWN = timedelta(minutes=5)


@dataclass(frozen=True)
class Dropped:
    signal: Signal
    reason: str


@dataclass(frozen=True)
class FilterResult:
    kept: list[Signal]
    dropped: list[Dropped]


def _drop_reason(
    signal: Signal, now: datetime, held: Collection[str], last_taken_at: Mapping[str, datetime], cooldown: timedelta
) -> str | None:
    if signal.created_at > now:
        # A bar closing after "now" means the clock or the data is out of step: trust neither.
        return f"created at {sentence_time(signal.created_at)}, after now ({sentence_time(now)})"
    if now >= signal.valid_until:
        return f"expired at {sentence_time(signal.valid_until)}"
    if signal.symbol in held:
        return "a position is already open on this symbol"
    taken = last_taken_at.get(signal.symbol)
    if taken is not None and now < taken + cooldown:
        return f"cooling down until {sentence_time(taken + cooldown)} (last taken {sentence_time(taken)})"
    return None


def filter_signals(
    signals: Iterable[Signal],
    now: datetime,
    held_symbols: Collection[str],
    last_taken_at: Mapping[str, datetime],
    cooldown: timedelta = DEFAULT_COOLDOWN,
) -> FilterResult:
    """Keep the signals still valid at ``now`` on symbols neither held nor within their cooldown."""
    if now.tzinfo is None:
        raise ValidationError("now", "must be a timezone-aware UTC datetime")
    if cooldown < timedelta(0):
        raise ValidationError("cooldown", f"must be zero or more, got {cooldown}")
    for symbol, taken in last_taken_at.items():
        if taken.tzinfo is None:
            raise ValidationError("last_taken_at", f"{symbol}: must be a timezone-aware UTC datetime")
    kept: list[Signal] = []
    dropped: list[Dropped] = []
    for signal in signals:
        reason = _drop_reason(signal, now, held_symbols, last_taken_at, cooldown)
        if reason is None:
            kept.append(signal)
        else:
            dropped.append(Dropped(signal, reason))
    return FilterResult(kept, dropped)
