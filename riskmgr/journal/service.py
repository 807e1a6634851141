"""The trade journal: closed trades of every account, and per account whether its history could be read.

An account whose history cannot be read is reported as "history unavailable since … — reason", never as an
account without trades. Paper accounts are rebuilt from the paper ledger's fills; live venues from their
closed-trade history (``ExchangeAdapter.fetch_closed_trades``).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from riskmgr.core.domain import AccountSnapshot, AccountStatus
from riskmgr.core.errors import ExchangeError
from riskmgr.journal import store
from riskmgr.journal.filters import TradeFilter
from riskmgr.journal.paper_source import paper_trades
from riskmgr.journal.trades import JournalTrade
from riskmgr.journal.venue_source import capture, stored_trades, venue_trades

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime

log = logging.getLogger(__name__)
CAPTURE_EVERY = timedelta(minutes=10)
CAPTURE_LOOKBACK = timedelta(days=90)


@dataclass(frozen=True)
class AccountHistory:
    """Whether one account's closed-trade history was read, and if not since when and why."""

    account: str
    exchange: str
    mode: str
    available: bool
    checked_at: datetime
    trades: int = 0
    unavailable_since: datetime | None = None
    reason: str | None = None
    stored_only: bool = False  # unavailable, but closes stored by earlier reads are shown

    def to_dict(self) -> dict[str, Any]:
        return {"account": self.account, "exchange": self.exchange, "mode": self.mode, "available": self.available,
                "checked_at": self.checked_at.isoformat(),
                "trades": self.trades if self.available or self.stored_only else None,
                "unavailable_since": self.unavailable_since.isoformat() if self.unavailable_since else None,
                "reason": self.reason, "stored_only": self.stored_only}


@dataclass(frozen=True)
class Journal:
    """The trades a filter selects, newest first, and the history status of every account it covers."""

    filter: TradeFilter
    trades: list[JournalTrade]
    accounts: list[AccountHistory]

    @property
    def complete(self) -> bool:
        return all(a.available for a in self.accounts)


class JournalService:
    """Read closed trades per account; remember since when an account's history has been unavailable."""

    def __init__(self, runtime: Runtime):
        self._rt = runtime
        self._failing_since: dict[str, datetime] = {}
        self._captured_at: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def accounts(self) -> list[str]:
        return list(self._rt.accounts)

    def journal(self, flt: TradeFilter) -> Journal:
        """Return the trades ``flt`` selects and the history status of each account it covers."""
        names = [flt.account] if flt.account else self.accounts()
        trades: list[JournalTrade] = []
        statuses = []
        for name in names:
            found, status = self._account_trades(name, flt)
            kept = [t for t in found if flt.accepts(t)]
            trades.extend(kept)
            statuses.append(replace(status, trades=len(kept)))
        trades.sort(key=lambda t: (t.exit_time, t.id), reverse=True)
        return Journal(flt, trades, statuses)

    def _account_trades(self, name: str, flt: TradeFilter) -> tuple[list[JournalTrade], AccountHistory]:
        reader = self._rt.accounts[name]
        now = self._rt.clock.now()
        try:
            if reader.mode == "paper":
                reader.sync()  # replay the market up to now, so stops and liquidations due are in the fills
                found = paper_trades(self._rt.engine, name, flt.since, flt.until)
            else:
                found = venue_trades(self._rt.engine, reader, flt.since, flt.until, now)
        except ExchangeError as exc:
            why = exc.describe()
            log.warning("journal: %s history unavailable: %s", name, why)
            with self._lock:
                since = self._failing_since.setdefault(name, now)
            # a live venue's closes stored by earlier reads still show, marked as not the whole history
            kept = [] if reader.mode == "paper" else stored_trades(self._rt.engine, reader, flt.since, flt.until)
            return kept, AccountHistory(name, reader.exchange, reader.mode, False, now, unavailable_since=since,
                                        reason=why, stored_only=reader.mode != "paper")
        with self._lock:
            self._failing_since.pop(name, None)
        return found, AccountHistory(name, reader.exchange, reader.mode, True, now)

    def capture(self, snapshots: list[AccountSnapshot]) -> int:
        """Store new closes of each live account that polled fine, at most every ``CAPTURE_EVERY``; return how many.

        Reads from a day before the newest stored close (the last ``CAPTURE_LOOKBACK`` when nothing is stored), so
        a venue's history window never drops a close the journal has not seen. A failed read is logged and tried
        again at the next capture; the journal page reports a venue it cannot read when it is opened.
        """
        now = self._rt.clock.now()
        new = 0
        for snap in snapshots:
            reader = self._rt.accounts.get(snap.account)
            if reader is None or reader.mode == "paper" or snap.status is not AccountStatus.OK:
                continue
            with self._lock:
                if now - self._captured_at.get(snap.account, datetime.min.replace(tzinfo=UTC)) < CAPTURE_EVERY:
                    continue
                self._captured_at[snap.account] = now
            last = store.newest(self._rt.engine, snap.account)
            since = last - timedelta(days=1) if last is not None else now - CAPTURE_LOOKBACK
            try:
                new += capture(self._rt.engine, reader, since, now)
            except ExchangeError as exc:
                log.warning("journal: closed trades of %s not captured: %s", snap.account, exc.describe())
        return new
