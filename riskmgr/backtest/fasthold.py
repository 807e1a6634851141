"""The engine's fused pass over a held position: find the next bar that may act, and pass over the quiet ones.

With a position open (nothing pending, the account not bust), the engine used to ask ``screening.next_event`` for
the next bar that may act, ``engine.skip`` to account for the quiet bars before it (the peak at the most
favourable close, the equity curve) and ``fastpoll.prepay_funding`` to pay a funding bar ahead of the rest of its
step, and to start over at that bar. ``ride`` does the same in one pass with the position's levels computed once:

* the search is ``screening._scan``'s, bar for bar the same float tests in the same order, run on over the whole
  stretch (to the first bar of the next risk day or the next unpaid funding bar) and handed to the array search of
  ``screening._Levels`` past its first ``NEAR`` bars (more than ``screening._holding`` reads one by one: a held
  stretch rarely runs longer, and the array search costs as much as some fifty bars read in Python);
* the peak over the quiet bars is ``SimAccount.catch_up``'s (the Decimal equity at the most favourable close, the
  first one on a tie), computed only when that close's float equity is not certainly below the peak;
* the equity curve is written by ``Marks``: each stretch the account does not change over is remembered and the
  whole curve is computed at the end with the same float operations as ``SimAccount.mark_range``.

``enter`` fills a pending market entry at its bar's open (``fastpoll.open_market``) and runs the same pass from that
bar on (its funding is owed only by a position held at its open, so the search does not stop there): when the
entry bar is quiet (no level reached, nothing for the poll at its close) its exit search and poll are skipped like
those of any quiet held bar and the pass goes on to the next bar that may act; otherwise they run in full. All of
it is used only on a run whose every bar ``fills.Bar`` accepts (``Rider.ok``, checked once); any other run takes the
engine's own path.

The bar-by-bar loop of the tests runs none of this; the engine equals it exactly.
"""

from __future__ import annotations

from bisect import bisect_left

import numpy as np

from riskmgr.backtest import fastpoll
from riskmgr.backtest.account import Holding, SimAccount, price_of
from riskmgr.backtest.screening import EPS, PCT_EPS, WINDOW, _drawdown_tier, _Levels
from riskmgr.core.domain import PositionSide

INF, NAN = float("inf"), float("nan")
NEAR = 48  # bars read one by one before the array search (a held stretch rarely runs longer)
FLOOR_MARGIN = 1e-9  # the drawdown and daily-loss thresholds' relative widening in the scan's equity floor
PEAK_MARGIN = 1e-9  # a float equity this far (relative) below the float peak is certainly below the Decimal peak


class Marks:
    """The equity curve of the event-driven engine, kept as stretches of bars over which the account is unchanged.

    ``SimAccount.mark_range`` writes the curve bar range by bar range, an array expression per call; here a range
    extends the previous stretch when the wallet and the position are the same objects, and ``apply`` computes the
    whole curve at once with the same float operations per bar (wallet + sign x qty x (close - entry)).
    """

    __slots__ = ("end", "last", "stretches")

    def __init__(self, start: int):
        # five numbers per stretch, one after the other: its first bar, the wallet, sign x qty and entry (0.0 when
        # flat), and 1.0 when a position is held (0.0 when flat)
        self.stretches: list[float] = []
        self.end = start
        self.last: tuple[object, object, object] = (None, None, None)  # the wallet, position and qty objects

    def add(self, acct: SimAccount, a: int, b: int, floats: tuple[float, float, float] | None = None) -> None:
        """Record the equity at the closes of bars a..b-1 (the account as it is now, unchanged over them);
        ``floats``: the wallet, sign x qty and entry of the position held, as floats, when the caller has them."""
        if b <= a:
            return
        if a != self.end:
            raise RuntimeError(f"equity marks must follow each other: bar {a} after bar {self.end}")
        self.end = b
        h, wallet = acct.holding, acct.wallet
        qty = None if h is None else h.qty
        last = self.last
        if wallet is last[0] and h is last[1] and qty is last[2]:
            return  # the same wallet and position objects: the stretch goes on
        self.last = (wallet, h, qty)
        if h is None:
            self.stretches.extend((a, float(wallet), 0.0, 0.0, 0.0))
        elif floats is not None:
            self.stretches.extend((a, floats[0], floats[1], floats[2], 1.0))
        else:
            self.stretches.extend((a, float(wallet), h.side.sign * float(h.qty), float(h.entry), 1.0))

    def apply(self, curve: np.ndarray, close: np.ndarray) -> None:
        """Write the recorded stretches into ``curve``: the wallet everywhere, then the held bars' equity."""
        if not self.stretches:
            return
        table = np.array(self.stretches, dtype=np.float64).reshape(-1, 5)  # the first bars are exact (below 2**53)
        starts = table[:, 0].astype(np.int64)
        lengths = np.diff(np.append(starts, self.end))
        curve[starts[0]:self.end] = np.repeat(table[:, 1], lengths)
        held = table[:, 4] != 0
        if not held.any():
            return
        rows, counts = table[held], lengths[held]
        # the bar indices of the held stretches: each stretch's first bar, then counting up
        firsts = starts[held] - np.concatenate(([0], np.cumsum(counts)[:-1]))
        bars = np.repeat(firsts, counts) + np.arange(int(counts.sum()))
        wallet, sq, entry = (np.repeat(rows[:, k], counts) for k in (1, 2, 3))
        curve[bars] = wallet + sq * (close[bars] - entry)


class Rider:
    """The run's constants of the held-position pass (the thresholds as floats, the funding bars as a list)."""

    __slots__ = ("day_end", "day_ends", "day_key", "day_start", "funding", "funding_at", "funding_set", "loss", "marks",
                 "move", "n", "ok", "peak", "signal_list", "tiers", "trigger", "wallet")

    def __init__(self, acct: SimAccount, funding_bars: np.ndarray | None, marks: Marks):
        limits = acct.limits
        self.marks = marks
        self.n = len(acct.s)
        self.signal_list: list[int] = []  # the run's signal bars, in order (the engine sets them)
        self.funding = None if funding_bars is None else funding_bars.tolist()
        self.funding_set = frozenset(self.funding or ())
        self.funding_at = 0  # the index in ``funding`` of the first funding bar at or after the last search's start
        # the float of the wallet, the peak and the opening equity, kept while each is the same Decimal object
        self.wallet: tuple[object, float] = (None, 0.0)
        self.peak: tuple[object, float] = (None, 0.0)
        self.day_start: tuple[object, float] = (None, 0.0)
        self.loss = float(limits.daily_loss_limit_pct)
        self.move = float(min(limits.emergency_close_pct, limits.level_critical_pct))
        self.trigger = float(limits.partial_tp_trigger_pct)
        self.tiers: dict[object, float | None] = {}  # _drawdown_tier per trading state (the limits are the run's)
        # the risk day the account was in at the last search and the first bar of the next one (capped at n)
        self.day_key: int | None = -1  # no risk day is numbered -1: the first search computes it
        self.day_end = 0
        s = acct.s
        self.day_ends = _day_ends(s.day, self.n)
        with np.errstate(invalid="ignore"):  # NaN compares false: not clean
            # every bar one ``fills.Bar`` accepts: the pass is used only then (else the engine's own search runs)
            self.ok = bool(np.all((s.low > 0) & (s.low <= s.open) & (s.open <= s.high) & (s.low <= s.close)
                                  & (s.close <= s.high) & (s.high < INF))) and acct.fill_plan is not None

    def ride(self, acct: SimAccount, i: int, settled: int = -1) -> int:
        """From bar ``i`` with a position held, pass over the quiet bars; return the next bar the exact step must
        process (``len(series)``: none), its funding already paid when ``fastpoll.prepay_funding`` would pay it.
        ``settled``: a funding bar that owes nothing (the position was not held at its open), searched like any."""
        n = self.n
        h = acct.holding
        while h is not None:
            kept = h.scan_levels
            if kept is not None and kept[0][0] is h.alerted and kept[0][1] is h.partial_done:
                levels = kept[1]  # ``_levels``'s own first test, without the call
            else:
                levels = self._levels(acct, h)
            funded = acct.funded_bar
            c, best = self._next(acct, i, n, levels, settled if settled > funded else funded)
            if c > i:
                sq, entry = levels[4], levels[5]
                self._catch_up(acct, sq, entry, best)
                self.marks.add(acct, i, c, (self.wallet[1], sq, entry))
            if c >= n:
                return n
            if c == settled or c not in self.funding_set or not fastpoll.prepay_funding(acct, c):
                return c
            i = c  # funding paid at the open of a held bar: search that bar again with the new wallet
        return i

    def enter(self, acct: SimAccount, c: int) -> int:
        """Fill the pending market entry at bar ``c``'s open as ``fastpoll.step`` does, then pass over the quiet
        bars from ``c`` on as ``ride`` does; return the next bar the exact step must process (``ride``'s answer),
        or -1 when bar ``c`` itself was not quiet and the rest of its step (the exit search of the entry bar, the
        poll) ran in full.

        Bar ``c``'s quiet test is the held-position search's first bar: the same widened levels and thresholds.
        Its funding is owed by a position held at its open, and there was none: the search does not stop there.
        """
        s = acct.s
        if s.day.item(c) != acct.day:  # the poll opens a new risk day here: the full step
            fastpoll.market_fill(acct, c)
            fastpoll._poll(acct, c)
            return -1
        fastpoll.open_market(acct, c)
        h = acct.holding
        if h is None:  # refused (insufficient margin): the rest of the step is the poll
            fastpoll._poll(acct, c)
            return -1
        found = self.ride(acct, c, c)
        if found == c:  # c's funding is not due, so the search stopped at c itself: c may act
            fastpoll._exits(acct, h, c)  # rider.ok: the fill plan is there
            fastpoll._poll(acct, c)
            return -1
        return found

    def _catch_up(self, acct: SimAccount, sq: float, entry: float, best: float) -> None:
        """``SimAccount.catch_up`` given the most favourable close (and the position's sign x qty and entry as
        floats): its Decimal equity computed only when it may lift the peak (closes that tie are the same float, so
        which of them is taken does not matter). Called right after ``_next`` searched some bars, so the floats of
        the wallet and the peak that ``_next`` kept there are the account's (nothing changed it since)."""
        wallet, peak = self.wallet[1], self.peak[1]
        gain = sq * (best - entry)
        # the float figures differ from the Decimal ones by a few units of 1e-16 of their size; the margin is wider
        if peak > 0 and wallet + gain + PEAK_MARGIN * (abs(wallet) + abs(gain) + peak) < peak:
            return
        acct.peak = max(acct.peak, acct.equity(price_of(best)))

    def _tier(self, acct: SimAccount) -> float | None:
        """``screening._drawdown_tier``: the next drawdown tier that changes something, as a float (per state)."""
        state = acct.status.state
        if state not in self.tiers:
            self.tiers[state] = _drawdown_tier(acct)
        return self.tiers[state]

    def _end(self, acct: SimAccount, i: int, n: int, settled: int) -> int:
        """The end of the stretch ``_next`` searches from bar ``i``: the first bar of the next risk day or the next
        funding bar not ``settled``, whichever comes first."""
        day = acct.day
        if day != self.day_key:  # a new risk day since the last search: the first bar of the next one
            self.day_key = day
            end = self.day_ends.get(day)
            self.day_end = min(acct.s.day_start_bar((day or 0) + 1), n) if end is None else end
        end = self.day_end
        funding = self.funding
        if funding is not None:
            # the first funding bar at or after i: the searches move forward, so on from the last one found
            k = self.funding_at
            if k > 0 and funding[k - 1] >= i:  # a search from an earlier bar (not in a run): look it up
                k = bisect_left(funding, i)
            else:
                while k < len(funding) and funding[k] < i:
                    k += 1
            self.funding_at = k
            if k < len(funding) and funding[k] == settled:
                k += 1  # its funding is paid (or not owed): the rest of that bar is searched like any other
            if k < len(funding) and funding[k] < end:
                end = funding[k]
        return end

    def _next(self, acct: SimAccount, i: int, n: int, levels: tuple[float, ...], settled: int) -> tuple[int, float]:
        """``screening._holding``: the first bar at or after ``i`` where something may act (or the stretch's end:
        the first bar of the next risk day or the next funding bar not ``settled``), and the most favourable close
        of the bars before it."""
        s = acct.s
        day = acct.day
        end = self._end(acct, i, n, settled)
        if end <= i:  # nothing to search (the stretch ends here): what the search below answers over no bars
            return end, NAN
        near = i + NEAR
        if near > end:
            near = end
        state = acct.status.state
        tiers = self.tiers
        drawdown = tiers[state] if state in tiers else self._tier(acct)
        sign_qty = levels[4]
        # the floats of the wallet, the peak and the opening equity, each converted once per Decimal object
        kept = self.wallet
        if kept[0] is not acct.wallet:
            kept = self.wallet = (acct.wallet, float(acct.wallet))
        peak = self.peak
        if peak[0] is not acct.peak:
            peak = self.peak = (acct.peak, float(acct.peak))
        opening = self.day_start
        if opening[0] is not acct.day_start:
            opening = self.day_start = (acct.day_start, float(acct.day_start))
        dd_at = None if drawdown is None else drawdown - PCT_EPS
        loss_at = None if acct.daily_hit_day == day else self.loss - PCT_EPS
        closes = s.close[i:near].tolist()
        hit, running = _scan(s.low[i:near].tolist(), s.high[i:near].tolist(), closes, levels, kept[1], peak[1],
                             opening[1], dd_at, loss_at)
        if hit >= 0:
            return i + hit, _best(closes, hit, sign_qty)
        a = c = near
        if a < end:
            levels_ = _Levels.of(acct, acct.held())
            c = end
            while a < end:
                b = min(end, a + WINDOW)
                hit, running = levels_.first(s, a, b, running)
                if hit >= 0:
                    c = a + hit
                    break
                a = b
        best = _best(closes, len(closes), sign_qty)
        if c > near:
            more = s.close[near:c]
            extra = float(more.max() if sign_qty > 0 else more.min())
            best = extra if not closes or (extra > best if sign_qty > 0 else extra < best) else best
        return c, best

    def _levels(self, acct: SimAccount, h: Holding) -> tuple[float, ...]:
        """``screening._bar_levels``: the same floats, kept on the position for its (alerted, partial_done)."""
        kept = h.scan_levels
        if kept is not None and kept[0][0] is h.alerted and kept[0][1] is h.partial_done:  # bools: the same objects
            return kept[1]
        key = (h.alerted, h.partial_done)
        limits, long, entry = acct.limits, h.side is PositionSide.LONG, float(h.entry)
        sign = 1 if long else -1
        floats = h.exit_floats
        if floats is None:  # shared with fastpoll._exits: the floats of stop, liquidation and target (inf: none)
            stop_f = INF if h.stop is None else float(h.stop)
            floats = h.exit_floats = (stop_f, INF if h.liquidation is None else float(h.liquidation),
                                      INF if h.target is None else float(h.target))
        # float() keeps order, so the float of the nearer level is the nearer float
        if h.stop is None:
            adverse = None if h.liquidation is None else floats[1]
        elif h.liquidation is None:
            adverse = floats[0]
        else:
            adverse = max(floats[0], floats[1]) if long else min(floats[0], floats[1])
        target = floats[2] if h.target is not None else None
        against = favour = None
        if limits.auto_close_on_emergency or not h.alerted:
            against = entry * (1 - sign * self.move / 100)
        if limits.partial_tp_enabled and not h.partial_done:
            favour = entry * (1 + sign * self.trigger / 100)
        low, high = (against, favour) if long else (favour, against)
        if long:
            down = -INF if adverse is None else adverse * (1 + EPS)
            up = INF if target is None else target * (1 - EPS)
        else:
            down = -INF if target is None else target * (1 + EPS)
            up = INF if adverse is None else adverse * (1 - EPS)
        found = (down, up, -INF if low is None else low * (1 + EPS), INF if high is None else high * (1 - EPS),
                 (1.0 if long else -1.0) * float(h.qty), entry)
        h.scan_levels = (key, found)
        return found


def _scan(lows: list[float], highs: list[float], closes: list[float], levels: tuple[float, ...], wallet: float,
          running: float, day_start: float, dd_at: float | None, loss_at: float | None) -> tuple[int, float]:
    """``screening._scan`` over bars given as lists of their lows, highs and closes (read by index: no row tuples):
    the offset of the first that may act (-1: none) and the running float peak, the same float tests in the same
    order.

    The drawdown and daily-loss tests divide at every bar; they fire only when the equity is at or below a floor
    (zero, the opening equity less the loss limit, the running peak less the drawdown tier) that changes only with
    the running peak. So a bar is first held against that floor, widened by a relative 1e-9 of the thresholds
    (far more than the few roundings of either side), and only a bar at or below it is put to the tests
    themselves; figures for which that margin is not certain (a peak or opening equity not above 0, a threshold
    under 0.001 %) take the tests at every bar.
    """
    down, up, close_low, close_high, sign_qty, entry = levels
    dd, loss = dd_at is not None, loss_at is not None
    dd_pct = INF if dd_at is None else dd_at  # INF: not read (``dd`` is False)
    loss_pct = INF if loss_at is None else loss_at
    if (dd and not (running > 0 and dd_pct >= 1e-3)) or (loss and not (day_start > 0 and loss_pct >= 1e-3)):
        return _scan_each(lows, highs, closes, levels, wallet, running, day_start, dd_at, loss_at)
    dd_keep = 1 - dd_pct / 100 * (1 - FLOOR_MARGIN) if dd else -INF
    base = max(0.0, day_start * (1 - loss_pct / 100 * (1 - FLOOR_MARGIN))) if loss else 0.0
    floor = max(base, running * dd_keep)
    for k in range(len(closes)):
        low, high, close = lows[k], highs[k], closes[k]
        equity = wallet + sign_qty * (close - entry)
        if equity > running:
            running = equity
            floor = max(base, running * dd_keep)
        if (low <= down or high >= up or close <= close_low or close >= close_high or equity <= floor) and (
                low <= down or high >= up or close <= close_low or close >= close_high or equity <= 0
                or (dd and (running - equity) / running * 100 >= dd_pct)
                or (loss and (day_start - equity) / day_start * 100 >= loss_pct)):
            return k, running
    return -1, running


def _scan_each(lows: list[float], highs: list[float], closes: list[float], levels: tuple[float, ...],
               wallet: float, running: float, day_start: float, dd_at: float | None, loss_at: float | None
               ) -> tuple[int, float]:
    """``_scan`` with every test at every bar."""
    down, up, close_low, close_high, sign_qty, entry = levels
    dd, loss = dd_at is not None, loss_at is not None
    dd_pct = INF if dd_at is None else dd_at  # INF: not read (``dd`` is False)
    loss_pct = INF if loss_at is None else loss_at
    for k in range(len(closes)):
        low, high, close = lows[k], highs[k], closes[k]
        equity = wallet + sign_qty * (close - entry)
        if equity > running:
            running = equity
        if (low <= down or high >= up or close <= close_low or close >= close_high or equity <= 0
                or (dd and (running - equity) / running * 100 >= dd_pct)
                or (loss and (day_start - equity) / day_start * 100 >= loss_pct)):
            return k, running
    return -1, running


def _best(closes: list[float], count: int, sign_qty: float) -> float:
    """The most favourable of the first ``count`` closes (the highest for a long, the lowest for a short; the
    closes are valid prices, never NaN); NaN when there is none. ``max`` and ``min`` give the same float; a loop
    over the few closes of a held stretch costs less than their call."""
    if count <= 0:
        return NAN
    part = closes if count >= len(closes) else closes[:count]
    best = part[0]
    if sign_qty > 0:
        for close in part:
            if close > best:
                best = close
    else:
        for close in part:
            if close < best:
                best = close
    return best


def _day_ends(day: np.ndarray, n: int) -> dict[int | None, int]:
    """For every risk day of the bars, the first bar of a later one (``n``: none), as ``Series.day_start_bar(day +
    1)`` capped at ``n`` answers it, all found in one pass: the bars' risk days never go down (empty otherwise: each
    is then found as it is needed, as for days that are not whole numbers)."""
    if n == 0 or not np.issubdtype(day.dtype, np.integer) or not bool(np.all(day[1:] >= day[:-1])):
        return {}
    firsts = (np.flatnonzero(day[1:] != day[:-1]) + 1).tolist()
    days = day[[0, *firsts]].tolist()
    return dict(zip(days, [*firsts, n], strict=True))
