"""Events that features emit and that alerts, metrics and the dashboard subscribe to.

``emit`` never raises into the caller: a failing subscriber is logged and skipped, so a broken alert channel
can never stop the poll cycle or an emergency stop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

log = logging.getLogger(__name__)

# Every kind a feature may emit (a test keeps emitters to this list).
KINDS: dict[str, str] = {
    "emergency.started": "an emergency stop sequence started",
    "emergency.finished": "an emergency stop sequence finished flat",
    "emergency.left_open": "an emergency stop sequence finished with something still open",
    "state.changed": "the trading state changed (with the reason)",
    "protection.missing": "a position was found without an exchange-side stop-loss",
    "protection.restored": "a missing stop-loss was placed again",
    "protection.failed": "a missing stop-loss could not be placed",
    "risk.daily_loss": "the daily loss limit was reached",
    "risk.drawdown": "a drawdown tier was reached",
    "account.stale": "an account has been stale or failing for longer than the alert delay",
    "account.recovered": "a stale or failing account reads normally again",
    "exchange.error": "an exchange call failed (class and account in data)",
    "position.closed_by_monitor": "the position monitor closed or reduced a position",
    "paper.liquidation": "the paper exchange liquidated a position (a real loss on the paper account)",
    "signal.produced": "the scanner produced an actionable signal",
    "signal.executed": "auto-trading placed an order for a signal",
    "backtest.finished": "a backtest run finished",
    "poll.cycle": "a poll cycle finished (duration in data)",
    "poller.stopped": "no poll cycle has started for several poll intervals: every figure is ageing",
    "poller.recovered": "poll cycles run again after the poller was reported stopped",
}


@dataclass(frozen=True)
class Event:
    kind: str
    message: str
    ts: datetime
    account: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


Subscriber = Callable[[Event], None]


class EventBus:
    """Deliver events to subscribers, synchronously and fail-safe."""

    def __init__(self, now: Callable[[], datetime]):
        self._now = now
        self._subscribers: list[Subscriber] = []

    def subscribe(self, fn: Subscriber) -> None:
        """Call ``fn`` for every event from now on."""
        self._subscribers.append(fn)

    def emit(self, kind: str, message: str, *, account: str | None = None, data: dict[str, Any] | None = None) -> None:
        """Deliver one event; an unknown kind is a programming error."""
        if kind not in KINDS:
            raise ValueError(f"unknown event kind {kind!r}; add it to riskmgr.core.events.KINDS")
        event = Event(kind, message, self._now(), account, data or {})
        for fn in list(self._subscribers):
            try:
                fn(event)
            except Exception:  # a subscriber's failure must never reach the emitter
                log.exception("event subscriber %r failed on %s", fn, kind)
