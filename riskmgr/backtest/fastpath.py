"""The engine's fast entry decision: place the entry at once when the full rule path certainly would.

``decisions.decide`` builds the live ``RuleContext``, sizes the order with ``size_position``, runs every
pre-trade rule of ``risk.rules`` and formats every verdict's reason, allowed or not. In a busy run (re-armed
daily, thousands of entries) that is most of the cost, and almost all of it is spent on reasons nobody reads:
an allowed verdict's reason is never kept. So the event-driven engine first asks ``try_place``: with the run's
constants computed once (``DecisionPlan``) and the very same Decimal arithmetic, in the same order, as the
sizing and the rules, is every gate and every rule certainly allowing this signal? Then it places the entry
exactly as ``decide`` would (same quantity, same stop and target). On anything else (a denial, a shut gate,
an input the rules would reject) it returns False and the engine runs the full ``decide``, so every denial,
its reason and its count still come from the live rules themselves.

The plain bar-by-bar loop of the tests runs only the full path: the engine equals it exactly (trades, equity,
denials with their first reasons, events), which is what keeps this shortcut honest; ``tests/backtest/
test_fastpath.py`` also checks each decision against the full path directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from math import floor

from riskmgr.backtest.account import PendingEntry, SimAccount, price_of, time_at
from riskmgr.backtest.decisions import (
    ACCOUNT_GATES,
    COOLDOWN_RULE,
    EntrySignals,
    _cooldown,
    _daily_cap,
    _intent,
    _shut,
)
from riskmgr.core.domain import ZERO, AccountStatus, PositionSide, TradingState, Verdict
from riskmgr.core.errors import ValidationError
from riskmgr.risk import rules
from riskmgr.risk.context import RuleContext
from riskmgr.risk.costs import NO_LOSS, TradingCosts, backtest_costs
from riskmgr.risk.rules import ALL_RULES
from riskmgr.risk.sizing import (
    HUNDRED,
    liquidation_price,
    liquidation_price_on_tick,
    round_down_to_step,
    round_to_tick,
)
from riskmgr.risk.state import admits

LONG, SHORT, ACTIVE = PositionSide.LONG, PositionSide.SHORT, TradingState.ACTIVE
# the pre-trade rules that are account-level gates: they read the account and the time, never the order's size
GATE_RULES = tuple(rule for rule in ALL_RULES if rule.name in ACCOUNT_GATES)
NOT_SIZED = "not sized: only the account-level gates are read here"
INF = float("inf")


@dataclass(frozen=True)
class DecisionPlan:
    """What every decision of one run shares: the costs, the cooldown and the rules that only read settings."""

    costs: TradingCosts
    cooldown: timedelta
    settings_allow: bool  # data_fresh, max_leverage's setting checks, max_open_positions, the intent's own checks
    position_room: Decimal  # max position notional left with nothing open or resting (sizing's first cap)
    nothing: Decimal  # an empty sum, as sizing and the rules add it (open notional, resting, a held loss)
    min_notional: Decimal
    day_floor: Decimal  # 1 - daily loss limit / 100: daily_headroom's factor
    # the liquidation estimate per unit of entry price, long and short (None: not a plain factor; compute it)
    liquidation_factors: tuple[float, float] | None
    two_ticks: Decimal  # the tick rounding of the entry and the stop fill, as costs.slippage_per_unit adds it
    no_loss: Decimal  # NO_LOSS.total: the loss at the stop of positions already open (none)
    tick_f: float  # the tick as a float (the float-first tick rounding of stop and target)
    loss_cooldown: timedelta  # the loss-streak breaker's pause after the newest close of a streak

    @classmethod
    def of(cls, acct: SimAccount) -> DecisionPlan:
        """Compute the run's constants once."""
        limits, spec, cfg, lev = acct.limits, acct.spec, acct.cfg, acct.cfg.leverage
        settings_allow = (
            limits.stale_after_seconds >= 0  # a read stamped now is 0 s old
            and not isinstance(lev, bool) and isinstance(lev, int) and 1 <= lev <= limits.max_leverage
            and lev <= spec.max_leverage and limits.max_open_positions >= 1 and bool(cfg.symbol)
            and spec.symbol == cfg.symbol and spec.maintenance_margin_rate is not None
            and spec.qty_step > 0 and spec.price_tick > 0
        )
        nothing = ZERO + ZERO  # sum((), ZERO) + sum((), ZERO): what sizing and the rules compute with no positions
        return cls(
            costs=backtest_costs(cfg.fill.taker_fee, cfg.fill.slippage_bps, spec.price_tick),
            cooldown=timedelta(minutes=limits.signal_cooldown_minutes), settings_allow=settings_allow,
            position_room=max(limits.max_position_notional - nothing, ZERO), nothing=nothing,
            min_notional=max(spec.min_notional, limits.min_notional_floor),
            day_floor=1 - limits.daily_loss_limit_pct / HUNDRED,
            liquidation_factors=_liquidation_factors(lev, spec.maintenance_margin_rate) if settings_allow else None,
            two_ticks=2 * spec.price_tick, no_loss=NO_LOSS.total, tick_f=float(spec.price_tick),
            loss_cooldown=timedelta(minutes=limits.loss_cooldown_minutes),
        )


def _liquidation_factors(leverage: int, mmr: Decimal | None) -> tuple[float, float] | None:
    """Return ``liquidation_price`` at an entry of 1, long and short, when it is that factor times the entry.

    Every venue formula of an isolated position is the entry times a factor of the leverage and the maintenance
    rate; the probes check that it still is (else None: each decision computes the estimate in full).
    """
    if mmr is None:
        return None
    factors = tuple(float(liquidation_price(side, Decimal(1), leverage, mmr)) for side in (LONG, SHORT))
    for probe in (Decimal("0.0123"), Decimal("97.31"), Decimal("123456.7")):
        for side, factor in zip((LONG, SHORT), factors, strict=True):
            if abs(float(liquidation_price(side, probe, leverage, mmr)) - float(probe) * factor) > 1e-12 * float(probe):
                return None
    return factors[0], factors[1]


def try_place(acct: SimAccount, j: int, sig: EntrySignals, plan: DecisionPlan) -> bool:
    """Place bar ``j``'s entry when every gate and rule certainly allows it, or count it against the order rules
    that deny it when each has denied before (its first reason is kept); False: decide it in full."""
    if not plan.settings_allow or acct.status.state is not ACTIVE:
        return False
    s = acct.s
    now = time_at(acct, int(s.ts.item(j)) + s.bar_ms)  # from_ms(s.close_ms(j))
    if not _gates_open(acct, now, plan):
        return False
    stop_f, target_f, close_f = sig.stop.item(j), sig.target.item(j), s.close.item(j)
    if not (0 < stop_f < INF and 0 < target_f < INF and 0 < close_f < INF):  # NaN too: the full path says why
        return False
    long = sig.side.item(j) > 0  # a Python int: no numpy scalar
    tick = acct.spec.price_tick
    stop = _on_tick(stop_f, tick, plan.tick_f, long)
    target = _on_tick(target_f, tick, plan.tick_f, not long)
    entry = price_of(close_f)
    side = LONG if long else SHORT
    # (entry - stop) x sign, exact; each compared with a Decimal zero (the same answer as with 0, no conversion)
    if stop <= ZERO or target <= ZERO or (entry - stop if long else stop - entry) <= ZERO:
        return False
    judged = _judge(acct, side, entry, close_f, stop, target, plan)
    if judged is None:
        return False
    qty, denied = judged
    if not denied:
        _place(acct, j, now, side, entry, stop, target, qty)
        return True
    # a repeated denial: ``decide`` would count it against the same rules and keep their first reasons, so the
    # reasons are not needed; a rule's first denial runs the full path, which words it
    denials = acct.denials
    for rule in denied:
        if rule not in denials:
            return False
    acct.signals += 1
    for rule in denied:
        denials[rule].count += 1
    return True


def try_shut(acct: SimAccount, j: int, sig: EntrySignals, plan: DecisionPlan) -> bool:
    """Count bar ``j``'s signal against the account-level gates that turn it down, as ``decide`` does.

    ``decide`` judges the gates first and, when one is shut, counts the signal against the shut gates only; their
    verdicts never read the order's size, so they are taken here from the same functions and rules on the same
    context, without sizing the order or running the order's own rules. False: no gate is shut (or the input is
    one the full path must judge), so ``decide`` runs in full.
    """
    if not plan.settings_allow:
        return False
    ms = acct.s.close_ms(j)
    now = time_at(acct, ms)
    side = LONG if sig.side.item(j) > 0 else SHORT
    cooldown = _cooldown_verdict(acct, now, side, j, sig, plan)
    if cooldown is not None:
        acct.signals += 1
        _shut(acct, [cooldown], ms)
        return True
    intent = None
    if not _intent_certain(acct, j, sig, plan):
        try:
            intent = _intent(acct, side, j, sig)
        except ValidationError:
            return False
    streak = _streak_only(acct, now, plan)
    if streak is not None:
        acct.signals += 1
        _shut(acct, [streak], ms)
        return True
    if intent is None:
        intent = _intent(acct, side, j, sig)
    ctx = RuleContext(
        now=now, limits=acct.limits, intent=intent, spec=acct.spec, equity=acct.wallet, available=acct.wallet,
        day_start_equity=acct.day_start, peak_equity=acct.peak, positions=(), account_status=AccountStatus.OK,
        data_age=now - now, recent_trades=tuple(acct.recent), trading_state=acct.status.state, sizing=None,
        sizing_error=NOT_SIZED, costs=plan.costs,
    )
    verdicts = (admits(acct.status.state, reduces_exposure=False, is_cancel=False), _daily_cap(acct, now),
                *(rule.check(ctx) for rule in GATE_RULES))
    gates = [v for v in verdicts if not v.allowed]
    if not gates:
        return False
    acct.signals += 1
    _shut(acct, gates, ms)
    return True


def _intent_certain(acct: SimAccount, j: int, sig: EntrySignals, plan: DecisionPlan) -> bool:
    """Tell whether ``decisions._intent`` certainly builds the signal's intent (raises no ``ValidationError``),
    without building it: the close, the stop and the target finite, the close above 0, the stop and the target at
    least two ticks (their floats' Decimals then round to a tick or more, either way). The settings the intent
    also checks (symbol, leverage, the tick above 0) are ``settings_allow``'s, which the caller checked."""
    floor = 2 * plan.tick_f
    close: float = acct.s.close.item(j)
    stop: float = sig.stop.item(j)
    target: float = sig.target.item(j)
    return 0 < close < INF and floor <= stop < INF and floor <= target < INF


def _streak_only(acct: SimAccount, now: datetime, plan: DecisionPlan) -> Verdict | None:
    """The loss-streak breaker's denial when it is certainly the only shut gate and has denied before (its first
    reason is kept, so this one is not worded); None: the live gate rules judge.

    The other gates certainly allow: the state is ACTIVE, the daily cap not reached, the day's loss and the
    drawdown below their limits (the rules' own arithmetic, as ``try_place`` checks them), the data fresh
    (``settings_allow``). The breaker denies, as ``consecutive_losses.check`` does, while ``now`` is before the
    newest close of a long-enough losing streak plus the cooldown.
    """
    first = acct.denials.get(rules.consecutive_losses.NAME)
    limits = acct.limits
    if first is None or acct.status.state is not ACTIVE or limits.auto_trade_daily_cap <= 0:
        return None
    if acct.entries_day == acct.day and acct.entries_today >= limits.auto_trade_daily_cap:
        return None
    equity = acct.wallet
    if not (equity > ZERO and acct.day_start > ZERO and acct.peak > ZERO) or not _gates_allow(acct, equity):
        return None
    streak = 0
    for trade in acct.recent:  # newest first (closes are recorded in time order), as the rule sorts them
        if trade.realized_pnl >= ZERO:
            break
        streak += 1
    if streak < limits.max_consecutive_losses:
        return None
    until = acct.recent[0].closed_at + plan.loss_cooldown
    if not now < until:
        return None
    return Verdict.deny(rules.consecutive_losses.NAME, first.first_reason, until)


def _cooldown_verdict(acct: SimAccount, now: datetime, side: PositionSide, j: int, sig: EntrySignals,
                      plan: DecisionPlan) -> Verdict | None:
    """``decisions._cooldown``, without building the live signal when its answer is certain.

    The live filter drops this signal (created now, valid for one bar, on a symbol not held) exactly when
    ``now < last taken + cooldown``. Its reason is needed only for the rule's first denial, so that one (and a
    negative cooldown, which the filter refuses) goes through the filter itself.
    """
    taken = acct.last_taken
    if taken is None:
        return None
    until = taken + plan.cooldown
    first = acct.denials.get(COOLDOWN_RULE)
    if plan.cooldown < timedelta(0) or (now < until and first is None):
        return _cooldown(acct, now, side, j, sig)
    if now < until and first is not None:
        return Verdict.deny(COOLDOWN_RULE, first.first_reason, until=until)  # counted; this reason is not kept
    return None


def _on_tick(value: float, tick: Decimal, tick_f: float, up: bool) -> Decimal:
    """``round_to_tick(price_of(value), tick, up=up)``, from the float quotient when it is certainly not whole.

    The float quotient differs from the exact one (of the Decimal of ``value`` by the tick) by a few units of 1e-16
    of its size: below 1e9 and more than 1e-6 from a whole number, its floor and ceiling are the exact quotient's,
    and the exact quotient is not whole, so the tick rounding's integral has exponent 0, as ``Decimal(k)`` has.
    """
    q = value / tick_f
    if 0 < q < 1e9:
        below = floor(q)
        # not whole: the ceiling is the floor + 1 (exact in a float below 1e9), min(q - floor, ceil - q) > 1e-6
        if q - below > 1e-6 and (below + 1) - q > 1e-6:
            return tick * (below + 1 if up else below)  # Decimal(k) * tick: the same product
    return round_to_tick(price_of(value), tick, up=up)


def _gates_open(acct: SimAccount, now: datetime, plan: DecisionPlan) -> bool:
    """The account-level gates that depend on time and counts: the daily cap, the cooldown, the loss streak."""
    limits = acct.limits
    cap = limits.auto_trade_daily_cap
    if acct.entries_day == acct.day and acct.entries_today >= cap:
        return False
    if cap <= 0:
        return False
    taken = acct.last_taken
    if taken is not None and now < taken + plan.cooldown:
        return False
    streak = 0
    recent = acct.recent
    for trade in recent:  # newest first, as the rule sorts them
        if trade.realized_pnl >= ZERO:
            break
        streak += 1
    if streak < limits.max_consecutive_losses:
        return True
    return not now < recent[0].closed_at + plan.loss_cooldown


def _judge(acct: SimAccount, side: PositionSide, entry: Decimal, entry_f: float, stop: Decimal, target: Decimal,
           plan: DecisionPlan) -> tuple[Decimal, list[str]] | None:
    """Return the quantity ``size_position`` gives and the order rules that deny it (all of them, none when the
    entry is allowed); None when an account-level gate denies or sizing would fail (the full path judges those).
    ``entry_f`` is the float ``entry`` is the Decimal of (``price_of``), so ``float(entry)``.
    """
    limits, costs = acct.limits, plan.costs
    equity, day_start, peak = acct.wallet, acct.day_start, acct.peak
    if not (equity > ZERO and day_start > ZERO and peak > ZERO) or not _gates_allow(acct, equity):
        return None
    denied: list[str] = []
    # the caller checked (entry - stop) x sign > 0: it is the stop distance, abs(entry - stop) and its max with 0,
    # exactly (a difference of two prices is exact, and so is its negation)
    distance = entry - stop if side is LONG else stop - entry
    # costs.slippage_per_unit and costs.fees_per_unit, the sum of entry and stop taken once
    both = entry + stop
    slippage = ZERO if costs.slippage_rate == ZERO else both * costs.slippage_rate + plan.two_ticks
    fees = (both + slippage) * costs.taker_fee_rate
    cost = fees + slippage  # the same sum as slippage + fees (Decimal addition is exact and commutes)
    if distance < limits.min_stop_cost_multiple * cost:
        denied.append(rules.min_stop_distance.NAME)
    levered = equity * limits.max_leverage
    qty = _size(acct, entry, distance + cost, equity, levered, plan)  # costs.loss_per_unit
    notional = qty * entry
    # loss_at_stop + existing_loss of nothing, as sizing's _result sums them
    risk = (qty * distance + qty * fees + qty * slippage) + plan.no_loss
    if (qty <= ZERO or qty < acct.spec.min_qty or notional < plan.min_notional
            or risk / equity * HUNDRED > limits.risk_per_trade_pct):
        denied.append(rules.risk_per_trade.NAME)
    # the rules add the (empty) open and resting notional, an exact 0, before comparing: left out here
    if notional > levered:
        denied.append(rules.max_leverage.NAME)
    if notional > limits.max_position_notional:
        denied.append(rules.max_position_notional.NAME)
    if not _liquidation_beyond(acct, side, entry, entry_f, stop, plan):
        denied.append(rules.liquidation_beyond_stop.NAME)
    # (target - entry) / (entry - stop), only compared: entry - stop is the distance for a long, its negation for a
    # short (both signs flipped: the same quotient)
    ratio = (target - entry if side is LONG else entry - target) / distance
    if ratio <= ZERO or ratio < limits.min_reward_risk:
        denied.append(rules.reward_risk.NAME)
    if risk > equity - day_start * plan.day_floor:
        denied.append(rules.daily_headroom.NAME)
    return qty, denied


def _size(acct: SimAccount, entry: Decimal, per_unit: Decimal, equity: Decimal, levered: Decimal,
          plan: DecisionPlan) -> Decimal:
    """``size_position`` with nothing open or resting: the risk budget, capped, rounded down to the step
    (``levered``: the equity times the maximum leverage)."""
    limits = acct.limits
    left = equity * limits.risk_per_trade_pct / HUNDRED - plan.no_loss
    raw_qty = left / per_unit if left > ZERO else ZERO
    qty = raw_qty
    allowed = plan.position_room / entry
    if raw_qty > allowed:
        qty = min(qty, allowed)
    allowed = max(levered - plan.nothing, ZERO) / entry
    if raw_qty > allowed:
        qty = min(qty, allowed)
    step = acct.spec.qty_step
    if step <= ZERO:  # settings_allow rules this out; round_down_to_step says why
        return round_down_to_step(qty, step)
    return (qty / step).to_integral_value(ROUND_FLOOR) * step  # round_down_to_step


def _clearly_beyond(side: PositionSide, entry_f: float, stop: Decimal, plan: DecisionPlan) -> bool:
    """Tell whether the liquidation estimate, rounded to the tick towards the entry, certainly lies beyond the stop.

    The estimate is the entry times the run's factor (to a relative 1e-27 in Decimal); the margins here (a relative
    1e-9 and a whole tick) are far wider than that and than float rounding, so a True is never wrong; anything
    closer is left to the exact estimate.
    """
    if plan.liquidation_factors is None:
        return False
    if side is LONG:
        return entry_f * plan.liquidation_factors[0] * (1 + 1e-9) + plan.tick_f < float(stop) * (1 - 1e-12)
    return entry_f * plan.liquidation_factors[1] * (1 - 1e-9) - plan.tick_f > float(stop) * (1 + 1e-12)


def _liquidation_beyond(acct: SimAccount, side: PositionSide, entry: Decimal, entry_f: float, stop: Decimal,
                        plan: DecisionPlan) -> bool:
    """liquidation_beyond_stop: the liquidation estimate on the tick lies beyond the stop (``entry_f``: the float
    of ``entry``)."""
    spec = acct.spec
    if _clearly_beyond(side, entry_f, stop, plan):
        return True
    mmr = spec.maintenance_margin_rate
    if mmr is None:  # settings_allow rules this out; the rule would deny
        return False
    liquidation = liquidation_price_on_tick(side, entry, acct.cfg.leverage, mmr, spec.price_tick)
    return (stop - liquidation) * (1 if side is LONG else -1) > 0  # side.sign


def _gates_allow(acct: SimAccount, equity: Decimal) -> bool:
    """The account-level gates among the rules: daily_loss and drawdown (opening figures above 0 checked)."""
    limits, day_start, peak = acct.limits, acct.day_start, acct.peak
    quiet = acct.quiet_figures  # fastpoll._tiers_quiet found this very test true on these very figures
    if quiet is not None and quiet[0] is equity and quiet[1] is day_start and quiet[2] is peak:
        return True
    if (day_start - equity) / day_start * HUNDRED >= limits.daily_loss_limit_pct:
        return False
    drawdown = max((peak - equity) / peak * HUNDRED, ZERO)
    return drawdown < limits.max_drawdown_pct and drawdown < limits.drawdown_reducing_pct


def _place(acct: SimAccount, j: int, now: datetime, side: PositionSide, entry: Decimal, stop: Decimal, target: Decimal,
           qty: Decimal) -> None:
    """Do what ``decisions._place`` does for an allowed entry."""
    acct.signals += 1
    long = side is LONG
    limit = round_to_tick(entry, acct.spec.price_tick, up=not long) if acct.cfg.limit_entries else None
    acct.pending = PendingEntry(side, qty, stop, target, limit, j + acct.cfg.validity_bars)
    acct.last_taken = now
    if acct.entries_day != acct.day:
        acct.entries_day, acct.entries_today = acct.day, 0
    acct.entries_today += 1
    acct.block = None
