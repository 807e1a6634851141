"""One closed trade as the journal shows it, and the exit reasons it can carry.

A journal trade is one close (full or partial) of one position. Every figure is the venue's (or the paper
ledger's) own, or None where the source does not report it; a None is shown as "unknown", never as 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from riskmgr.core.formatting import dec

STOP, TARGET, MANUAL, EMERGENCY, LIQUIDATION, SIGNAL, RISK, UNKNOWN = (
    "stop", "target", "manual", "emergency", "liquidation", "signal", "risk", "unknown",
)
EXIT_REASONS: dict[str, str] = {
    STOP: "stop-loss",
    TARGET: "take-profit",
    MANUAL: "manual close",
    EMERGENCY: "emergency stop",
    LIQUIDATION: "liquidation",
    SIGNAL: "signal",
    RISK: "risk rule close",
    UNKNOWN: "unknown",
}
# the gate's ``purpose`` of the order that closed a position -> the exit reason it means
PURPOSE_REASONS: dict[str, str] = {
    "emergency-close": EMERGENCY,
    "close": MANUAL,
    "manual": MANUAL,
    "partial-close": MANUAL,
    "signal": SIGNAL,
    "partial-take-profit": TARGET,
    "monitor-close": RISK,
    "watchdog-close": RISK,
    "unwind-unprotected": RISK,
}
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class SignalRef:
    """The signal whose order opened the position."""

    id: int
    key: str
    rule: str
    timeframe: str
    confidence: int

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "key": self.key, "rule": self.rule, "timeframe": self.timeframe,
                "confidence": self.confidence}


@dataclass(frozen=True)
class JournalTrade:
    """One close of one position; ``None`` means the source does not report that figure."""

    id: str
    account: str
    exchange: str
    symbol: str | None
    side: str | None  # the closed position's side: long / short
    exit_time: datetime
    realized_pnl: Decimal  # USDT, after the fees (and funding) the source includes; see ``pnl_basis``
    pnl_basis: str
    entry_time: datetime | None = None
    entry_price: Decimal | None = None
    exit_price: Decimal | None = None
    qty: Decimal | None = None
    fees: Decimal | None = None
    funding: Decimal | None = None
    exit_reason: str = UNKNOWN
    exit_detail: str = ""
    opened_by: str | None = None  # the gate's purpose of the opening order, where known
    signal: SignalRef | None = None
    close_client_id: str | None = None

    @property
    def entry_notional(self) -> Decimal | None:
        if self.entry_price is None or self.qty is None:
            return None
        return self.entry_price * self.qty

    @property
    def pnl_pct(self) -> Decimal | None:
        """Return the realized P&L as a percentage of the entry notional (None where that is unknown)."""
        notional = self.entry_notional
        if not notional:
            return None
        return (self.realized_pnl / notional * HUNDRED).quantize(Decimal("0.01"))

    @property
    def duration_seconds(self) -> int | None:
        if self.entry_time is None:
            return None
        return int((self.exit_time - self.entry_time).total_seconds())

    def to_dict(self) -> dict[str, Any]:
        """Return the trade for the JSON API: Decimals as exact text, times as ISO 8601 UTC."""
        return {
            "id": self.id, "account": self.account, "exchange": self.exchange, "symbol": self.symbol,
            "side": self.side,
            "entry_time": self.entry_time.isoformat() if self.entry_time else None,
            "exit_time": self.exit_time.isoformat(),
            "entry_price": dec(self.entry_price), "exit_price": dec(self.exit_price), "qty": dec(self.qty),
            "realized_pnl": dec(self.realized_pnl), "pnl_pct": dec(self.pnl_pct), "pnl_basis": self.pnl_basis,
            "fees": dec(self.fees), "funding": dec(self.funding), "duration_seconds": self.duration_seconds,
            "exit_reason": self.exit_reason, "exit_reason_label": EXIT_REASONS[self.exit_reason],
            "exit_detail": self.exit_detail, "opened_by": self.opened_by,
            "signal": self.signal.to_dict() if self.signal else None,
        }


def reason_of_purpose(purpose: str | None) -> str:
    """Return the exit reason the gate's ``purpose`` of a closing order means (unknown when not one we know)."""
    return PURPOSE_REASONS.get(purpose or "", UNKNOWN)
