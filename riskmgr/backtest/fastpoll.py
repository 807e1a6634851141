"""The engine's fast bar step: skip the parts of ``polling.step`` that certainly do nothing at this bar.

``polling.step`` builds a Decimal ``Bar`` to look for the position's exits, grades the account with
``evaluate_account_tiers`` (formatting both tier reasons) whenever its figures changed, and builds a ``Position``
for the position monitor, at every bar the engine stops at. Most of those stops act on nothing: the exits are
not reached, the drawdown and the day's loss are below the tiers that change anything, the move is inside the
monitor's levels. ``step`` here makes those same comparisons first, with the same Decimal figures (a float
price becomes the Decimal of its shortest repr, which keeps the order of floats), and runs the full code of
``polling`` and ``SimAccount`` for every part that may act, so whatever happens is done and worded by it.

The bar-by-bar loop of the tests runs only ``polling.step``; the engine equals it exactly.
"""

from __future__ import annotations

from decimal import Decimal

from riskmgr.backtest.account import Holding, Series, SimAccount, price_of
from riskmgr.backtest.fastfill import LIQUIDATION, bar_exit, liquidation_met, position_exit
from riskmgr.backtest.polling import _apply_tiers, _monitor, _roll_day, poll
from riskmgr.core.clock import from_ms
from riskmgr.core.domain import ZERO, PositionSide
from riskmgr.exchanges import fills as fm
from riskmgr.exchanges.fills import ExitKind
from riskmgr.risk.sizing import HUNDRED
from riskmgr.risk.state import evaluate_account_tiers

LONG = PositionSide.LONG
INF = float("inf")
EXIT_REASON = {kind: kind.value for kind in ExitKind}  # a trade's reason: the kind's value, without the enum property


def bar_valid(s: Series, j: int) -> bool:
    """Tell whether bar ``j`` is one ``fills.Bar`` accepts: prices finite and above 0, low and high around them.

    The exit search of a bar is skipped only for such a bar; any other takes the full step, so a bad bar fails
    exactly where it fails in the full step.
    """
    o, h, lo, c = float(s.open[j]), float(s.high[j]), float(s.low[j]), float(s.close[j])
    return 0 < lo <= o <= h < INF and lo <= c <= h  # NaN compares false: not valid


def step(acct: SimAccount, j: int) -> None:
    """Process bar ``j`` exactly as ``polling.step`` does."""
    h, p = acct.holding, acct.pending
    if (h is None and p is None) or not bar_valid(acct.s, j):
        acct.bar_start(j)  # flat with nothing pending: it does nothing; an invalid bar: it fails as in full
    elif p is not None:
        if h is None and p.limit is None:
            # flat at the open: no funding is paid in this bar (``bar_start`` pays it only on a position held then)
            market_fill(acct, j)
        else:
            acct.bar_start(j)
    elif h is not None:  # always, here: neither held nor pending went to the first branch
        if acct.s.funding is not None and acct.s.funding[j] and acct.funded_bar != j:
            acct._pay_funding(j)  # as ``bar_start`` does first; it changes the wallet, never the exits
        if acct.fill_plan is not None or _exit_possible(acct, h, j):
            _exits(acct, h, j)
    _poll(acct, j)


def held_step(acct: SimAccount, j: int) -> None:
    """``step`` at a bar known to be valid with a position held and nothing pending (the engine checked every bar
    of the run once): the funding at the open, the exits inside the bar, the poll at its close."""
    h = acct.holding
    if h is None or acct.pending is not None:  # the caller checked; a bug otherwise
        raise RuntimeError("held_step needs a position held and nothing pending")
    if acct.s.funding is not None and acct.s.funding.item(j) and acct.funded_bar != j:
        acct._pay_funding(j)
    if acct.fill_plan is not None or _exit_possible(acct, h, j):
        _exits(acct, h, j)
    _poll(acct, j)


def flat_quiet(acct: SimAccount, j: int) -> bool:
    """Tell whether ``step`` certainly does nothing at bar ``j``: the account flat with nothing pending, in the same
    risk day as its last poll, and the wallet, opening equity, peak and state the very objects that poll graded
    (``_poll`` is a function of them and of the day alone: it would compute the same key and stop there)."""
    key = acct.tier_key
    return (key is not None and acct.holding is None and acct.pending is None and not acct.bust and key[5] is True
            and key[0] is acct.wallet and key[1] is acct.day_start and key[2] is acct.peak
            and key[3] is acct.status.state and key[4] == acct.day and acct.s.day.item(j) == acct.day)


def prepay_funding(acct: SimAccount, j: int) -> bool:
    """Pay bar ``j``'s funding ahead of the rest of its step when ``step`` would pay it first and then look at the
    exits and the poll (a position held at the open, nothing pending, a valid bar); True when it did.

    Funding changes only the wallet, so the event search can then tell, with the new wallet, whether anything
    else in the bar may act: a quiet funding bar is skipped like any quiet bar instead of taking a full step.
    """
    if (acct.holding is None or acct.pending is not None or acct.s.funding is None or not acct.s.funding[j]
            or acct.funded_bar == j or not bar_valid(acct.s, j)):
        return False
    acct._pay_funding(j)
    acct.funded_bar = j
    return True


def market_fill(acct: SimAccount, j: int) -> None:
    """Fill the pending market entry at the open of a valid bar, as ``bar_start`` does, building the Decimal bar
    (and searching its exits) only when the bar may reach the stop, the liquidation or the target."""
    open_market(acct, j)
    h = acct.holding
    if h is not None and (acct.fill_plan is not None or _exit_possible(acct, h, j)):
        _exits(acct, h, j)


def open_market(acct: SimAccount, j: int) -> None:
    """Fill the pending market entry at the open of bar ``j`` (the first half of ``market_fill``)."""
    p = acct.pending
    if p is None:  # the caller checked; a bug otherwise
        raise RuntimeError("no pending entry")
    plan = acct.fill_plan
    if plan is None:
        price = fm.slipped_price(price_of(acct.s.open[j]), p.side.entry_order_side, acct.cfg.fill.slippage_bps,
                                 acct.spec.price_tick)
    else:
        price = plan.slipped(price_of(acct.s.open.item(j)), p.side is LONG)  # a long enters with a buy
    acct.pending = None
    acct._open(j, p, price, price * p.qty * acct.cfg.fill.taker_fee, j)  # fills.fee_for


def _exits(acct: SimAccount, h: Holding, j: int) -> None:
    """Do what ``SimAccount._exits`` does at a valid bar, comparing the bar's floats with the levels exactly and
    building a Decimal price only for the fill (``fastfill.bar_exit``)."""
    s, plan = acct.s, acct.fill_plan
    if plan is None:
        return acct._exits(j, s.bar(j))
    long = h.side is LONG
    floats = h.exit_floats
    if floats is None:
        floats = h.exit_floats = (INF if h.stop is None else float(h.stop),
                                  INF if h.liquidation is None else float(h.liquidation),
                                  INF if h.target is None else float(h.target))
    o = s.open.item(j)
    bar = (o, s.high.item(j), s.low.item(j))
    target = h.target if j >= h.target_from else None
    found: tuple[ExitKind, Decimal | None] | None
    if liquidation_met(long, bar, h.liquidation, floats[1]):
        found = position_exit(long, (price_of(o), price_of(s.high[j]), price_of(s.low[j])), h.stop, h.liquidation,
                              target)
    else:
        found = bar_exit(long, bar, h.stop, target, floats)
    if found is None:
        return None
    kind, price = found
    if price is None:
        price = price_of(o)
    ms = int(s.ts.item(j))
    if kind is LIQUIDATION:
        acct._liquidate(j, price, ms)
    else:
        acct.close(j, h.qty, plan.exit_price(kind, price, long), EXIT_REASON[kind], ms)
    return None


def mark(acct: SimAccount, j: int) -> None:
    """Write the equity at bar ``j``'s close as ``SimAccount.mark_range(j, j + 1)`` does, without an array slice."""
    h = acct.holding
    if h is None:
        acct.curve[j] = float(acct.wallet)
    else:  # the same float operations in the same order as the array expression, so the same bits
        acct.curve[j] = float(acct.wallet) + h.side.sign * float(h.qty) * (float(acct.s.close[j]) - float(h.entry))


def _exit_possible(acct: SimAccount, h: Holding, j: int) -> bool:
    """Tell whether bar ``j`` reaches the stop, the liquidation or (when it may fill) the target."""
    low_f, high_f = float(acct.s.low[j]), float(acct.s.high[j])
    levels = h.float_levels if h.float_levels is not None else _float_levels(h)
    target_on = j >= h.target_from and h.target is not None
    # a float bound first: rounding to float keeps order, so a Decimal price at or beyond a level has its float
    # at or beyond the level's float; a bar whose floats stay inside reaches nothing (NaN goes on to the full check)
    if h.side is LONG:
        if low_f > levels[0] and not (target_on and high_f >= levels[1]):
            return False
    elif high_f < levels[0] and not (target_on and low_f <= levels[1]):
        return False
    target = h.target if j >= h.target_from else None
    if h.side is LONG:
        low = price_of(acct.s.low[j])  # a long's stop is met at the open or the low; the low is the lower
        return ((h.stop is not None and low <= h.stop) or (h.liquidation is not None and low <= h.liquidation)
                or (target is not None and price_of(acct.s.high[j]) >= target))
    high = price_of(acct.s.high[j])
    return ((h.stop is not None and high >= h.stop) or (h.liquidation is not None and high >= h.liquidation)
            or (target is not None and price_of(acct.s.low[j]) <= target))


def _float_levels(h: Holding) -> tuple[float, float]:
    """Return and keep the floats of the adverse level met first (stop or liquidation) and of the target."""
    adverse = [float(x) for x in (h.stop, h.liquidation) if x is not None]
    long = h.side is LONG
    h.float_levels = ((max(adverse) if adverse else -INF) if long else (min(adverse) if adverse else INF),
                      float(h.target) if h.target is not None else (INF if long else -INF))
    return h.float_levels


def _poll(acct: SimAccount, j: int) -> None:
    """``polling.poll`` with the tier grading and the monitor run only where they may act."""
    s, h = acct.s, acct.holding
    close = s.close.item(j)
    if h is None and 0 < close < INF:
        mark, equity = None, acct.wallet  # flat at a valid close: the mark is not read (a Decimal saved per bar)
    else:
        mark = price_of(close)
        # ``SimAccount.equity``: the same Decimal operations in the same order
        equity = acct.wallet if h is None else acct.wallet + (mark - h.entry) * h.qty * (1 if h.side is LONG else -1)
    if equity <= ZERO or (mark is not None and mark <= ZERO):  # Decimal against Decimal: the same test, cheaper
        poll(acct, j)  # a wiped-out account, or a mark the monitor rejects: all of it in full
        return
    now = None  # the close's time, built once and only where something reads it
    if s.day.item(j) != acct.day:
        _roll_day(acct, j, None, equity)
    if acct.peak <= ZERO or acct.day_start <= ZERO:
        poll(acct, j)  # figures the tiers reject, in full (the new day, if any, is already rolled: a no-op there)
        return
    if equity > acct.peak:
        acct.peak = equity
    key = (equity, acct.day_start, acct.peak, acct.status.state, acct.day, acct.holding is None)
    if key != acct.tier_key:
        acct.tier_key = key
        quiet = acct.quiet_figures
        if quiet is not None and quiet[1] is acct.day_start and quiet[2] is acct.peak and equity >= quiet[0]:
            # quiet at a lower equity with the same opening equity and peak: quiet here too (the drawdown and the
            # day's loss, each rounded step by step, never grow as the equity rises); kept as ``_tiers_quiet`` does
            acct.quiet_figures = (equity, quiet[1], quiet[2])
        elif not _tiers_quiet(acct, equity):
            now = now or from_ms(acct.s.close_ms(j))
            _apply_tiers(acct, j, now, evaluate_account_tiers(acct.limits, equity, acct.day_start, acct.peak, now))
    h = acct.holding
    if h is not None and mark is not None and not _monitor_quiet(acct, h, mark):  # flat before: flat still
        _monitor(acct, j, now or from_ms(acct.s.close_ms(j)), mark)


def _tiers_quiet(acct: SimAccount, equity: Decimal) -> bool:
    """Tell whether the tiers propose nothing: no daily loss hit, the drawdown below REDUCING and the max."""
    limits, peak, day_start = acct.limits, acct.peak, acct.day_start
    if (day_start - equity) / day_start * HUNDRED >= limits.daily_loss_limit_pct:
        return False
    drawdown = max((peak - equity) / peak * HUNDRED, ZERO)
    quiet = drawdown < limits.max_drawdown_pct and drawdown < limits.drawdown_reducing_pct
    if quiet:
        acct.quiet_figures = (equity, day_start, peak)
    return quiet


def _monitor_quiet(acct: SimAccount, h: Holding, mark: Decimal) -> bool:
    """Tell whether ``risk.levels.position_actions`` returns nothing for the position at ``mark``."""
    limits, entry = acct.limits, h.entry
    move = (mark - entry) / entry * HUNDRED * (1 if h.side is LONG else -1)  # h.side.sign
    if move < -limits.level_critical_pct or move <= -limits.emergency_close_pct:
        return False
    return not (limits.partial_tp_enabled and move >= limits.partial_tp_trigger_pct)
