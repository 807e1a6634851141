"""Per-account switches: "pause new entries" and auto-trading on / off, persisted and audited.

Pausing is not a trading state: HALTED and REDUCING act on every account and need a re-arm; a pause stops only
new entries of one account (the gate denies them with a verdict naming the pause) while closes, partial closes,
stop moves and cancels go on. The auto-trading switch overrides AUTO_TRADE_PAPER / AUTO_TRADE_LIVE /
AUTO_TRADE_ACCOUNTS for one account at run time; with no switch set the configuration decides.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from riskmgr.controls.models import AccountControl
from riskmgr.core.clock import Clock
from riskmgr.core.domain import Verdict
from riskmgr.persistence.audit import AuditLog

PAUSE_RULE = "entries_paused"


@dataclass(frozen=True)
class Switches:
    """One account's switches as stored (``auto_trading`` None: as configured)."""

    account: str
    entries_paused: bool = False
    entries_reason: str | None = None
    entries_changed_at: datetime | None = None
    entries_changed_by: str | None = None
    auto_trading: bool | None = None
    auto_reason: str | None = None
    auto_changed_at: datetime | None = None
    auto_changed_by: str | None = None

    def pause_text(self) -> str:
        """Describe the pause for a verdict or the banner."""
        when = self.entries_changed_at.strftime("%Y-%m-%d %H:%M:%S UTC") if self.entries_changed_at else "?"
        why = f": {self.entries_reason}" if self.entries_reason else ""
        return f"new entries on {self.account} are paused (by {self.entries_changed_by} at {when}){why}"

    def as_dict(self) -> dict[str, Any]:
        """Return the switches JSON-safe."""
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None
        return {
            "account": self.account,
            "entries_paused": self.entries_paused, "entries_reason": self.entries_reason,
            "entries_changed_at": iso(self.entries_changed_at), "entries_changed_by": self.entries_changed_by,
            "auto_trading_switch": None if self.auto_trading is None else ("on" if self.auto_trading else "off"),
            "auto_reason": self.auto_reason, "auto_changed_at": iso(self.auto_changed_at),
            "auto_changed_by": self.auto_changed_by,
        }


class AccountSwitches:
    """Read and change the per-account switches; every change is audited."""

    def __init__(self, engine: Engine, clock: Clock, audit: AuditLog, accounts: Iterable[str]):
        self._engine = engine
        self._clock = clock
        self._audit = audit
        self._accounts = tuple(accounts)

    def get(self, account: str) -> Switches:
        """Return one account's switches (the defaults when none was ever set)."""
        with Session(self._engine) as session:
            row = session.get(AccountControl, account)
            return _switches(row) if row is not None else Switches(account)

    def all(self) -> list[Switches]:
        """Return every configured account's switches, in configuration order."""
        # a Core read on a pooled connection: every page's banner asks for this
        with self._engine.connect() as conn:
            return self.of_rows(conn.execute(select(AccountControl.__table__)))

    def of_rows(self, rows: Iterable[Any]) -> list[Switches]:
        """Return every configured account's switches from rows of the switches table already read."""
        by_account = {r.account: r for r in rows}
        return [_switches(by_account[a]) if a in by_account else Switches(a) for a in self._accounts]

    def set_paused(self, account: str, paused: bool, *, reason: str, by: str) -> Switches:
        """Pause or resume new entries on ``account``; audited (a no-op change is audited too, as such)."""
        now = self._clock.now()
        before = self._write(account, entries_paused=paused, entries_reason=reason or None,
                             entries_changed_at=now, entries_changed_by=by)
        word = "paused" if paused else "resumed"
        same = " (it already was)" if before.entries_paused == paused else ""
        self._audit.record(f"account.entries_{word}", by, f"new entries on {account} {word}{same}"
                           + (f": {reason}" if reason else ""), account=account,
                           data={"paused": paused, "reason": reason})
        return self.get(account)

    def set_auto_trading(self, account: str, on: bool | None, *, reason: str, by: str) -> Switches:
        """Switch auto-trading on or off for ``account`` (None: back to the configuration); audited."""
        now = self._clock.now()
        self._write(account, auto_trading=on, auto_reason=reason or None, auto_changed_at=now, auto_changed_by=by)
        word = {True: "on", False: "off", None: "back to the configured default"}[on]
        self._audit.record("account.auto_trading", by, f"auto-trading on {account} switched {word}"
                           + (f": {reason}" if reason else ""), account=account,
                           data={"auto_trading": on, "reason": reason})
        return self.get(account)

    def entry_check(self, account: str) -> Verdict | None:
        """Return the gate's verdict on a new entry of ``account``: a denial naming the pause, else None."""
        switches = self.get(account)
        if switches.entries_paused:
            return Verdict.deny(PAUSE_RULE, switches.pause_text() + "; closes, stop moves and cancels still work")
        return None

    def _write(self, account: str, **values: Any) -> Switches:
        """Set ``values`` on the account's row (created on first use); return the switches before."""
        for _attempt in range(2):  # two first writers: the insert that loses retries as an update
            try:
                with Session(self._engine) as session, session.begin():
                    row = session.get(AccountControl, account, with_for_update=True)
                    before = _switches(row) if row is not None else Switches(account)
                    if row is None:
                        row = AccountControl(account=account, entries_paused=False)
                        session.add(row)
                    for key, value in values.items():
                        setattr(row, key, value)
                return before
            except IntegrityError:
                continue
        raise RuntimeError(f"the switches row of {account} could neither be inserted nor updated")


def _switches(row: Any) -> Switches:  # an AccountControl or a row of its table (same names)
    return Switches(
        row.account, bool(row.entries_paused), row.entries_reason, row.entries_changed_at, row.entries_changed_by,
        row.auto_trading, row.auto_reason, row.auto_changed_at, row.auto_changed_by,
    )
