"""The backtest engine: replay bars through the live signal rules, risk rules, sizing and the paper exchange's fills.

How a backtest fills and what it checks
---------------------------------------
* **Signals** come from the live signal rules, computed for the whole series at once
  (``signals.evaluate_series``; every bar sees only the bars up to itself). A signal is decided at its bar's
  close, and only while the account is flat with no order pending (as live, a held symbol takes no new signal).
* **The entry decision** runs the live signal filter (the per-symbol cooldown), the trading state, the daily
  cap of automatic entries and every pre-trade rule, on the same context the order gateway builds. The
  quantity comes from the risk budget (``size_position``); stop and target come from the signal, rounded to the
  tick in the cautious direction. Account-level gates (trading state, cooldowns, daily cap, daily loss,
  drawdown, loss streak) are judged first; while one is shut a signal is counted against it alone.
* **Market entries** fill at the next bar's open, moved against us by the slippage (and rounded to the tick
  against us), paying the taker fee. **Limit entries** (an option) rest at the signal bar's close for the
  signal's validity and fill when a bar's range reaches them (at the open when the bar opens through the
  price), paying the maker fee and no slippage.
* **Stop-loss and take-profit** fire when a bar's range reaches them and fill as market orders at the trigger
  (at the open when the bar opened at or beyond it), with slippage and the taker fee; they may fire in the entry
  bar. The open comes first: **a bar that opens beyond the target takes the profit at the open**, and one that
  opens beyond the stop stops out at the open. **When the bar opens between them and its range reaches both,
  the stop fills**: the bar does not tell which came first, so the worse is assumed. A limit entry filled
  inside a bar can be stopped in that bar but takes no profit before the next one.
* **Leverage and liquidation**: isolated margin at the run's leverage; liquidation at
  entry x (1 - 1/leverage + mmr) for a long and entry x (1 + 1/leverage - mmr) for a short, checked together
  with the stop: whichever the price meets first on its way from the open wins, and a bar that opens past both
  liquidates. A liquidation costs exactly the position's margin. An entry whose margin and fee exceed the
  wallet is refused (counted as ``insufficient_margin``).
* **Funding** (optional, a rate per 8 hours): charged at 00:00, 08:00 and 16:00 UTC on the notional at that
  bar's open; a long pays a positive rate and a short receives it. An instant inside a longer bar is charged
  at the next bar's open.
* **The risk engine's poll** runs at every bar's close, as it runs live every few seconds: the first close of
  a risk day sets the day's opening equity; the peak equity follows the closes; the drawdown tiers set REDUCING
  and HALTED, and flatten the position at that close (market order, slippage, taker fee) when the limits ask for
  the emergency stop; reaching the daily loss limit blocks new entries until the next risk day (and halts and
  flattens when the limits ask for the emergency stop on the daily loss); the position monitor closes a
  position at CRITICAL or at the emergency move and takes the optional partial profit once. A halt lasts, as
  live, until an operator re-arms: never within a run by default, or, with the run's re-arm option, at the
  first close of the next risk day, with the peak equity reset to the equity then.
* **The loss-streak breaker**: N losing closes in a row (net of fees) pause new entries for the cooldown,
  counted from the close of the bar of the last loss (a fill inside a bar may have come as late as that).
* **Time**: every decision uses its bar's close time as "now" (a fixed clock per bar, never the wall clock);
  risk days follow the limits' time zone. A fill at an open or inside a bar is stamped with the bar's open
  time, a fill at a close with the close time. Equity is marked at every bar's close. A position still open
  at the end counts in the final equity at the last close, not among the trades.

Speed: indicators and signals are computed once for all bars; the engine then jumps from event to event
(``screening.next_event``: array searches over highs, lows and closes) and steps exactly, in Decimal, only
there, with the same rule objects at each decision. A quiet bar is never visited one by one. At the bars it
stops at, the engine skips only what certainly does nothing: ``fastpoll.step`` leaves out the exit search, the
tier grading and the position monitor where the same Decimal comparisons show they cannot act, and
``fastpath.try_place`` places an entry that every gate and rule certainly allows (the same arithmetic as the
sizing and the rules, with the run's constants computed once) without formatting the reasons nobody reads;
``fastpath.try_shut`` counts a signal against a shut account-level gate with the live gate rules (a repeated
loss-streak denial, the only gate shut, without wording them again). Fills and exits at those bars use the fill
model's arithmetic with the run's constants computed once (``fastfill``), and a funding bar while holding pays its
funding first and is searched again with the new wallet, so a quiet one is skipped. On bars the fill model
accepts (checked once per run), a held position is passed over by ``fasthold.Rider.ride`` (the same search, the
quiet bars' peak and the funding bars in one pass), an entry bar that the same search finds quiet after the fill
is not stepped further (``Rider.enter``), an idle account goes straight to its next signal, a flat signal bar
whose poll certainly changes nothing is not stepped (``fastpoll.flat_quiet``), and the equity curve is kept as
stretches and computed once at the end (``fasthold.Marks``, the same float operations per bar). Everything else
(every order-rule denial, every action of the tiers and the monitor) runs the full path, so it is done and
worded by the same code as live. The plain bar-by-bar loop of the tests runs only the full path.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, tzinfo

import numpy as np

from riskmgr.backtest import fastpoll
from riskmgr.backtest.account import EngineConfig, Series, SimAccount
from riskmgr.backtest.decisions import EntrySignals, decide
from riskmgr.backtest.fasthold import Marks, Rider
from riskmgr.backtest.fastpath import DecisionPlan, try_place, try_shut
from riskmgr.backtest.outcome import Outcome
from riskmgr.backtest.screening import next_event
from riskmgr.core.clock import from_ms, to_ms
from riskmgr.core.domain import MarketSpec, TradingState
from riskmgr.exchanges.fills import FUNDING_INTERVAL_MS
from riskmgr.market.base import TIMEFRAME_SECONDS, CandleArrays
from riskmgr.risk.state import next_day_start
from riskmgr.signals.params import SignalParams
from riskmgr.signals.rules import evaluate_series

DAY_MS = 86_400_000
Progress = Callable[[float], None]


@dataclass(frozen=True)
class EngineInput:
    """The bars to replay (warm-up included), the contract, the settings and the first bar that counts."""

    candles: CandleArrays
    spec: MarketSpec
    config: EngineConfig
    first_bar: int = 0

    @property
    def bar_ms(self) -> int:
        return TIMEFRAME_SECONDS[self.config.timeframe] * 1000


def run_signal_backtest(inp: EngineInput, params: SignalParams, progress: Progress | None = None) -> Outcome:
    """Compute every bar's signal at once, then replay the series through the risk rules and fills."""
    arrays = evaluate_series(inp.candles, params)
    return run_events(inp, EntrySignals.from_arrays(arrays, inp.config.limits.min_signal_confidence), progress)


def build_series(inp: EngineInput) -> Series:
    """Return the float columns, each bar's risk day and its funding instants."""
    c, bar_ms = inp.candles, inp.bar_ms
    funding = None
    if inp.config.funding_rate != 0:
        slot = c.ts // FUNDING_INTERVAL_MS  # the funding instants of fills.funding_instants
        funding = np.zeros(len(c), dtype=np.int64)
        funding[1:] = slot[1:] - slot[:-1]
    return Series(c.ts, c.open, c.high, c.low, c.close, bar_ms, risk_days(c.ts + bar_ms, inp.config.limits.zone()),
                  funding)


def risk_days(close_ms: np.ndarray, zone: tzinfo) -> np.ndarray:
    """Return a number per bar close that changes exactly when the risk day (in ``zone``) changes."""
    if getattr(zone, "key", None) == "UTC" or zone is UTC:
        return close_ms // DAY_MS
    bounds: list[int] = []
    edge = next_day_start(from_ms(int(close_ms[0])), zone)
    last = int(close_ms[-1])
    while True:
        bounds.append(to_ms(edge))
        if bounds[-1] > last:
            break
        edge = next_day_start(edge, zone)
    return np.searchsorted(np.array(bounds, dtype=np.int64), close_ms, side="right")


def run_events(inp: EngineInput, signals: EntrySignals, progress: Progress | None = None) -> Outcome:
    """Replay the series event by event: exact steps at the bars that may act, quiet bars skipped in bulk."""
    series = build_series(inp)
    acct = SimAccount(series, inp.spec, inp.config, inp.first_bar)
    sides = signals.side.copy()
    sides[: inp.first_bar] = 0  # warm-up bars only feed the indicators
    signal_bars = np.flatnonzero(sides)
    funding_bars = None if series.funding is None else np.flatnonzero(series.funding)
    n, i = len(series), inp.first_bar
    report = _Reporter(progress, inp.first_bar, n)
    plan = DecisionPlan.of(acct)
    marks = Marks(i)
    rider = Rider(acct, funding_bars, marks)
    rider.signal_list = signal_bars.tolist()
    ok = rider.ok
    while i < n:
        pending = acct.pending
        if pending is not None and pending.limit is None and acct.holding is None and not acct.bust:
            c = i  # a market entry fills at this bar's open: what next_event would answer, with nothing to skip
            if ok:
                c = rider.enter(acct, i)  # the fill, then the quiet bars of the position passed over
                if c < 0:  # the entry bar was not quiet after the fill; its step ran in full
                    _after_step(acct, i, signals, sides, plan, marks)
                    i += 1
                    continue
                if c >= n:
                    break
        else:
            c, again = _next_stop(acct, i, rider, signal_bars, funding_bars)
            if c >= n:
                break
            if again:
                i = c  # funding paid at the open of a held bar: search that bar again with the new wallet
                continue
        if not ok:
            fastpoll.step(acct, c)  # polling.step, its quiet parts skipped
        elif acct.holding is not None and acct.pending is None:
            fastpoll.held_step(acct, c)  # the same on a bar checked valid with the run
        elif not fastpoll.flat_quiet(acct, c):
            fastpoll.step(acct, c)
        _after_step(acct, c, signals, sides, plan, marks)
        i = c + 1
        if progress is not None:
            report.at(i)
    report.at(n)
    marks.apply(acct.curve, series.close)
    return acct.outcome()


def _next_stop(acct: SimAccount, i: int, rider: Rider, signal_bars: np.ndarray, funding_bars: np.ndarray | None
               ) -> tuple[int, bool]:
    """Pass over the quiet bars from ``i``; return the next bar to step (``len(series)``: none) and whether its
    funding was just paid ahead of its step (it is then searched again with the new wallet)."""
    n = len(acct.s)
    if acct.pending is None and acct.holding is not None and not acct.bust and rider.ok:
        return rider.ride(acct, i), False  # next_event, skip and prepay_funding of a held position
    if (acct.holding is None and acct.pending is None and not acct.bust  # acct.idle
            and acct.block is None and acct.status.state is TradingState.ACTIVE):
        c = next_signal(rider.signal_list, i, n)  # next_event and skip of an idle, open account: the next signal
        rider.marks.add(acct, i, c)
        return c, False
    c = min(next_event(acct, i, signal_bars, funding_bars), n)
    skip(acct, i, c, signal_bars, rider.marks)
    return c, c < n and fastpoll.prepay_funding(acct, c)


def next_signal(signal_bars: list[int], i: int, n: int) -> int:
    """Return the first signal bar at or after ``i`` (``n``: none), from the signal bars as a sorted list."""
    k = bisect_left(signal_bars, i)
    return signal_bars[k] if k < len(signal_bars) else n


def _after_step(acct: SimAccount, c: int, signals: EntrySignals, sides: np.ndarray, plan: DecisionPlan,
                marks: Marks) -> None:
    """After bar ``c``'s step: decide its signal on an idle account, then mark its equity."""
    if (sides.item(c) != 0 and acct.holding is None and acct.pending is None and not acct.bust  # acct.idle
            and not try_place(acct, c, signals, plan) and not try_shut(acct, c, signals, plan)):
        decide(acct, c, signals)  # a denial by the order's own rules, or an input only the full path judges
    marks.add(acct, c, c + 1)


def skip(acct: SimAccount, a: int, b: int, signal_bars: np.ndarray, marks: Marks) -> None:
    """Pass over the quiet bars a..b-1 in bulk: the peak equity, the equity curve, the signals a shut gate denied."""
    if b <= a:
        return
    acct.catch_up(a, b)
    if acct.idle and acct.block is not None:
        count = int(signal_bars.searchsorted(b) - signal_bars.searchsorted(a))
        if count:
            acct.signals += count
            for rule in acct.block.rules:
                first = acct.denials[rule]
                acct.deny(rule, first.first_reason, first.first_ms, count)
    marks.add(acct, a, b)


class _Reporter:
    """Call ``progress`` with the fraction of bars done, at most once per percent."""

    def __init__(self, progress: Progress | None, first: int, n: int):
        self._progress, self._first, self._span = progress, first, max(n - first, 1)
        self._next = first

    def at(self, i: int) -> None:
        if self._progress is None or i < self._next:
            return
        self._progress(min((i - self._first) / self._span, 1.0))
        self._next = i + max(self._span // 100, 1)
