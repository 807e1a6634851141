"""Cancel resting entry orders the moment new risk stops being allowed.

A resting limit entry is risk that may still be taken after the rules have said no: it would fill after the
trading state drops to REDUCING or HALTED, after the daily loss limit is hit, or during a losing-streak cooldown.
So on each of these, every resting non-protective entry order of the affected accounts is cancelled through the
gate (audited; the dashboard shows the audit line). Resting stop-loss and take-profit orders stay.

The gateway is fenced first, so an entry whose send had started before the change has returned and is cancelled
too. While an emergency stop runs, its own step 2 does this; the guard stands aside.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from riskmgr.core.domain import AccountSnapshot, TradingState
from riskmgr.core.errors import ExchangeError
from riskmgr.core.events import Event
from riskmgr.risk.config import RiskLimits
from riskmgr.risk.emergency.service import EmergencyService
from riskmgr.risk.exposure import resting_entries
from riskmgr.risk.gateway import EntryCancellation
from riskmgr.risk.state import daily_loss_pct

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime

log = logging.getLogger(__name__)
ACTOR = "entry-guard"
STREAK_LOOKBACK = timedelta(days=30)


class EntryGuard:
    """Cancel resting entries on state changes, the daily loss limit and losing-streak cooldowns."""

    def __init__(self, runtime: Runtime, max_workers: int = 8):
        self._rt = runtime
        self._workers = max_workers

    # -- triggers ----------------------------------------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        """React to a move to REDUCING / HALTED (all accounts) and to the daily loss limit (its account)."""
        if event.kind == "state.changed" and event.data.get("to") in ("REDUCING", "HALTED"):
            if self._emergency_running():
                return
            why = f"trading moved to {event.data['to']} ({event.data.get('reason', '')})"
            self.cancel(list(self._rt.accounts), why)
        elif event.kind == "risk.daily_loss" and event.account:
            self.cancel([event.account], f"the daily loss limit was reached ({event.message})")

    def sweep(self, snap: AccountSnapshot, limits: RiskLimits, now: datetime, day_start_equity: Decimal | None
              ) -> EntryCancellation | None:
        """After a poll: cancel ``snap``'s resting entries if new risk is not allowed on it now, saying why.

        Covers a cancel that failed before, and entries placed by hand on the venue: the state is not ACTIVE, the
        day's loss has reached the limit, or a losing-streak cooldown runs.
        """
        entries, unpriced = resting_entries(snap.orders)
        if not entries and not unpriced:
            return None  # nothing could fill: nothing to read or cancel
        state = self._rt.trading.current().state
        why = None
        if state is not TradingState.ACTIVE:
            why = f"trading is {state.value}"
        elif (snap.balance is not None and day_start_equity and day_start_equity > 0
              and daily_loss_pct(snap.balance.equity, day_start_equity) >= limits.daily_loss_limit_pct):
            why = f"the daily loss limit {limits.daily_loss_limit_pct} % is reached"
        else:
            why = self._streak(snap, limits, now)
        if why is None or self._emergency_running():
            return None
        return self.cancel([snap.account], why).get(snap.account)

    def _streak(self, snap: AccountSnapshot, limits: RiskLimits, now: datetime) -> str | None:
        """Return why a losing-streak cooldown runs on ``snap``'s account now, or None."""
        reader = self._rt.accounts[snap.account]
        try:
            trades = sorted(reader.fetch_closed_trades(now - STREAK_LOOKBACK), key=lambda t: t.closed_at,
                            reverse=True)
        except ExchangeError as exc:
            log.warning("%s: closed trades unreadable (%s); the losing-streak guard retries next poll",
                        snap.account, exc.describe())
            return None
        streak = next((i for i, t in enumerate(trades) if t.realized_pnl >= 0), len(trades))
        if streak < limits.max_consecutive_losses:
            return None
        until = trades[0].closed_at + timedelta(minutes=limits.loss_cooldown_minutes)
        if now >= until:
            return None
        return (f"{streak} losing closes in a row started a cooldown until {until:%Y-%m-%d %H:%M:%S} UTC "
                f"(breaker at {limits.max_consecutive_losses})")

    # -- acting ------------------------------------------------------------------------------------------------
    def cancel(self, accounts: list[str], reason: str) -> dict[str, EntryCancellation]:
        """Fence the gate, then cancel every resting entry order of ``accounts`` in parallel; return what was done."""
        gateway = self._rt.gateway
        gateway.fence(accounts)
        out: dict[str, EntryCancellation] = {}
        with ThreadPoolExecutor(max_workers=max(1, min(self._workers, len(accounts)))) as pool:
            futures = {a: pool.submit(gateway.cancel_entries, a, actor=ACTOR, reason=reason) for a in accounts}
            for account, future in futures.items():
                try:
                    out[account] = future.result()
                except ExchangeError as exc:  # the open orders could not be read: say so loudly, retry next time
                    message = f"resting entry orders could not be cancelled ({reason}): {exc.describe()}"
                    self._rt.audit.record("order.entries_cancel_failed", ACTOR, message,
                                          account=account, data={"reason": reason, "error": exc.describe()})
                    log.error("%s: %s", account, message)
        return out

    def _emergency_running(self) -> bool:
        emergency = self._rt.optional_feature(EmergencyService)
        return emergency is not None and emergency.store.running_id() is not None
