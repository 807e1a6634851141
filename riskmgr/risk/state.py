"""Trading-state logic, pure: escalation, re-arming, what each state admits, and the account tiers.

ACTIVE admits everything, REDUCING only orders that reduce exposure (and cancels), HALTED only cancels
and reduce-only closes. Automatic moves only go down (ACTIVE -> REDUCING -> HALTED); going back up is a
deliberate re-arm with a reason. Persisting and auditing the status is the caller's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from riskmgr.core.domain import TradingState, Verdict
from riskmgr.core.errors import ValidationError
from riskmgr.risk.config import RiskLimits
from riskmgr.risk.sizing import HUNDRED, fmt_money, fmt_number, fmt_pct

RULE = "trading_state"


@dataclass(frozen=True)
class TradingStatus:
    """The trading state in force, why, since when and who set it."""

    state: TradingState
    reason: str
    changed_at: datetime
    changed_by: str


def _require(name: str, text: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ValidationError(name, "must not be empty")
    return text.strip()


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValidationError("now", "must be a timezone-aware datetime")


def escalate(
    current: TradingStatus, proposed: TradingState, reason: str, now: datetime, by: str
) -> TradingStatus | None:
    """Move to ``proposed`` if it is stricter than the current state; return None when nothing changes."""
    reason, by = _require("reason", reason), _require("changed_by", by)
    _require_aware(now)
    if proposed.severity <= current.state.severity:
        return None
    return TradingStatus(proposed, reason, now, by)


def rearm(current: TradingStatus, reason: str, now: datetime, by: str) -> TradingStatus:
    """Return to ACTIVE on the operator's word; the reason is required and goes to the audit log."""
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError("reason", "a reason is required to re-arm trading")
    by = _require("changed_by", by)
    _require_aware(now)
    if current.state is TradingState.ACTIVE:
        raise ValidationError("state", "trading is already ACTIVE; there is nothing to re-arm")
    return TradingStatus(TradingState.ACTIVE, reason.strip(), now, by)


def admits(state: TradingState, *, reduces_exposure: bool, is_cancel: bool) -> Verdict:
    """Say whether ``state`` lets an order (or a cancel) through the gateway."""
    if state is TradingState.ACTIVE:
        return Verdict.allow(RULE, "trading is ACTIVE")
    if is_cancel:
        return Verdict.allow(RULE, f"cancels are admitted while {state.value}")
    if reduces_exposure:
        return Verdict.allow(RULE, f"an order that only reduces exposure is admitted while {state.value}")
    if state is TradingState.REDUCING:
        return Verdict.deny(RULE, "trading is REDUCING: only orders that reduce exposure are admitted")
    return Verdict.deny(
        RULE, "trading is HALTED: only cancels and reduce-only closes are admitted until an operator re-arms"
    )


# -- the risk day and the account tiers ------------------------------------------------------------------------


def _zone(tz: tzinfo | str) -> tzinfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def risk_day(now: datetime, tz: tzinfo | str) -> date:
    """Return the calendar date of ``now`` in the risk day's time zone."""
    _require_aware(now)
    return now.astimezone(_zone(tz)).date()


def next_day_start(now: datetime, tz: tzinfo | str) -> datetime:
    """Return (in UTC) the midnight in ``tz`` that starts the risk day after the one holding ``now``."""
    zone = _zone(tz)
    following = risk_day(now, zone) + timedelta(days=1)
    return datetime.combine(following, time(0), tzinfo=zone).astimezone(UTC)


def drawdown_pct(equity: Decimal, peak_equity: Decimal) -> Decimal:
    """Return the fall from peak equity in percent (0 at or above the peak)."""
    if peak_equity <= 0:
        raise ValidationError("peak_equity", f"must be above 0, got {peak_equity}")
    return max((peak_equity - equity) / peak_equity * HUNDRED, Decimal(0))


def daily_loss_pct(equity: Decimal, day_start_equity: Decimal) -> Decimal:
    """Return the loss since the day's opening equity in percent (negative on a winning day)."""
    if day_start_equity <= 0:
        raise ValidationError("day_start_equity", f"must be above 0, got {day_start_equity}")
    return (day_start_equity - equity) / day_start_equity * HUNDRED


class DrawdownTier(StrEnum):
    NONE = "none"
    WARN = "warn"
    REDUCING = "reducing"
    HALT = "halt"


def drawdown_tier(limits: RiskLimits, drawdown: Decimal) -> tuple[DrawdownTier, Decimal | None]:
    """Return the tier a drawdown (percent) has reached and that tier's threshold (None below warn)."""
    for tier, threshold in (
        (DrawdownTier.HALT, limits.max_drawdown_pct),
        (DrawdownTier.REDUCING, limits.drawdown_reducing_pct),
        (DrawdownTier.WARN, limits.drawdown_warn_pct),
    ):
        if drawdown >= threshold:
            return tier, threshold
    return DrawdownTier.NONE, None


_TIER_WORDS = {
    DrawdownTier.WARN: "the warn tier",
    DrawdownTier.REDUCING: "the REDUCING tier",
    DrawdownTier.HALT: "the max drawdown (flatten and HALT)",
}


@dataclass(frozen=True)
class AccountTiers:
    """Where an account stands against the drawdown tiers and the daily loss limit, with reasons."""

    drawdown_pct: Decimal
    drawdown_tier: DrawdownTier
    drawdown_reason: str
    daily_loss_pct: Decimal
    daily_loss_hit: bool
    daily_loss_reason: str
    day: date
    next_day_start: datetime
    proposed_state: TradingState | None  # the state to escalate to, None: no change asked
    emergency_stop: bool  # True: run the emergency stop (flatten everything) now


def evaluate_account_tiers(
    limits: RiskLimits,
    equity: Decimal,
    day_start_equity: Decimal,
    peak_equity: Decimal,
    now: datetime,
    tz: tzinfo | str | None = None,
) -> AccountTiers:
    """Grade the account's drawdown from peak and its loss on the day (``tz`` defaults to the limits')."""
    zone = limits.zone() if tz is None else _zone(tz)
    drawdown = drawdown_pct(equity, peak_equity)
    tier, _ = drawdown_tier(limits, drawdown)
    loss = daily_loss_pct(equity, day_start_equity)
    hit = loss >= limits.daily_loss_limit_pct
    resumes = next_day_start(now, zone)
    halt = tier is DrawdownTier.HALT or (hit and limits.auto_emergency_on_daily_loss)
    proposed = TradingState.HALTED if halt else TradingState.REDUCING if tier is DrawdownTier.REDUCING else None
    emergency = (tier is DrawdownTier.HALT and limits.auto_emergency_on_drawdown) or (
        hit and limits.auto_emergency_on_daily_loss
    )
    return AccountTiers(
        drawdown_pct=drawdown,
        drawdown_tier=tier,
        drawdown_reason=drawdown_reason(limits, drawdown, equity, peak_equity),
        daily_loss_pct=loss,
        daily_loss_hit=hit,
        daily_loss_reason=daily_loss_reason(limits, loss, day_start_equity, resumes),
        day=risk_day(now, zone),
        next_day_start=resumes,
        proposed_state=proposed,
        emergency_stop=emergency,
    )


def drawdown_reason(limits: RiskLimits, drawdown: Decimal, equity: Decimal, peak: Decimal) -> str:
    """Describe a drawdown against the tiers."""
    tier, threshold = drawdown_tier(limits, drawdown)
    head = f"drawdown {fmt_pct(drawdown)} % from peak {fmt_money(peak)} USDT (equity {fmt_money(equity)} USDT)"
    if tier is DrawdownTier.NONE or threshold is None:
        return f"{head} is below the warn tier {fmt_number(limits.drawdown_warn_pct)} %"
    return f"{head} reached {_TIER_WORDS[tier]} {fmt_number(threshold)} %"


def daily_loss_reason(limits: RiskLimits, loss: Decimal, day_start_equity: Decimal, resumes: datetime) -> str:
    """Describe the day's loss against the daily limit."""
    limit = f"the daily loss limit {fmt_number(limits.daily_loss_limit_pct)} %"
    if loss < 0:
        return f"up {fmt_pct(-loss)} % on the day's opening equity {fmt_money(day_start_equity)} USDT"
    head = f"day loss {fmt_pct(loss)} % of the day's opening equity {fmt_money(day_start_equity)} USDT"
    if loss >= limits.daily_loss_limit_pct:
        return f"{head} reached {limit}; new risk resumes at {resumes:%Y-%m-%d %H:%M} UTC"
    return f"{head} is within {limit}"
