"""The risk engine's poll at each bar's close, as it runs live every few seconds.

At the close of every bar: a new risk day takes the equity as its opening equity (and, when the run asks for
it, an operator re-arms trading after a halt on an earlier day, resetting the peak); the peak equity moves up;
the account tiers of ``risk.state`` grade the drawdown and the day's loss, escalate the trading state with the
same ``escalate`` as live and flatten the position when they call for the emergency stop; then the position
monitor of ``risk.levels`` closes a position at CRITICAL or the emergency move, takes the partial profit once,
or raises its alert once.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from riskmgr.backtest.account import SimAccount, price_of
from riskmgr.core.clock import from_ms
from riskmgr.core.domain import MarginMode, Position, TradingState
from riskmgr.exchanges import fills as fm
from riskmgr.risk.levels import PositionActionKind, position_actions
from riskmgr.risk.sizing import fmt_money, round_down_to_step
from riskmgr.risk.state import AccountTiers, DrawdownTier, escalate, evaluate_account_tiers, rearm

ACTOR = "backtest"
REARM_REASON = "backtest option: an operator re-arms trading at the start of the next risk day"


def step(acct: SimAccount, j: int) -> None:
    """Process bar ``j``: funding, the pending entry, exits inside the bar, then the poll at its close."""
    acct.bar_start(j)
    poll(acct, j)


def poll(acct: SimAccount, j: int) -> None:
    """Run the close-of-bar checks of bar ``j``."""
    ms = acct.s.close_ms(j)
    now = from_ms(ms)
    mark = price_of(acct.s.close[j])
    equity = acct.equity(mark)
    if equity <= 0:
        _wiped_out(acct, j, now, equity)
        return
    _roll_day(acct, j, now, equity)
    if equity > acct.peak:
        acct.peak = equity
    key = (equity, acct.day_start, acct.peak, acct.status.state, acct.day, acct.holding is None)
    if key != acct.tier_key:  # the tiers are a pure function of these: a flat account's repeat poll changes nothing
        acct.tier_key = key
        tiers = evaluate_account_tiers(acct.limits, equity, acct.day_start, acct.peak, now)
        _apply_tiers(acct, j, now, tiers)
    if acct.holding is not None:
        _monitor(acct, j, now, mark)


def _roll_day(acct: SimAccount, j: int, now: datetime | None, equity: Decimal) -> None:
    """Open a new risk day at bar ``j``'s close when its day is not the account's; ``now``: the close's time (None:
    built here, and only for the re-arm that reads it)."""
    day = int(acct.s.day[j])
    if day == acct.day:
        return
    acct.day, acct.day_start = day, equity
    halted_before = acct.halted_day is not None and day > acct.halted_day
    if acct.cfg.rearm_next_day and acct.status.state is not TradingState.ACTIVE and halted_before:
        if now is None:
            now = from_ms(acct.s.close_ms(j))
        previous = acct.status.state
        acct.status = rearm(acct.status, REARM_REASON, now, ACTOR)
        acct.peak, acct.block, acct.halted_day = equity, None, None
        acct.event(acct.s.close_ms(j), "rearmed",
                   f"{previous} -> ACTIVE: {REARM_REASON}; peak equity reset to {fmt_money(equity)} USDT")


def _apply_tiers(acct: SimAccount, j: int, now: datetime, tiers: AccountTiers) -> None:
    ms = acct.s.close_ms(j)
    if tiers.daily_loss_hit and acct.daily_hit_day != acct.day:
        acct.daily_hit_day = acct.day
        acct.event(ms, "daily_loss", tiers.daily_loss_reason)
    dd_tier = tiers.drawdown_tier in (DrawdownTier.REDUCING, DrawdownTier.HALT)
    reason = tiers.drawdown_reason if dd_tier else tiers.daily_loss_reason
    if tiers.proposed_state is not None:
        new = escalate(acct.status, tiers.proposed_state, reason, now, ACTOR)
        if new is not None:
            acct.status, acct.halted_day, acct.block = new, acct.day, None
            acct.event(ms, new.state.value.lower(), reason)
    if tiers.emergency_stop and acct.holding is not None:
        acct.market_close(j, acct.holding.qty, "emergency_stop")
        acct.event(ms, "emergency_stop", f"emergency stop flattened the position: {reason}")


def _monitor(acct: SimAccount, j: int, now: datetime, mark: Decimal) -> None:
    h = acct.held()
    ms = acct.s.close_ms(j)
    position = Position(
        symbol=acct.cfg.symbol, side=h.side, size=h.qty, entry_price=h.entry, mark_price=mark,
        leverage=Decimal(h.leverage), margin_mode=MarginMode.ISOLATED, liquidation_price=h.liquidation,
        unrealized_pnl=fm.pnl(h.side, h.entry, h.qty, mark), opened_at=from_ms(h.entry_ms),
    )
    for action in position_actions(position, acct.limits):
        if action.kind is PositionActionKind.CLOSE:
            acct.market_close(j, h.qty, "monitor_close")
            acct.event(ms, "monitor_close", action.reason)
            return
        if action.kind is PositionActionKind.PARTIAL_TAKE_PROFIT and not h.partial_done:
            _partial(acct, j, action.qty, action.reason)
        elif action.kind is PositionActionKind.ALERT and not h.alerted:
            h.alerted = True
            acct.event(ms, "monitor_alert", action.reason)


def _partial(acct: SimAccount, j: int, wanted: Decimal | None, reason: str) -> None:
    h = acct.held()
    h.partial_done = True  # the monitor takes the partial profit once per position, as live
    ms = acct.s.close_ms(j)
    qty = round_down_to_step(wanted if wanted is not None else h.qty, acct.spec.qty_step)
    if qty < acct.spec.min_qty or qty >= h.qty:
        acct.event(ms, "partial_take_profit_skipped",
                   f"{reason}; {qty} {acct.spec.base} is not a part of the position the market's step allows")
        return
    acct.market_close(j, qty, "partial_take_profit")
    acct.event(ms, "partial_take_profit", reason)


def _wiped_out(acct: SimAccount, j: int, now: datetime, equity: Decimal) -> None:
    if acct.bust:
        return
    acct.bust = True
    reason = f"equity {fmt_money(equity)} USDT: the account is wiped out"
    if acct.holding is not None:
        acct.market_close(j, acct.holding.qty, "emergency_stop")
    new = escalate(acct.status, TradingState.HALTED, reason, now, ACTOR)
    if new is not None:
        acct.status = new
    acct.event(acct.s.close_ms(j), "wiped_out", reason)
