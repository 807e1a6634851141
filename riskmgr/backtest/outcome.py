"""What a backtest produces: the trade table, the per-bar equity curve, rule denials and account events.

The trade table is columnar (plain lists, or exact integer columns) because the SMA reference can close tens of
thousands of trades per run; ``TradeTable.rows`` turns it into dictionaries only when a page or an export
asks for them. Money is Decimal throughout; the equity curve is float64 because it feeds the statistics and
the charts, not the books.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, overload

import numpy as np

from riskmgr.core.clock import from_ms
from riskmgr.core.domain import ZERO
from riskmgr.core.formatting import dec


class ExactColumn(Sequence[Decimal]):
    """A money column held as integers of 10 ** -places: exact, and turned into Decimal only where it is read.

    The SMA reference books tens of thousands of trades per run; building a Decimal for every figure of every
    trade would cost more than the whole run, while pages, exports and statistics read few of them.
    """

    __slots__ = ("ints", "places")

    def __init__(self, ints: list[int], places: int):
        self.ints, self.places = ints, places

    def __len__(self) -> int:
        return len(self.ints)

    @overload
    def __getitem__(self, k: int) -> Decimal: ...

    @overload
    def __getitem__(self, k: slice) -> list[Decimal]: ...

    def __getitem__(self, k: int | slice) -> Decimal | list[Decimal]:
        if isinstance(k, slice):
            return [Decimal(v).scaleb(-self.places) for v in self.ints[k]]
        return Decimal(self.ints[k]).scaleb(-self.places)

    def total(self, picks: Sequence[int] | None = None) -> Decimal:
        """Return the exact sum of the column (or of the rows ``picks``)."""
        ints = self.ints if picks is None else [self.ints[k] for k in picks]
        return Decimal(sum(ints)).scaleb(-self.places)

    def floats(self) -> np.ndarray:
        """Return the column as float64."""
        return np.array(self.ints, dtype=np.float64) / 10.0 ** self.places


def column_total(column: Sequence[Decimal], picks: Sequence[int] | None = None) -> Decimal:
    """Return the exact sum of a money column (or of its rows ``picks``)."""
    if isinstance(column, ExactColumn):
        return column.total(picks)
    return sum(column if picks is None else (column[k] for k in picks), ZERO)


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
        if isinstance(self.net_pnl, ExactColumn):
            return self.net_pnl.floats()
        return np.fromiter(map(float, self.net_pnl), dtype=np.float64, count=len(self.net_pnl))

    def total_fees(self) -> Decimal:
        """Return the fees of every closed trade."""
        return column_total(self.fees)

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
