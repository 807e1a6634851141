"""Where can something happen next? Array searches over the float bars that find the next bar the exact step
must see; every bar before it is quiet and is skipped.

The searches look for a superset: a price level is widened by a relative 1e-9 and a percentage threshold by
1e-6 percentage points, far more than the difference between a Decimal figure and its float image, so a bar
where the exact Decimal check fires is never skipped. A bar found that turns out quiet costs one exact step.

* Flat, no order: the next signal bar (after any account-level gate that is shut), or the bar where an
  operator re-arm happens.
* A limit entry resting: the first bar whose range reaches the limit, its last bar, or the first bar of the next
  risk day.
* A position open: the first bar whose low or high reaches the stop, liquidation or target; whose close reaches
  the position monitor's levels; whose close equity crosses the next drawdown tier or the daily loss limit; the
  first bar of the next risk day; or a funding bar (once the engine paid its funding, the rest of that bar is
  searched like any other).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from riskmgr.backtest.account import Holding, Series, SimAccount
from riskmgr.core.domain import PositionSide, TradingState

EPS = 1e-9
PCT_EPS = 1e-6
WINDOW = 4096  # bars searched per pass while a position is open (bounds the temporary arrays)
NEAR = 24  # bars read one by one before the array searches (most events come within a few bars: no array set-up)


def next_event(acct: SimAccount, i: int, signal_bars: np.ndarray, funding_bars: np.ndarray | None) -> int:
    """Return the first bar at or after ``i`` that the exact step must process (``len(series)``: none)."""
    n = len(acct.s)
    if acct.bust:
        return n
    if acct.holding is not None:
        return _holding(acct, acct.holding, i, n, funding_bars)
    if acct.pending is not None:
        return _pending(acct, i, n)
    start = i if acct.block is None else max(i, acct.block.end_bar)
    k = int(signal_bars.searchsorted(start, side="left"))
    found = int(signal_bars[k]) if k < len(signal_bars) else n
    return min(found, _rearm_bar(acct, i, n))


def _rearm_bar(acct: SimAccount, i: int, n: int) -> int:
    if not acct.cfg.rearm_next_day or acct.halted_day is None or acct.status.state is TradingState.ACTIVE:
        return n
    return max(i, int(acct.s.day.searchsorted(acct.halted_day + 1, side="left")))


def _pending(acct: SimAccount, i: int, n: int) -> int:
    p = acct.pending
    if p is None or p.limit is None:
        return i
    # the first close of the next risk day sets the day's opening equity: it must see the account still flat
    # (a fill later in that day would otherwise open the day with the position's unrealized P&L in it)
    next_day = acct.s.day_start_bar((acct.day or 0) + 1)
    last = min(p.expires_bar, n - 1, max(i, next_day))
    if i >= last:
        return i
    level = float(p.limit)
    if p.side is PositionSide.LONG:
        hits = np.flatnonzero(acct.s.low[i:last] <= level * (1 + EPS))
    else:
        hits = np.flatnonzero(acct.s.high[i:last] >= level * (1 - EPS))
    found = i + int(hits[0]) if hits.size else last
    return min(found, _rearm_bar(acct, i, n))


def _holding(acct: SimAccount, h: Holding, i: int, n: int, funding_bars: np.ndarray | None) -> int:
    end = min(n, acct.s.day_start_bar((acct.day or 0) + 1))
    if funding_bars is not None:
        k = int(funding_bars.searchsorted(i, side="left"))
        if k < len(funding_bars) and int(funding_bars[k]) == acct.funded_bar:
            k += 1  # its funding is paid: the rest of that bar is searched like any other
        if k < len(funding_bars):
            end = min(end, int(funding_bars[k]))
    near = min(end, i + NEAR)
    # the few bars after an event first, one by one (no _Levels set-up: most events come within them)
    drawdown = _drawdown_tier(acct)
    loss = None if acct.daily_hit_day == acct.day else float(acct.limits.daily_loss_limit_pct)
    wallet, day_start = float(acct.wallet), float(acct.day_start)
    hit, peak = _scan(acct.s, i, near, float(acct.peak), _bar_levels(acct, h), wallet, drawdown, loss, day_start)
    if hit >= 0:
        return i + hit
    a = near
    if a < end:
        levels = _Levels.of(acct, h)
    while a < end:
        b = min(end, a + WINDOW)
        hit, peak = levels.first(acct.s, a, b, peak)
        if hit >= 0:
            return a + hit
        a = b
    return end


def _bar_levels(acct: SimAccount, h: Holding) -> tuple[float, ...]:
    """Return the scan's levels of the position (``_Levels._bar_levels``, then its signed quantity and entry),
    computed once per position and again only when the monitor's own state (alert, partial profit) changes."""
    key = (h.alerted, h.partial_done)
    kept = h.scan_levels
    if kept is not None and kept[0] == key:
        return kept[1]
    levels = _Levels.of(acct, h)
    found = (*levels._bar_levels(), (1.0 if levels.long else -1.0) * levels.qty, levels.entry)
    h.scan_levels = (key, found)
    return found


def _scan(s: Series, a: int, b: int, peak: float, bar_levels: tuple[float, ...], wallet: float,
          drawdown: float | None, loss: float | None, day_start: float) -> tuple[int, float]:
    """``_Levels.scan``: the offset of the first bar in a..b-1 that may act (-1: none) and the running float peak."""
    lows, highs, closes = s.low[a:b].tolist(), s.high[a:b].tolist(), s.close[a:b].tolist()
    down, up, close_low, close_high, sign_qty, entry = bar_levels
    dd_at = None if drawdown is None else drawdown - PCT_EPS
    loss_at = None if loss is None else loss - PCT_EPS
    running = peak
    for k, close in enumerate(closes):
        equity = wallet + sign_qty * (close - entry)
        if equity > running:  # max(running, equity), a NaN equity left out as max leaves it
            running = equity
        if (lows[k] <= down or highs[k] >= up or close <= close_low or close >= close_high or equity <= 0
                or (dd_at is not None and (running - equity) / running * 100 >= dd_at)
                or (loss_at is not None and (day_start - equity) / day_start * 100 >= loss_at)):
            return k, peak
    return -1, running


@dataclass(slots=True)  # built at every search while a position is open: no frozen-attribute set-up cost
class _Levels:
    """The float thresholds of one open position, widened so that the search never misses an exact event."""

    long: bool
    adverse: float | None  # stop or liquidation, whichever the price meets first
    target: float | None
    close_low: float | None  # a close at or below this may act (long: monitor close; short: partial profit)
    close_high: float | None
    wallet: float
    qty: float
    entry: float
    drawdown: float | None  # the next drawdown tier that would change something
    loss: float | None  # the daily loss limit, unless already reached today
    day_start: float

    @classmethod
    def of(cls, acct: SimAccount, h: Holding) -> _Levels:
        long = h.side is PositionSide.LONG
        levels = [x for x in (h.stop, h.liquidation) if x is not None]
        adverse = float((max if long else min)(levels)) if levels else None
        limits, sign, entry = acct.limits, h.side.sign, float(h.entry)
        against = favour = None
        if limits.auto_close_on_emergency or not h.alerted:
            move = float(min(limits.emergency_close_pct, limits.level_critical_pct))
            against = entry * (1 - sign * move / 100)
        if limits.partial_tp_enabled and not h.partial_done:
            favour = entry * (1 + sign * float(limits.partial_tp_trigger_pct) / 100)
        low, high = (against, favour) if long else (favour, against)
        return cls(
            long=long, adverse=adverse, target=float(h.target) if h.target is not None else None,
            close_low=None if low is None else low * (1 + EPS), close_high=None if high is None else high * (1 - EPS),
            wallet=float(acct.wallet), qty=float(h.qty), entry=entry, drawdown=_drawdown_tier(acct),
            loss=None if acct.daily_hit_day == acct.day else float(limits.daily_loss_limit_pct),
            day_start=float(acct.day_start),
        )

    def first(self, s: Series, a: int, b: int, peak: float) -> tuple[int, float]:
        """Return the offset of the first bar in a..b-1 that may act (-1: none) and the running float peak."""
        low, high, close = s.low[a:b], s.high[a:b], s.close[a:b]
        hit = self._price_hits(low, high, close)
        sign = 1.0 if self.long else -1.0
        equity = self.wallet + sign * self.qty * (close - self.entry)
        running = np.maximum(np.maximum.accumulate(equity), peak)
        if self.drawdown is not None:
            hit |= (running - equity) / running * 100 >= self.drawdown - PCT_EPS
        if self.loss is not None:
            hit |= (self.day_start - equity) / self.day_start * 100 >= self.loss - PCT_EPS
        hit |= equity <= 0
        k = int(hit.argmax())
        return (k, peak) if hit[k] else (-1, float(running[-1]))

    def scan(self, s: Series, a: int, b: int, peak: float) -> tuple[int, float]:
        """Do what ``first`` does, one bar at a time, with the same float arithmetic in the same order."""
        sign_qty = (1.0 if self.long else -1.0) * self.qty
        return _scan(s, a, b, peak, (*self._bar_levels(), sign_qty, self.entry), self.wallet, self.drawdown,
                     self.loss, self.day_start)

    def _bar_levels(self) -> tuple[float, float, float, float]:
        """Return the widened levels a bar's low may reach (at or below) and its high (at or above), then the
        close levels; a level that is not there is an infinity no price reaches."""
        inf = float("inf")
        adverse, target = self.adverse, self.target
        if self.long:
            down = -inf if adverse is None else adverse * (1 + EPS)
            up = inf if target is None else target * (1 - EPS)
        else:
            down = -inf if target is None else target * (1 + EPS)
            up = inf if adverse is None else adverse * (1 - EPS)
        return (down, up, -inf if self.close_low is None else self.close_low,
                inf if self.close_high is None else self.close_high)

    def _price_hits(self, low: np.ndarray, high: np.ndarray, close: np.ndarray) -> np.ndarray:
        hit = np.zeros(low.shape[0], dtype=bool)
        if self.adverse is not None:
            hit |= low <= self.adverse * (1 + EPS) if self.long else high >= self.adverse * (1 - EPS)
        if self.target is not None:
            hit |= high >= self.target * (1 - EPS) if self.long else low <= self.target * (1 + EPS)
        if self.close_low is not None:
            hit |= close <= self.close_low
        if self.close_high is not None:
            hit |= close >= self.close_high
        return hit


def _drawdown_tier(acct: SimAccount) -> float | None:
    limits, state = acct.limits, acct.status.state
    if state is TradingState.ACTIVE:
        return float(limits.drawdown_reducing_pct)
    if state is TradingState.REDUCING or limits.auto_emergency_on_drawdown:
        return float(limits.max_drawdown_pct)
    return None
