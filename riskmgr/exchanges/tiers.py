"""Maintenance margin rates that a venue publishes only per symbol, in its position tier table (Bitget, Bitunix).

Their contract lists carry no maintenance rate, so their specs leave it None (unknown) and the adapter reads one
symbol's tier table the first time that symbol's rate is asked for: one call per symbol, never one per listed
contract at start. The rate is then kept for the adapter's life, as Binance's leverage brackets are.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from decimal import Decimal

from riskmgr.core.errors import MalformedResponseError


class RateCache:
    """Rates read once per symbol and kept; a failed read keeps nothing, so the next request reads again."""

    def __init__(self) -> None:
        self._rates: dict[str, Decimal] = {}
        self._lock = threading.Lock()

    def get(self, symbol: str, read: Callable[[], Decimal]) -> Decimal:
        """Return the kept rate of ``symbol``, or ``read()`` it now and keep it."""
        # held during the read so that two requests at once still make one call (reads are rare: once per symbol)
        with self._lock:
            if symbol not in self._rates:
                self._rates[symbol] = read()
            return self._rates[symbol]


def first_tier_rate(tiers: Sequence[tuple[Decimal, Decimal]], where: str) -> Decimal:
    """Return the rate of the tier starting lowest, from (tier floor, rate) pairs; it must lie between 0 and 1."""
    if not tiers:
        raise MalformedResponseError(f"{where}: no position tiers")
    _floor, rate = min(tiers, key=lambda tier: tier[0])
    if not 0 < rate < 1:
        raise MalformedResponseError(f"{where}: first-tier maintenance margin rate {rate} is not between 0 and 1")
    return rate
