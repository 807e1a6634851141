"""Human words for machine names and numbers: rule and limit labels, durations, amounts and times in sentences.

One mapping in one place: the pages receive ``label`` next to every rule or limit name (the name stays in the
data, shown on hover), and ``GET /api/labels`` hands the whole table to scripts that show names of their own.
Amounts are formatted from Decimals as text (never through float).
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

# Risk rules (Verdict.rule), the gate's own checks and the signal pipeline's reasons.
RULE_LABELS: dict[str, str] = {
    "trading_state": "Trading state",
    "data_fresh": "Fresh account data",
    "daily_loss": "Daily loss limit",
    "daily_headroom": "Daily loss headroom",
    "drawdown": "Drawdown from peak",
    "max_open_positions": "Open positions",
    "max_leverage": "Maximum leverage",
    "max_position_notional": "Position size limit",
    "risk_per_trade": "Risk per trade",
    "min_stop_distance": "Minimum stop distance",
    "stop_required": "Stop-loss required",
    "reward_risk": "Reward to risk",
    "liquidation_beyond_stop": "Liquidation beyond the stop",
    "consecutive_losses": "Losing-streak cooldown",
    "risk_rules": "Risk limits",
    "order_gate": "Order gate",
    "insufficient_margin": "Available margin",
    "invalid_signal": "Signal levels",
    "signal_cooldown": "Signal cooldown",
    "auto_trade_daily_cap": "Daily cap on automatic trades",
    "conservative": "Conservative signal filter",
    # automatic emergency-stop triggers (riskmgr/risk/emergency/triggers.py)
    "critical_unprotected": "CRITICAL position without a stop",
    "failed_polls": "Failed polls",
    "stale_data": "Stale account data",
}

# Risk limits (RiskLimits fields).
LIMIT_LABELS: dict[str, str] = {
    "risk_per_trade_pct": "Risk per trade",
    "max_leverage": "Maximum leverage",
    "daily_loss_limit_pct": "Daily loss limit",
    "drawdown_warn_pct": "Drawdown warning",
    "drawdown_reducing_pct": "Drawdown that sets REDUCING",
    "max_drawdown_pct": "Maximum drawdown",
    "max_open_positions": "Open positions at most",
    "max_position_notional": "Largest position",
    "min_notional_floor": "Smallest order",
    "default_stop_pct": "Default stop-loss distance",
    "default_target_pct": "Default take-profit distance",
    "emergency_close_pct": "Emergency close move",
    "level_high_pct": "HIGH risk level from",
    "level_critical_pct": "CRITICAL risk level from",
    "level_profitable_pct": "PROFITABLE level from",
    "partial_tp_enabled": "Partial take-profit",
    "partial_tp_fraction_pct": "Partial take-profit share",
    "partial_tp_trigger_pct": "Partial take-profit trigger",
    "max_consecutive_losses": "Losing closes before a cooldown",
    "loss_cooldown_minutes": "Cooldown after a losing streak",
    "min_reward_risk": "Minimum reward to risk",
    "min_stop_cost_multiple": "Minimum stop distance in costs",
    "taker_fee_estimate_pct": "Assumed taker fee",
    "slippage_estimate_pct": "Assumed slippage",
    "min_signal_confidence": "Minimum signal confidence",
    "signal_cooldown_minutes": "Signal cooldown",
    "stale_after_seconds": "Data counts as stale after",
    "risk_day_timezone": "Risk day time zone",
    "auto_trade_daily_cap": "Automatic entries per day",
    "unprotected_policy": "Action on a position without a stop",
    "auto_emergency_on_drawdown": "Emergency stop at maximum drawdown",
    "auto_emergency_on_daily_loss": "Emergency stop at the daily loss limit",
    "auto_close_on_emergency": "Close at CRITICAL / emergency move",
}

USDT_PLACES = 2


def _fallback(name: str) -> str:
    words = str(name).replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else "—"


def rule_label(name: str) -> str:
    """Return the human label of a rule name ("max_leverage" -> "Maximum leverage"); unknown names get spaces."""
    return RULE_LABELS.get(name) or _fallback(name)


def limit_label(name: str) -> str:
    """Return the human label of a risk limit field ("risk_per_trade_pct" -> "Risk per trade")."""
    return LIMIT_LABELS.get(name) or _fallback(name)


def label_table() -> dict[str, dict[str, str]]:
    """Return every label, for scripts that show names of their own (``GET /api/labels``)."""
    return {"rules": dict(RULE_LABELS), "limits": dict(LIMIT_LABELS)}


def human_duration(seconds: float | Decimal) -> str:
    """Say an age or a span the way a person would: "0.4 s", "2.0 s", "45 s", "12 min", "3.5 h", "2.0 d"."""
    value = float(seconds)
    sign, value = ("-" if value < 0 else ""), abs(value)
    if value < 10:
        text = f"{value:.1f} s"
    elif value < 90:
        text = f"{value:.0f} s"
    elif value < 90 * 60:
        text = f"{value / 60:.0f} min"
    elif value < 48 * 3600:
        text = f"{value / 3600:.1f} h"
    else:
        text = f"{value / 86400:.1f} d"
    return sign + text


def amount(value: Decimal, places: int = USDT_PLACES, unit: str = "USDT") -> str:
    """Format money with thousands separators, fixed places and its unit ("9,997.43 USDT")."""
    shown = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    text = f"{shown:,.{places}f}"
    if text.startswith("-") and shown == 0:
        text = text[1:]
    return f"{text} {unit}".rstrip()


def price_at_tick(value: Decimal, tick: Decimal | None) -> str:
    """Format a price with as many places as the market's tick ("0.5234" for tick 0.0001); no tick: as given."""
    if tick is None or tick <= 0:
        return f"{value.normalize():f}"
    places = max(-tick.normalize().as_tuple().exponent, 0)  # type: ignore[operator]  # tick > 0 is finite: an int exponent
    return f"{value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN):,.{places}f}"


def sentence_time(moment: datetime) -> str:
    """Say a moment inside a sentence in the one date format, in its own zone ("2026-12-03 00:00:00 UTC"), not ISO."""
    return moment.strftime("%Y-%m-%d %H:%M:%S ") + (moment.tzname() or "UTC")


def when(moment: datetime, zone: str, now: datetime | None = None) -> str:
    """Say a moment in the display zone: "14:40:53 UTC" today, "2026-12-01 14:40:53 UTC" on another day."""
    local = moment.astimezone(ZoneInfo(zone))
    if now is not None and now.astimezone(ZoneInfo(zone)).date() == local.date():
        return local.strftime(f"%H:%M:%S {zone}")
    return local.strftime(f"%Y-%m-%d %H:%M:%S {zone}")
