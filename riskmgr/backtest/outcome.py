"""What a backtest produces: the trade table, the per-bar equity curve, rule denials and account events.

The trade table is columnar (plain lists and numpy arrays) because the SMA reference can close tens of
thousands of trades per run; ``TradeTable.rows`` turns it into dictionaries only when a page or an export
asks for them. Money is Decimal throughout; the equity curve is float64 because it feeds the statistics and
the charts, not the books.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from riskmgr.clock import from_ms
from riskmgr.domain import ZERO
from riskmgr.formatting import dec


@dataclass
class TradeTable:
    """Closed trades, one entry per list index, in the order they closed."""

    entry_bar: list[int] = field(default_factory=list)
    exit_bar: list[int] = field(default_factory=list)
    entry_ms: list[int] = field(default_factory=list)
    exit_ms: list[int] = field(default_factory=list)
    side: list[int] = field(default_factory=list)  # +1 long, -1 short
    qty: list[Decimal] = field(default_factory=list)
    entry_price: list[Decimal] = field(default_factory=list)
    exit_price: list[Decimal] = field(default_factory=list)  # quantity-weighted average of the closing fills
    gross_pnl: list[Decimal] = field(default_factory=list)  # price P&L before fees and funding
    fees: list[Decimal] = field(default_factory=list)
    funding: list[Decimal] = field(default_factory=list)  # funding received (negative: paid)
    net_pnl: list[Decimal] = field(default_factory=list)
    reason: list[str] = field(default_factory=list)
    stop: list[Decimal | None] = field(default_factory=list)
    target: list[Decimal | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.net_pnl)

    def net_array(self) -> np.ndarray:
        """Return the net P&L of every trade as float64 (for statistics)."""
        return np.fromiter(map(float, self.net_pnl), dtype=np.float64, count=len(self.net_pnl))

    def total_fees(self) -> Decimal:
        """Return the fees of every closed trade."""
        return sum(self.fees, ZERO)

    def rows(self, start: int = 0, stop: int | None = None) -> list[dict[str, Any]]:
        """Return trades ``start``..``stop`` as JSON-safe dictionaries (Decimals as strings, times ISO 8601)."""
        stop = len(self) if stop is None else min(stop, len(self))
        return [self._row(k) for k in range(start, stop)]

    def _row(self, k: int) -> dict[str, Any]:
        return {
            "n": k + 1,
            "side": "long" if self.side[k] > 0 else "short",
            "entry_time": from_ms(self.entry_ms[k]).isoformat(),
            "entry_price": dec(self.entry_price[k]),
            "qty": dec(self.qty[k]),
            "exit_time": from_ms(self.exit_ms[k]).isoformat(),
            "exit_price": dec(self.exit_price[k]),
            "exit_reason": self.reason[k],
            "gross_pnl": dec(self.gross_pnl[k]),
            "fees": dec(self.fees[k]),
            "funding": dec(self.funding[k]),
            "net_pnl": dec(self.net_pnl[k]),
            "stop_loss": dec(self.stop[k]),
            "take_profit": dec(self.target[k]),
            "bars": self.exit_bar[k] - self.entry_bar[k] + 1,
        }


@dataclass
class RuleCount:
    """How often one rule (or gate) turned a signal down, and its first reason."""

    count: int
    first_reason: str
    first_ms: int


@dataclass(frozen=True)
class AccountEvent:
    """Something the risk engine did or saw: a state change, a re-arm, a daily-loss hit, a forced close."""

    ms: int
    kind: str  # reducing, halted, rearmed, daily_loss, emergency_stop, monitor_close, partial_take_profit, ...
    message: str


@dataclass
class Outcome:
    """The result of one run, before statistics. ``ts`` are bar open times (ms); ``equity`` is at each bar's close.

    ``first_bar`` is the first bar that counts (earlier bars only warm the indicators up); ``equity`` before it
    is the starting capital. ``open_position`` describes a position still open at the end: it counts in the
    final equity, not among the trades.
    """

    ts: np.ndarray
    close: np.ndarray
    bar_ms: int
    first_bar: int
    equity: np.ndarray
    capital: Decimal
    final_equity: Decimal
    trades: TradeTable
    open_position: dict[str, Any] | None = None
    open_fees: Decimal = ZERO  # fees paid on the position still open at the end
    funding: Decimal = ZERO  # funding received over the whole run (negative: paid)
    denials: dict[str, RuleCount] = field(default_factory=dict)
    events: list[AccountEvent] = field(default_factory=list)
    signals: int = 0  # actionable signals seen while flat (taken or not)
    exposure_bars: int = 0  # bars during which a position was open
    notes: dict[str, str] = field(default_factory=dict)  # facts a reader needs to read the figures right

    def fees_paid(self) -> Decimal:
        """Return every fee paid, including those of a position still open at the end."""
        return self.trades.total_fees() + self.open_fees
