"""The automatic emergency-stop triggers the risk engine checks after every poll, and the one-time notices.

Each trigger names itself (``Trigger.name``) in the audit log and in the sequence it starts, and fires once per
episode (a notice row keyed by what it saw), so a condition that lasts does not start a sequence every cycle:

- ``daily_loss``: the daily loss limit (RiskLimits.auto_emergency_on_daily_loss) — raised by the engine's tiers;
- ``drawdown_max``: the last drawdown tier (RiskLimits.auto_emergency_on_drawdown) — raised by the engine's tiers;
- ``consecutive_losses``: the losing streak reached RiskLimits.max_consecutive_losses (EMERGENCY_ON_CONSECUTIVE_LOSSES);
- ``failed_polls``: N polls of an account failed in a row (EMERGENCY_FAILED_POLLS);
- ``stale_data``: an account's last good read is older than X seconds (EMERGENCY_STALE_SECONDS);
- ``critical_unprotected``: a CRITICAL position without a working stop-loss (EMERGENCY_ON_CRITICAL_UNPROTECTED).

The position-based triggers read only real, fresh data; the data triggers exist precisely for when there is none.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import Engine, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from riskmgr.core.clock import Clock
from riskmgr.core.domain import AccountSnapshot, Order, Position, PositionSide, RiskLevel
from riskmgr.core.errors import ExchangeError, ValidationError
from riskmgr.core.formatting import dec
from riskmgr.risk.config import RiskLimits
from riskmgr.risk.emergency.config import EmergencySettings
from riskmgr.risk.emergency.models import RiskNotice
from riskmgr.risk.levels import move_pct, risk_level
from riskmgr.risk.protection import find_protection

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime

log = logging.getLogger(__name__)
CLOSED_TRADES_LOOKBACK = timedelta(days=30)
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class Trigger:
    """An automatic reason to run the emergency stop."""

    name: str
    account: str | None
    reason: str
    key: str = ""  # the notice that makes it fire once; released if the emergency stop could not be started


class Notices:
    """One-time records: ``claim`` is true only the first time a key is seen (across restarts and processes)."""

    def __init__(self, engine: Engine, clock: Clock):
        self._engine = engine
        self._clock = clock

    def claim(self, key: str, kind: str, account: str | None, message: str) -> bool:
        """Record ``key``; return False if it was recorded before."""
        try:
            with Session(self._engine) as session, session.begin():
                session.add(RiskNotice(
                    key=key[:255], kind=kind, account=account, created_at=self._clock.now(), message=message
                ))
            return True
        except IntegrityError:
            return False

    def release(self, key: str) -> None:
        """Forget ``key`` so the action it guarded is tried again (its first try failed)."""
        with Session(self._engine) as session, session.begin():
            session.execute(delete(RiskNotice).where(RiskNotice.key == key[:255]))


def has_working_stop(position: Position, orders: Iterable[Order]) -> bool:
    """Say whether a stop-loss rests for the whole position on the safe side of the mark (not already crossed)."""
    protection = find_protection(position, orders)
    stop = protection.stop_loss
    if stop is None or not protection.stop_covers_full_size:
        return False
    if position.side is PositionSide.LONG:
        return stop < position.mark_price
    return stop > position.mark_price


def data_triggers(
    snapshots: Iterable[AccountSnapshot], settings: EmergencySettings, now: datetime, notices: Notices
) -> list[Trigger]:
    """Fire ``failed_polls`` / ``stale_data`` once per outage (keyed by the time of the last good read)."""
    fired: list[Trigger] = []
    for snap in snapshots:
        since = snap.fetched_at.isoformat() if snap.fetched_at else "never"
        failed = int(snap.extra.get("failed_polls", 0))
        if settings.failed_polls and failed >= settings.failed_polls:
            reason = (f"{snap.account}: {failed} polls failed in a row (limit {settings.failed_polls}), "
                      f"last good read {since}: {snap.error}")
            fired += _once(notices, f"trigger|failed_polls|{snap.account}|{since}", "failed_polls", snap.account,
                           reason)
        if settings.stale_seconds and snap.fetched_at is not None:
            age = (now - snap.fetched_at).total_seconds()
            if age > settings.stale_seconds:
                reason = (f"{snap.account}: data is {age:.0f} s old (limit {settings.stale_seconds} s), "
                          f"stale since {since}: {snap.error or 'no error reported'}")
                fired += _once(notices, f"trigger|stale_data|{snap.account}|{since}", "stale_data", snap.account,
                               reason)
    return fired


def critical_unprotected(
    snap: AccountSnapshot, limits: RiskLimits, settings: EmergencySettings, notices: Notices
) -> list[Trigger]:
    """Fire once per position that is CRITICAL and has no working stop-loss (real, fresh data only)."""
    if not settings.on_critical_unprotected:
        return []
    fired: list[Trigger] = []
    for position in snap.positions:
        try:
            level = risk_level(position, limits)
        except ValidationError as exc:  # a position without a real price cannot be graded; the watchdog sees it
            log.warning("%s %s: cannot grade the position: %s", snap.account, position.symbol, exc)
            continue
        if level is not RiskLevel.CRITICAL or has_working_stop(position, snap.orders):
            continue
        reason = (f"{snap.account}: {position.symbol} {position.side.value} is CRITICAL "
                  f"({dec(-move_pct(position).quantize(_CENT))} % against entry) without a working stop-loss")
        key = f"trigger|critical_unprotected|{snap.account}|{position.identity}"
        fired += _once(notices, key, "critical_unprotected", snap.account, reason)
    return fired


def losing_streak(
    runtime: Runtime, snap: AccountSnapshot, limits: RiskLimits, now: datetime, notices: Notices
) -> list[Trigger]:
    """Fire once per losing streak that reaches the limit (any exit reason counts as a close)."""
    reader = runtime.accounts[snap.account]
    day = now.date().isoformat()
    try:
        trades = sorted(reader.fetch_closed_trades(now - CLOSED_TRADES_LOOKBACK), key=lambda t: t.closed_at,
                        reverse=True)
    except ExchangeError as exc:
        message = f"{snap.account}: the consecutive-loss trigger cannot read closed trades: {exc.describe()}"
        if notices.claim(f"blind|consecutive_losses|{snap.account}|{day}", "consecutive_losses", snap.account,
                         message):
            runtime.audit.record("risk.trigger_blind", "risk-engine", message, account=snap.account)
        return []
    streak = 0
    for trade in trades:
        if trade.realized_pnl >= 0:
            break
        streak += 1
    if streak < limits.max_consecutive_losses:
        return []
    reason = (f"{snap.account}: {streak} losing closes in a row (limit {limits.max_consecutive_losses}), "
              f"the last at {trades[0].closed_at.isoformat()}")
    key = f"trigger|consecutive_losses|{snap.account}|{trades[0].closed_at.isoformat()}"
    return _once(notices, key, "consecutive_losses", snap.account, reason)


def _once(notices: Notices, key: str, name: str, account: str | None, reason: str) -> list[Trigger]:
    if notices.claim(key, f"trigger.{name}", account, reason):
        return [Trigger(name, account, reason, key)]
    return []
