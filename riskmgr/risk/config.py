"""RiskLimits: every risk limit in one frozen, validated object (defaults from ARCHITECTURE.md).

Percentages are plain percent figures (``Decimal("1.5")`` means 1.5 %), money is USDT in Decimal.
``FIELDS`` gives each field's type, unit, allowed range and help text, in field order, for validation
and for rendering the Risk page form. A ``RiskLimits`` can only exist valid:
construction, ``from_mapping``, ``with_changes`` and ``from_env`` all check every field's type and
range and the cross-field rules, raising ``ValidationError`` (``ConfigError`` for the environment).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from riskmgr.core.errors import ConfigError, ValidationError
from riskmgr.core.labels import limit_label
from riskmgr.core.validation import NAME_MAX, ZONE_MAX, shown

UNPROTECTED_POLICIES = ("alert", "reducing", "close")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class LimitField:
    """One row of the limits table: how a field is typed, bounded and explained."""

    name: str
    kind: str  # "decimal" | "int" | "bool" | "choice" | "timezone"
    unit: str
    min: Decimal | None
    max: Decimal | None
    help: str
    choices: tuple[str, ...] = ()

    def allowed(self) -> str:
        """Describe the allowed values, e.g. ``0.01–10 %``."""
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "timezone":
            return "an IANA time zone such as UTC or Europe/Berlin"
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.min}–{self.max}{unit}"

    def as_dict(self) -> dict[str, Any]:
        """Return the row in JSON-safe form for the Risk page and /api/risk."""
        return {
            "name": self.name,
            "type": self.kind,
            "unit": self.unit,
            "min": None if self.min is None else str(self.min),
            "max": None if self.max is None else str(self.max),
            "help": self.help,
            "choices": list(self.choices),
        }


@dataclass(frozen=True)
class RiskLimits:
    """Every risk limit in force. Build with ``from_mapping``/``from_env``; change with ``with_changes``."""

    risk_per_trade_pct: Decimal = Decimal("1.5")
    max_leverage: int = 5
    daily_loss_limit_pct: Decimal = Decimal(3)
    drawdown_warn_pct: Decimal = Decimal(3)
    drawdown_reducing_pct: Decimal = Decimal(4)
    max_drawdown_pct: Decimal = Decimal(5)
    max_open_positions: int = 5
    max_position_notional: Decimal = Decimal(1000)
    min_notional_floor: Decimal = Decimal(5)
    default_stop_pct: Decimal = Decimal("1.5")
    default_target_pct: Decimal = Decimal("3.75")
    emergency_close_pct: Decimal = Decimal(5)
    level_high_pct: Decimal = Decimal("2.5")
    level_critical_pct: Decimal = Decimal(5)
    level_profitable_pct: Decimal = Decimal(3)
    partial_tp_enabled: bool = False
    partial_tp_fraction_pct: Decimal = Decimal(50)
    partial_tp_trigger_pct: Decimal = Decimal(3)
    max_consecutive_losses: int = 3
    loss_cooldown_minutes: int = 60
    min_reward_risk: Decimal = Decimal(2)
    min_stop_cost_multiple: Decimal = Decimal(3)
    taker_fee_estimate_pct: Decimal = Decimal("0.06")
    slippage_estimate_pct: Decimal = Decimal("0.05")
    min_signal_confidence: int = 75
    signal_cooldown_minutes: int = 5
    stale_after_seconds: int = 30
    risk_day_timezone: str = "UTC"
    auto_trade_daily_cap: int = 10
    unprotected_policy: str = "alert"
    auto_emergency_on_drawdown: bool = True
    auto_emergency_on_daily_loss: bool = False
    auto_close_on_emergency: bool = True

    def __post_init__(self) -> None:
        for spec in FIELDS:
            _check_value(spec, getattr(self, spec.name))
        _check_cross_fields(self)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> RiskLimits:
        """Build limits from defaults plus ``data`` (e.g. JSON); raise ValidationError naming the field."""
        return cls().with_changes(**dict(data))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RiskLimits:
        """Build limits from defaults plus ``RISK_<FIELD>`` variables; raise ConfigError on a bad value."""
        env = os.environ if env is None else env
        known = {_env_name(spec.name): spec.name for spec in FIELDS}
        # a misspelt override would silently leave a risk limit at its default, so refuse it
        unknown = sorted(key for key in env if key.startswith("RISK_") and key not in known)
        if unknown:
            raise ConfigError(f"{unknown[0]} is not a risk limit; risk limits are RISK_<FIELD>, e.g. RISK_MAX_LEVERAGE")
        raw = {name: env[key].strip() for key, name in known.items() if key in env and env[key].strip() != ""}
        try:
            return cls.from_mapping(raw)
        except ValidationError as exc:
            given = f"={raw[exc.field]!r}" if exc.field in raw else ""
            raise ConfigError(f"{_env_name(exc.field)}{given}: {exc.message}") from None

    def with_changes(self, **changes: Any) -> RiskLimits:
        """Return a copy with some fields changed, every value and cross-field rule validated."""
        typed = {name: _coerce(_field(name), value) for name, value in changes.items()}
        return replace(self, **typed)

    def to_dict(self) -> dict[str, Any]:
        """Return every field JSON-safe (Decimals as strings)."""
        return {spec.name: _json_safe(getattr(self, spec.name)) for spec in FIELDS}

    def diff(self, other: RiskLimits) -> dict[str, tuple[Any, Any]]:
        """Return {field: (old, new)} for the fields that differ in ``other`` (JSON-safe, for the audit log)."""
        old, new = self.to_dict(), other.to_dict()
        return {name: (old[name], new[name]) for name in old if old[name] != new[name]}

    def zone(self) -> ZoneInfo:
        """Return the risk day's time zone."""
        return ZoneInfo(self.risk_day_timezone)


def _row(
    name: str, kind: str, unit: str, lo: str | None, hi: str | None, help_text: str, choices: tuple[str, ...] = ()
) -> LimitField:
    low = None if lo is None else Decimal(lo)
    high = None if hi is None else Decimal(hi)
    return LimitField(name, kind, unit, low, high, help_text, choices)


# The limits table, in RiskLimits field order (a test keeps the two in step).
FIELDS: tuple[LimitField, ...] = (
    _row("risk_per_trade_pct", "decimal", "%", "0.01", "10", "Equity lost if the stop is hit; sizes orders."),
    _row("max_leverage", "int", "x", "1", "125", "Leverage setting and account notional / equity."),
    _row("daily_loss_limit_pct", "decimal", "%", "0.1", "50", "Loss vs the day's opening equity: no new risk."),
    _row("drawdown_warn_pct", "decimal", "%", "0.1", "50", "Drawdown from peak equity that warns."),
    _row("drawdown_reducing_pct", "decimal", "%", "0.1", "50", "Drawdown from peak that sets REDUCING."),
    _row("max_drawdown_pct", "decimal", "%", "0.5", "50", "Drawdown from peak that flattens and HALTs."),
    _row("max_open_positions", "int", "", "1", "100", "Open positions at most (adding is not new)."),
    _row("max_position_notional", "decimal", "USDT", "5", "10000000", "Largest position notional."),
    _row("min_notional_floor", "decimal", "USDT", "5", "100000", "Smallest order notional on any exchange."),
    _row("default_stop_pct", "decimal", "%", "0.1", "20", "Default stop-loss distance from entry."),
    _row("default_target_pct", "decimal", "%", "0.1", "100", "Default take-profit distance from entry."),
    _row("emergency_close_pct", "decimal", "%", "0.5", "50", "Move against entry that closes a position."),
    _row("level_high_pct", "decimal", "%", "0.1", "50", "Move against entry beyond which a position is HIGH."),
    _row("level_critical_pct", "decimal", "%", "0.1", "50", "Move against entry beyond which it is CRITICAL."),
    _row("level_profitable_pct", "decimal", "%", "0.1", "100", "Move in favour beyond which it is PROFITABLE."),
    _row("partial_tp_enabled", "bool", "", None, None, "Take part of a winning position off."),
    _row("partial_tp_fraction_pct", "decimal", "%", "1", "99", "Share of the position the partial TP closes."),
    _row("partial_tp_trigger_pct", "decimal", "%", "0.1", "100", "Move in favour that takes the partial TP."),
    _row("max_consecutive_losses", "int", "", "1", "20", "Losing closes in a row that start a cooldown."),
    _row("loss_cooldown_minutes", "int", "min", "1", "10080", "Pause in new entries after the losing streak."),
    _row("min_reward_risk", "decimal", ":1", "0.5", "20", "Least reward:risk of an entry."),
    _row("min_stop_cost_multiple", "decimal", "x", "1", "50", "Least stop distance, in round-trip costs."),
    _row("taker_fee_estimate_pct", "decimal", "%", "0", "1", "Taker fee assumed where the venue's is unknown."),
    _row("slippage_estimate_pct", "decimal", "%", "0", "2", "Slippage per fill assumed on live venues."),
    _row("min_signal_confidence", "int", "%", "0", "100", "Least signal confidence to act on."),
    _row("signal_cooldown_minutes", "int", "min", "0", "1440", "Pause between signals on one symbol."),
    _row("stale_after_seconds", "int", "s", "5", "3600", "Account data older than this blocks new risk."),
    _row("risk_day_timezone", "timezone", "", None, None, "Time zone in which the risk day starts."),
    _row("auto_trade_daily_cap", "int", "trades", "0", "1000", "Automatic entries per risk day at most."),
    _row("unprotected_policy", "choice", "", None, None, "Action on a position without a stop.", UNPROTECTED_POLICIES),
    _row("auto_emergency_on_drawdown", "bool", "", None, None, "Emergency stop at the max drawdown."),
    _row("auto_emergency_on_daily_loss", "bool", "", None, None, "Emergency stop at the daily loss limit."),
    _row("auto_close_on_emergency", "bool", "", None, None, "Close at CRITICAL / emergency move (else alert)."),
)
_BY_NAME = {spec.name: spec for spec in FIELDS}


def field_table() -> list[dict[str, Any]]:
    """Return the limits table (name, label, type, unit, min, max, help, choices, default) for forms and the API."""
    defaults = RiskLimits().to_dict()
    return [spec.as_dict() | {"default": defaults[spec.name], "label": limit_label(spec.name)} for spec in FIELDS]


def _env_name(name: str) -> str:
    return f"RISK_{name.upper()}"


def _field(name: str) -> LimitField:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValidationError(str(name)[:NAME_MAX], "is not a risk limit") from None


def _json_safe(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def _bad(spec: LimitField, value: Any, problem: str) -> ValidationError:
    return ValidationError(spec.name, f"{shown(value)} {problem}; allowed {spec.allowed()}")


def _coerce(spec: LimitField, value: Any) -> Any:
    """Turn a raw value (JSON, form or environment text) into the field's type; ranges are checked later."""
    if spec.kind == "decimal":
        return _coerce_decimal(spec, value)
    if spec.kind == "int":
        return _coerce_int(spec, value)
    if spec.kind == "bool":
        return _coerce_bool(spec, value)
    if isinstance(value, str) and len(value.strip()) <= ZONE_MAX:
        return value.strip().lower() if spec.kind == "choice" else value.strip()
    raise _bad(spec, value, f"is not text of at most {ZONE_MAX} characters")


def _coerce_decimal(spec: LimitField, value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float | str):
        raise _bad(spec, value, "is not a number")
    try:
        # str() first so a JSON float 1.1 becomes Decimal("1.1"), not its binary expansion
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise _bad(spec, value, "is not a number") from None
    if not number.is_finite():
        raise _bad(spec, value, "is not a finite number")
    return number


def _coerce_int(spec: LimitField, value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    number = _coerce_decimal(spec, value)
    if number != number.to_integral_value():
        raise _bad(spec, value, "is not a whole number")
    return int(number)


def _coerce_bool(spec: LimitField, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise _bad(spec, value, "is not a boolean")


_TYPES: dict[str, tuple[type, ...]] = {"decimal": (Decimal,), "int": (int,), "bool": (bool,)}


def _check_value(spec: LimitField, value: Any) -> None:
    """Check one typed value against its field's type and range."""
    expected = _TYPES.get(spec.kind, (str,))
    if not isinstance(value, expected) or (spec.kind != "bool" and isinstance(value, bool)):
        raise _bad(spec, value, f"has the wrong type {type(value).__name__}")
    if spec.kind in ("decimal", "int"):
        if not (isinstance(value, Decimal | int) and _in_range(spec, value)):
            raise _bad(spec, value, "is out of range")
    elif spec.kind == "choice" and value not in spec.choices:
        raise _bad(spec, value, "is not allowed")
    elif spec.kind == "timezone":
        try:
            ZoneInfo(str(value))
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file name
            raise _bad(spec, value, "is not a known time zone") from None


def _in_range(spec: LimitField, value: Decimal | int) -> bool:
    if isinstance(value, Decimal) and not value.is_finite():
        return False
    above_min = spec.min is None or value >= spec.min
    below_max = spec.max is None or value <= spec.max
    return above_min and below_max


def _check_cross_fields(limits: RiskLimits) -> None:
    """Check the rules that relate fields to each other; name the field to change in the error."""
    checks: list[tuple[bool, str, str]] = [
        (
            limits.drawdown_warn_pct < limits.drawdown_reducing_pct,
            "drawdown_warn_pct",
            f"warn tier {limits.drawdown_warn_pct} % must be below the REDUCING tier {limits.drawdown_reducing_pct} %",
        ),
        (
            limits.drawdown_reducing_pct < limits.max_drawdown_pct,
            "drawdown_reducing_pct",
            f"REDUCING tier {limits.drawdown_reducing_pct} % must be below the max drawdown "
            f"{limits.max_drawdown_pct} % (HALTED)",
        ),
        (
            limits.daily_loss_limit_pct < limits.max_drawdown_pct,
            "daily_loss_limit_pct",
            f"daily loss limit {limits.daily_loss_limit_pct} % must be below the max drawdown "
            f"{limits.max_drawdown_pct} %",
        ),
        (
            limits.risk_per_trade_pct <= limits.daily_loss_limit_pct,
            "risk_per_trade_pct",
            f"risk per trade {limits.risk_per_trade_pct} % must not exceed the daily loss limit "
            f"{limits.daily_loss_limit_pct} %",
        ),
        (
            limits.default_stop_pct < limits.emergency_close_pct,
            "default_stop_pct",
            f"default stop {limits.default_stop_pct} % must be below the emergency close "
            f"{limits.emergency_close_pct} %",
        ),
        (
            limits.default_target_pct >= limits.default_stop_pct * limits.min_reward_risk,
            "default_target_pct",
            f"default target {limits.default_target_pct} % must be at least {limits.min_reward_risk} x the default "
            f"stop {limits.default_stop_pct} % (min reward:risk)",
        ),
        (
            limits.level_high_pct < limits.level_critical_pct,
            "level_critical_pct",
            f"CRITICAL level {limits.level_critical_pct} % must be beyond the HIGH level {limits.level_high_pct} %",
        ),
        (
            limits.min_notional_floor <= limits.max_position_notional,
            "max_position_notional",
            f"max position notional {limits.max_position_notional} USDT must not be below the min notional floor "
            f"{limits.min_notional_floor} USDT",
        ),
    ]
    for ok, name, message in checks:
        if not ok:
            raise ValidationError(name, message)
