"""The risk engine, run after every poll: account tiers, automatic emergency triggers, the position monitor.

1. **Tiers.** Every account with real, fresh figures is graded against the drawdown tiers and the daily loss
   limit (``risk.state.evaluate_account_tiers`` with the persisted peak and day-start equity). Reaching a tier acts
   once per tier per risk day: the warn tier is audited and announced; REDUCING and the last tier move the trading
   state down (never up: ``TradingStateStore.escalate``). Acting once is also what lets an operator's re-arm hold.
2. **Triggers.** The automatic emergency-stop triggers (``emergency_triggers``) each fire once per episode and
   start one emergency stop sequence, naming themselves.
3. **Position monitor.** Every position is graded (``risk.levels.position_actions``); a CRITICAL one is closed
   and a winning one may have its partial take-profit taken, through the gateway, each with a deterministic intent
   id and a persisted record so no two cycles act twice. Stale data never leads to an order on guessed figures.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from riskmgr.core.domain import AccountSnapshot, AccountStatus, OrderRequest, OrderType, Position, TradingState
from riskmgr.core.errors import ExchangeError, ValidationError
from riskmgr.core.feature import Feature
from riskmgr.core.labels import rule_label
from riskmgr.persistence.models import AccountState
from riskmgr.risk.config import RiskLimits
from riskmgr.risk.emergency import triggers
from riskmgr.risk.emergency.config import NAME as EMERGENCY
from riskmgr.risk.emergency.config import EmergencySettings
from riskmgr.risk.emergency.models import MonitorAction
from riskmgr.risk.emergency.service import EmergencyService
from riskmgr.risk.gateway import GatewayResult
from riskmgr.risk.levels import PositionAction, PositionActionKind, position_actions
from riskmgr.risk.sizing import round_down_to_step
from riskmgr.risk.state import AccountTiers, DrawdownTier, evaluate_account_tiers, risk_day

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime

log = logging.getLogger(__name__)
ACTOR = "risk-engine"
MAX_MONITOR_ATTEMPTS = 20  # a close the exchange keeps rejecting is left to the operator after this many cycles
FINAL = ("done", "alerted", "gave_up")


def poll_hook(runtime: Runtime, snapshots: list[AccountSnapshot]) -> None:
    """Grade every account and position after a poll and act: state moves, emergency triggers, monitor closes."""
    RiskEngine(runtime).run(snapshots)


def is_real(snap: AccountSnapshot, now: datetime, limits: RiskLimits) -> bool:
    """Say whether a snapshot holds real figures read recently enough to act on."""
    if snap.status is not AccountStatus.OK or snap.balance is None or snap.fetched_at is None:
        return False
    return now - snap.fetched_at <= timedelta(seconds=limits.stale_after_seconds)


class RiskEngine:
    """One evaluation of one poll's snapshots."""

    def __init__(self, runtime: Runtime):
        self._rt = runtime
        self._limits = runtime.limits()
        self._now = runtime.clock.now()
        self._settings: EmergencySettings = runtime.settings.feature(EMERGENCY)
        self._notices = triggers.Notices(runtime.engine, runtime.clock)

    def run(self, snapshots: list[AccountSnapshot]) -> None:
        """Evaluate tiers and triggers; start the emergency stop or run the position monitor."""
        real = [s for s in snapshots if is_real(s, self._now, self._limits)]
        states = self._account_states()
        fired: list[triggers.Trigger] = []
        for snap in real:
            if snap.account in states:
                fired += self._tiers(snap, states[snap.account])
        fired += triggers.data_triggers(snapshots, self._settings, self._now, self._notices)
        for snap in real:
            fired += triggers.critical_unprotected(snap, self._limits, self._settings, self._notices)
            if self._settings.on_consecutive_losses:
                fired += triggers.losing_streak(self._rt, snap, self._limits, self._now, self._notices)
        if fired:
            self._fire(fired)
            return
        emergency = self._rt.optional_feature(EmergencyService)
        if emergency is not None and emergency.store.running_id() is not None:
            return  # the emergency stop is flattening everything; the monitor would only race it
        self._sweep_entries(real, states)
        for snap in real:
            self._monitor(snap)

    def _sweep_entries(self, real: list[AccountSnapshot], states: dict[str, AccountState]) -> None:
        """Cancel resting entries on accounts where new risk is not allowed now (state, daily loss, cooldown)."""
        guard = self._rt.entry_guard
        if guard is None:
            return
        today = risk_day(self._now, self._limits.zone()).isoformat()
        for snap in real:
            row = states.get(snap.account)
            day_start = row.day_start_equity if row is not None and row.day == today else None
            try:
                guard.sweep(snap, self._limits, self._now, day_start)
            except ExchangeError as exc:  # the open orders could not be read: the next poll tries again
                log.error("%s: resting entries not swept: %s", snap.account, exc.describe())

    # -- tiers -------------------------------------------------------------------------------------------------
    def _account_states(self) -> dict[str, AccountState]:
        with Session(self._rt.engine) as session:
            return {row.account: row for row in session.scalars(select(AccountState))}

    def _tiers(self, snap: AccountSnapshot, state: AccountState) -> list[triggers.Trigger]:
        if snap.balance is None:  # is_real() has checked it; this only keeps the type checker sure
            return []
        try:
            tiers = evaluate_account_tiers(
                self._limits, snap.balance.equity, state.day_start_equity, state.peak_equity, self._now
            )
        except ValidationError as exc:  # e.g. a peak of 0: there is no percentage to grade
            log.warning("account %s: tiers not graded: %s", snap.account, exc)
            return []
        fired = self._drawdown(snap.account, tiers)
        return fired + self._daily_loss(snap.account, tiers)

    def _drawdown(self, account: str, tiers: AccountTiers) -> list[triggers.Trigger]:
        tier = tiers.drawdown_tier
        key = f"tier|{tiers.day.isoformat()}|{account}|drawdown|{tier.value}"
        if tier is DrawdownTier.NONE or not self._notices.claim(key, "risk.drawdown", account, tiers.drawdown_reason):
            return []
        reason = f"{account}: {tiers.drawdown_reason}"
        with self._released_on_failure(key):
            self._rt.audit.record("risk.drawdown", ACTOR, reason, account=account,
                                  data={"tier": tier.value, "drawdown_pct": str(tiers.drawdown_pct)})
            self._rt.events.emit("risk.drawdown", reason, account=account,
                                 data={"tier": tier.value, "drawdown_pct": str(tiers.drawdown_pct)})
            if tier is DrawdownTier.REDUCING:
                self._rt.trading.escalate(TradingState.REDUCING, reason, ACTOR)
            if tier is DrawdownTier.HALT:
                self._rt.trading.escalate(TradingState.HALTED, reason, ACTOR)
        if tier is DrawdownTier.HALT and self._limits.auto_emergency_on_drawdown:
            return [triggers.Trigger("drawdown_max", account, reason, key)]
        return []

    def _daily_loss(self, account: str, tiers: AccountTiers) -> list[triggers.Trigger]:
        key = f"tier|{tiers.day.isoformat()}|{account}|daily_loss"
        if not tiers.daily_loss_hit or not self._notices.claim(key, "risk.daily_loss", account,
                                                                 tiers.daily_loss_reason):
            return []
        reason = f"{account}: {tiers.daily_loss_reason}"
        with self._released_on_failure(key):
            self._rt.audit.record("risk.daily_loss", ACTOR, reason, account=account,
                                  data={"daily_loss_pct": str(tiers.daily_loss_pct)})
            self._rt.events.emit("risk.daily_loss", reason, account=account,
                                 data={"daily_loss_pct": str(tiers.daily_loss_pct),
                                       "resumes_at": tiers.next_day_start.isoformat()})
            if self._limits.auto_emergency_on_daily_loss:
                self._rt.trading.escalate(TradingState.HALTED, reason, ACTOR)
        if self._limits.auto_emergency_on_daily_loss:
            return [triggers.Trigger("daily_loss", account, reason, key)]
        return []

    @contextlib.contextmanager
    def _released_on_failure(self, key: str) -> Iterator[None]:
        try:
            yield
        except BaseException:  # the action did not happen: let the next cycle try it again, then let it fail
            self._notices.release(key)
            raise

    # -- triggers ----------------------------------------------------------------------------------------------
    def _fire(self, fired: list[triggers.Trigger]) -> None:
        """Audit every trigger by name and run one emergency stop for them all."""
        names = ", ".join(t.name for t in fired)
        for t in fired:
            self._rt.audit.record(
                "risk.trigger", ACTOR, f"automatic emergency trigger '{rule_label(t.name)}' fired: {t.reason}",
                account=t.account,
                data={"trigger": t.name, "reason": t.reason, "fired_with": names},
            )
        emergency = self._rt.optional_feature(EmergencyService)
        if emergency is None:
            log.error("emergency triggers fired (%s) but the emergency stop feature is not installed", names)
            self._rt.trading.escalate(TradingState.HALTED, f"emergency triggers fired: {names}", ACTOR)
            return
        reason = f"automatic trigger {names}: " + "; ".join(t.reason for t in fired)
        try:
            emergency.start(reason[:500], actor=ACTOR, trigger=f"auto:{fired[0].name}")
        except BaseException:  # not started: the triggers must fire again next cycle, not be spent
            for t in fired:
                self._notices.release(t.key)
            raise

    # -- position monitor --------------------------------------------------------------------------------------
    def _monitor(self, snap: AccountSnapshot) -> None:
        due: list[tuple[Position, PositionAction]] = []
        for position in snap.positions:
            try:
                actions = position_actions(position, self._limits)
            except ValidationError as exc:  # no real price: no order on a guessed figure
                log.warning("%s %s: position not graded: %s", snap.account, position.symbol, exc)
                continue
            due += [(position, action) for action in actions]
        if not due:
            return
        rows = _monitor_rows(self._rt, snap.account, due, self._now)  # one transaction for the account's records
        for position, action in due:
            self._act(snap.account, position, action, rows[_key(snap.account, position, action)])

    def _act(self, account: str, position: Position, action: PositionAction, row: MonitorAction) -> None:
        key = row.key
        if row.status in FINAL:
            return
        if action.kind is PositionActionKind.ALERT:
            self._rt.audit.record("position.monitor", ACTOR, f"{account}: {action.reason}", account=account,
                                  data={"action": action.kind.value, "symbol": position.symbol})
            log.warning("position monitor: %s: %s", account, action.reason)
            _update_row(self._rt, key, "alerted", row.attempts, action.reason, self._now)
            return
        attempt = row.attempts + 1
        result = self._send(account, position, action, key, attempt)
        if result is None:
            return
        self._record(account, position, action, key, attempt, result)

    def _send(
        self, account: str, position: Position, action: PositionAction, key: str, attempt: int
    ) -> GatewayResult | None:
        gateway = self._rt.gateway
        intent = f"monitor:{key}:{attempt}"  # a new attempt only after the previous one was rejected
        if action.kind is PositionActionKind.CLOSE:
            return gateway.close_position(account, position.symbol, position.side, actor=ACTOR, intent_id=intent,
                                          purpose="monitor-close")
        qty = self._partial_qty(account, position, action, key)
        if qty is None:
            return None
        request = OrderRequest(position.symbol, position.side.close_order_side, OrderType.MARKET, qty,
                               reduce_only=True)
        return gateway.submit(account, request, actor=ACTOR, intent_id=intent, purpose="partial-take-profit")

    def _partial_qty(self, account: str, position: Position, action: PositionAction, key: str) -> Decimal | None:
        """Return the partial take-profit's quantity on the market's step, or None (recorded) when too small."""
        try:
            spec = self._rt.gateway.spec(account, position.symbol)
        except (ExchangeError, ValidationError) as exc:
            log.warning("%s %s: no market spec for the partial take-profit (next cycle tries again): %s",
                        account, position.symbol, exc)
            return None
        qty = round_down_to_step(action.qty or Decimal(0), spec.qty_step)
        if qty >= spec.min_qty and qty * position.mark_price >= spec.min_notional:
            return qty
        message = (f"{account}: partial take-profit on {position.symbol} skipped: {qty} is below the market's "
                   f"minimum ({spec.min_qty} / {spec.min_notional} USDT notional)")
        self._rt.audit.record("position.monitor", ACTOR, message, account=account)
        _update_row(self._rt, key, "done", 0, message, self._now)
        return None

    def _record(self, account: str, position: Position, action: PositionAction, key: str, attempt: int,
                result: GatewayResult) -> None:
        status = "done" if result.accepted else "gave_up" if attempt >= MAX_MONITOR_ATTEMPTS else "rejected"
        outcome = "accepted" if result.accepted else f"not done ({result.message})"
        if status == "gave_up":
            outcome += f"; gave up after {attempt} attempts: act by hand"
        message = f"{account}: {action.reason} — {outcome}"
        _update_row(self._rt, key, status, attempt, message, self._now)
        self._rt.audit.record("position.monitor", ACTOR, message, account=account, data={
            "action": action.kind.value, "symbol": position.symbol, "side": position.side.value,
            "attempt": attempt, "client_id": result.client_id, "accepted": result.accepted,
        })
        if result.accepted:
            self._rt.events.emit("position.closed_by_monitor", message, account=account, data={
                "action": action.kind.value, "symbol": position.symbol, "side": position.side.value,
                "qty": None if action.qty is None else str(action.qty),
            })


def _key(account: str, position: Position, action: PositionAction) -> str:
    return "|".join((account, position.identity, action.kind.value))


def _monitor_rows(runtime: Runtime, account: str, due: list[tuple[Position, PositionAction]],
                  now: datetime) -> dict[str, MonitorAction]:
    """Return the monitor's record of each due action by key, creating those seen for the first time."""
    wanted = {_key(account, p, a): (p, a) for p, a in due}
    with Session(runtime.engine, expire_on_commit=False) as session:
        rows = {r.key: r for r in session.scalars(select(MonitorAction).where(MonitorAction.key.in_(wanted)))}
        for key in wanted.keys() - rows.keys():
            position, action = wanted[key]
            rows[key] = MonitorAction(key=key, account=account, symbol=position.symbol, side=position.side.value,
                                      kind=action.kind.value, status="pending", attempts=0, updated_at=now)
            session.add(rows[key])
        try:
            session.commit()
        except IntegrityError:  # another process saw one first; use its records
            session.rollback()
            stmt = select(MonitorAction).where(MonitorAction.key.in_(wanted))
            rows.update({r.key: r for r in session.scalars(stmt)})
        return rows


def _update_row(runtime: Runtime, key: str, status: str, attempts: int, result: str, now: datetime) -> None:
    with Session(runtime.engine) as session, session.begin():
        row = session.get(MonitorAction, key)
        if row is not None:
            row.status, row.attempts, row.result, row.updated_at = status, attempts, result, now


FEATURE = Feature(name="risk", poll_hook=poll_hook)  # first in FEATURES: it grades the accounts before others act
