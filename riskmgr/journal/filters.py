"""The journal's filters, read from a query string or CLI options; bad input names the field and what is allowed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from riskmgr.core.errors import ValidationError
from riskmgr.core.validation import SYMBOL_MAX, opt_str, opt_time
from riskmgr.journal.trades import EXIT_REASONS, JournalTrade

DEFAULT_DAYS = 30
MAX_DAYS = 366
SIDES = ["long", "short"]
FIELDS = frozenset({"account", "symbol", "side", "reason", "from", "to", "format"})


@dataclass(frozen=True)
class TradeFilter:
    since: datetime
    until: datetime
    account: str | None = None
    symbol: str | None = None
    side: str | None = None
    reason: str | None = None

    def accepts(self, trade: JournalTrade) -> bool:
        """Say whether ``trade`` passes every filter set."""
        return (
            self.since <= trade.exit_time <= self.until
            and (self.account is None or trade.account == self.account)
            and (self.symbol is None or (trade.symbol or "").upper() == self.symbol.upper())
            and (self.side is None or trade.side == self.side)
            and (self.reason is None or trade.exit_reason == self.reason)
        )

    def to_dict(self) -> dict[str, Any]:
        return {"account": self.account, "symbol": self.symbol, "side": self.side, "reason": self.reason,
                "from": self.since.isoformat(), "to": self.until.isoformat()}


def parse_filter(args: Mapping[str, Any], accounts: list[str], now: datetime) -> TradeFilter:
    """Return the filter ``args`` ask for (default: every account, the last 30 days up to now)."""
    unknown = sorted(set(args) - FIELDS)
    if unknown:
        raise ValidationError(unknown[0], f"is not a filter; allowed: {', '.join(sorted(FIELDS))}")
    until = opt_time(args, "to") or now
    since = opt_time(args, "from") or until - timedelta(days=DEFAULT_DAYS)
    if until > now + timedelta(days=1):
        raise ValidationError("to", f"{until.isoformat()} is in the future; allowed: up to now ({now.isoformat()})")
    if since >= until:
        raise ValidationError("from", f"{since.isoformat()} must be before to ({until.isoformat()})")
    if until - since > timedelta(days=MAX_DAYS):
        raise ValidationError("from", f"the range from {since.date()} to {until.date()} is longer than {MAX_DAYS} "
                                      f"days; allowed: 1 second to {MAX_DAYS} days")
    return TradeFilter(
        since=since, until=until,
        account=opt_str(args, "account", accounts) if accounts else None,
        symbol=opt_str(args, "symbol", max_len=SYMBOL_MAX),
        side=opt_str(args, "side", SIDES),
        reason=opt_str(args, "reason", list(EXIT_REASONS)),
    )
