"""The entry decision at the close of a signal bar, through the execution core the live gateway decides with.

In order: the live signal filter (``signal_filters.filter_signals``: the per-symbol cooldown after an entry), then
``risk.decision.decide_entry`` on a ``RuleContext`` built like the gateway's (``entry_context``): the trading
state, the daily cap of automatic entries (``risk.rules.auto_trade_daily_cap``), then every pre-trade rule of
``risk.rules``, with stop and target rounded to the tick in the cautious direction (``risk.sizing.round_levels``),
the quantity sized from the risk budget by ``size_position`` and the run's taker fee and slippage included in the
loss at the stop as ``TradingCosts``.

Account-level gates (cooldown, trading state, daily cap, data, daily loss, drawdown, loss streak) are judged
first: while one is shut, a signal is counted against those gates only. Such a gate depends on time and on the
account, never on the signal, and a flat account does not change, so it stays shut until the time its verdict
names (or, for the trading state and the drawdown, until a re-arm): the engine counts the signals in between
without deciding each one, and the plain bar-by-bar loop of the tests, which decides every one, agrees.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np

from riskmgr.backtest.account import Block, PendingEntry, SimAccount, price_of
from riskmgr.core.clock import from_ms
from riskmgr.core.domain import ZERO, AccountStatus, PositionSide, Verdict
from riskmgr.core.errors import ValidationError
from riskmgr.risk.context import OrderIntent, RuleContext, build_context
from riskmgr.risk.costs import backtest_costs
from riskmgr.risk.decision import decide_entry
from riskmgr.risk.rules import auto_trade_daily_cap
from riskmgr.risk.sizing import round_levels, round_to_tick
from riskmgr.signals.conservative import Signal
from riskmgr.signals.filters import filter_signals
from riskmgr.signals.params import Reason
from riskmgr.signals.rules import SignalArrays

COOLDOWN_RULE = "signal_cooldown"
CAP_RULE = auto_trade_daily_cap.NAME
ACCOUNT_GATES = frozenset(
    {COOLDOWN_RULE, "trading_state", CAP_RULE, "data_fresh", "daily_loss", "drawdown", "consecutive_losses"}
)


@dataclass(frozen=True)
class EntrySignals:
    """Per-bar entry signals: side (+1 long, -1 short, 0 none), stop and target prices, confidence."""

    side: np.ndarray
    stop: np.ndarray
    target: np.ndarray
    confidence: np.ndarray

    @classmethod
    def from_arrays(cls, arrays: SignalArrays, min_confidence: int) -> EntrySignals:
        """Keep the actionable bars of the signal engine whose confidence reaches the limits' minimum."""
        ok = (arrays.reason == Reason.OK) & (arrays.confidence >= min_confidence)
        return cls(np.where(ok, arrays.direction, 0).astype(np.int8), arrays.stop, arrays.target, arrays.confidence)


def decide(acct: SimAccount, j: int, sig: EntrySignals) -> None:
    """Decide the signal of bar ``j`` on an idle account: place the entry or count who turned it down."""
    acct.signals += 1
    ms = acct.s.close_ms(j)
    now = from_ms(ms)
    side = PositionSide.LONG if sig.side[j] > 0 else PositionSide.SHORT
    cooldown = _cooldown(acct, now, side, j, sig)
    if cooldown is not None:
        _shut(acct, [cooldown], ms)
        return
    try:
        intent = _intent(acct, side, j, sig)
    except ValidationError as exc:  # a stop or target the tick rounds to nothing: the signal cannot be traded
        acct.deny("invalid_signal", str(exc), ms)
        return
    decision = decide_entry(entry_context(acct, now, intent))  # the execution core the live gateway decides with
    gates = [v for v in decision.denials if v.rule in ACCOUNT_GATES]
    if gates:
        _shut(acct, gates, ms)
        return
    for verdict in decision.denials:
        acct.deny(verdict.rule, verdict.reason, ms)
    if decision.qty is not None:
        _place(acct, j, now, intent, decision.qty)


def entry_context(acct: SimAccount, now: datetime, intent: OrderIntent) -> RuleContext:
    """Return the rule context of an automatic entry on the idle simulated account at ``now``, built as the gateway
    builds its own: the wallet as equity, the day's opening and peak equity, the recent closes, the trading state,
    the run's own taker fee and slippage (so the loss at the stop stays within the budget as it does live), and the
    day's automatic entries for the daily cap."""
    return build_context(
        now=now, limits=acct.limits, intent=intent, spec=acct.spec, equity=acct.wallet, available=acct.wallet,
        day_start_equity=acct.day_start, peak_equity=acct.peak, positions=(), account_status=AccountStatus.OK,
        fetched_at=now, recent_trades=tuple(acct.recent), trading_state=acct.status.state,
        costs=backtest_costs(acct.cfg.fill.taker_fee, acct.cfg.fill.slippage_bps, acct.spec.price_tick),
        automatic_entries=automatic_entries(acct),
    )


def automatic_entries(acct: SimAccount) -> int:
    """Return the entries the run placed this risk day (every backtest entry is an automatic one)."""
    return acct.entries_today if acct.entries_day == acct.day else 0


def _intent(acct: SimAccount, side: PositionSide, j: int, sig: EntrySignals) -> OrderIntent:
    """Return the order intent of the signal, stop and target rounded to the tick as the gateway rounds them."""
    stop, target = round_levels(side, price_of(sig.stop[j]), price_of(sig.target[j]), acct.spec.price_tick)
    return OrderIntent(
        symbol=acct.cfg.symbol, side=side, entry_price=price_of(acct.s.close[j]), stop_loss=stop,
        take_profit=target, qty=None, leverage=acct.cfg.leverage,
    )


def _cooldown(acct: SimAccount, now: datetime, side: PositionSide, j: int, sig: EntrySignals) -> Verdict | None:
    """Run the live signal filter; return the cooldown as a denial when it drops the signal."""
    if acct.last_taken is None:
        return None
    window = timedelta(minutes=acct.limits.signal_cooldown_minutes)
    entry = price_of(acct.s.close[j])
    # only the fields the filter reads carry figures; the rest of the live signal is not needed to filter it
    signal = Signal(
        symbol=acct.cfg.symbol, timeframe=acct.cfg.timeframe, side=side, entry=entry, stop=price_of(sig.stop[j]),
        target=price_of(sig.target[j]), reward_risk=ZERO, confidence=int(sig.confidence[j]), components={},
        created_at=now, valid_until=now + timedelta(milliseconds=acct.s.bar_ms), reasons=(), market_condition=0,
        atr=ZERO,
    )
    result = filter_signals([signal], now, (), {acct.cfg.symbol: acct.last_taken}, window)
    if not result.dropped:
        return None
    return Verdict.deny(COOLDOWN_RULE, result.dropped[0].reason, until=acct.last_taken + window)


def _daily_cap(acct: SimAccount, now: datetime) -> Verdict:
    """The daily cap rule on the run's next automatic entry (the fast path judges it on its own)."""
    return auto_trade_daily_cap.judge(automatic_entries(acct), acct.limits, now)


def _shut(acct: SimAccount, gates: list[Verdict], ms: int) -> None:
    """Count the gates' denials and remember until when they stay shut."""
    for verdict in gates:
        acct.deny(verdict.rule, verdict.reason, ms)
    until_ms = None
    for verdict in gates:
        if verdict.until is not None:
            at = int(verdict.until.timestamp() * 1000)  # to_ms, without its Python-level call
            if until_ms is None or at < until_ms:  # the earliest, as min()
                until_ms = at
    s = acct.s
    # the gate is open again at the first bar whose close (the decision time) is at or after until_ms (the array's
    # own searchsorted: np.searchsorted without its wrapper)
    end_bar = len(s) if until_ms is None else int(s.ts.searchsorted(until_ms - s.bar_ms, side="left"))
    acct.block = Block(until_ms, end_bar, tuple([verdict.rule for verdict in gates]))


def _place(acct: SimAccount, j: int, now: datetime, intent: OrderIntent, qty: Decimal) -> None:
    long = intent.side is PositionSide.LONG
    limit = round_to_tick(intent.entry_price, acct.spec.price_tick, up=not long) if acct.cfg.limit_entries else None
    if intent.stop_loss is None:
        raise RuntimeError("an allowed entry always carries a stop")  # stop_required would have denied it
    expires = j + acct.cfg.validity_bars
    acct.pending = PendingEntry(intent.side, qty, intent.stop_loss, intent.take_profit, limit, expires)
    acct.last_taken = now
    if acct.entries_day != acct.day:
        acct.entries_day, acct.entries_today = acct.day, 0
    acct.entries_today += 1
    acct.block = None
