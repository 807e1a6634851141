"""The settings of one backtest run, validated: every bad value raises ``ValidationError`` naming the field.

A request names a preset (its settings are the base) and may override any field; ``limits``, ``signal`` and
``contract`` are merged key by key. Money and percentages are Decimal; fees and the commission are percent
figures (``0.05`` means 0.05 %), slippage is in basis points. Naive times are read in ``timezone``. Only an absent
setting (or null) takes the preset's or the default value: ``""``, ``0`` and ``false`` are values and are checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

from riskmgr.backtest.account import EngineConfig
from riskmgr.core.domain import ZERO
from riskmgr.core.errors import ValidationError
from riskmgr.core.formatting import dec
from riskmgr.core.validation import NAME_MAX, SYMBOL_MAX, opt_int, opt_str, req_decimal, req_str, shown, zone
from riskmgr.exchanges.fills import FillModel
from riskmgr.market.base import TIMEFRAME_SECONDS
from riskmgr.risk.config import RiskLimits
from riskmgr.signals.indicators import IndicatorParams
from riskmgr.signals.params import SignalParams

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_Settings = TypeVar("_Settings", bound="DataclassInstance")

STRATEGIES = ("signals", "sma_cross")
ENTRY_ORDERS = ("market", "limit")
REARM = ("never", "next_day")
MAX_BARS = 2_000_000
DEFAULT_DAYS = 30
FEE_MAX_PCT = Decimal(10)  # any fee above this is a typo, whatever the strategy
FILL_MODEL_MAX_PCT = Decimal(1)  # the paper exchange's fill model allows 0-1 %
CONTRACT_FIELDS = ("qty_step", "price_tick", "min_qty", "min_notional", "maintenance_margin_rate", "max_leverage")
HUNDRED = Decimal(100)
MAX_CAPITAL = Decimal(10) ** 9


@dataclass(frozen=True)
class BacktestParams:
    """Everything one run needs, valid by construction (built by ``parse_params``)."""

    strategy: str
    source: str
    symbol: str
    timeframe: str
    start: datetime
    end: datetime
    timezone: str
    capital: Decimal
    taker_fee_pct: Decimal
    maker_fee_pct: Decimal
    slippage_bps: Decimal
    funding_pct_8h: Decimal
    leverage: int
    entry_order: str
    rearm: str
    limits: RiskLimits
    signal: SignalParams
    sma_fast: int
    sma_slow: int
    commission_pct: Decimal
    dataset_id: int | None
    contract: dict[str, Decimal]

    @property
    def bar_ms(self) -> int:
        return TIMEFRAME_SECONDS[self.timeframe] * 1000

    def fill_model(self) -> FillModel:
        """Return the paper exchange's fill model with this run's fees and slippage."""
        return FillModel(self.taker_fee_pct / HUNDRED, self.maker_fee_pct / HUNDRED, self.slippage_bps)

    def engine_config(self) -> EngineConfig:
        """Return the account and execution settings of the signal engine."""
        return EngineConfig(
            symbol=self.symbol, timeframe=self.timeframe, limits=self.limits, fill=self.fill_model(),
            capital=self.capital, leverage=self.leverage, funding_rate=self.funding_pct_8h / HUNDRED,
            limit_entries=self.entry_order == "limit", validity_bars=self.signal.valid_bars,
            rearm_next_day=self.rearm == "next_day",
        )

    def to_dict(self) -> dict[str, Any]:
        """Return every setting JSON-safe; ``parse_params`` reads it back to the same settings."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Decimal):
                value = dec(value)
            elif isinstance(value, datetime):
                value = value.isoformat()
            out[f.name] = value
        out["limits"] = self.limits.to_dict()
        out["signal"] = signal_dict(self.signal)
        out["contract"] = {k: dec(v) for k, v in self.contract.items()}
        return out


def signal_dict(p: SignalParams) -> dict[str, Any]:
    """Return signal settings JSON-safe, the indicator periods under ``indicators`` (timeframe left out)."""
    out = {f.name: getattr(p, f.name) for f in fields(p) if f.name != "indicators"}
    out["indicators"] = {f.name: getattr(p.indicators, f.name) for f in fields(p.indicators) if f.name != "timeframe"}
    return out


def merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``overrides`` on top; the nested settings groups merge key by key."""
    out = dict(base)
    for key, value in overrides.items():
        if key in ("limits", "signal", "contract") and isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            inner = dict(out[key])
            for k, v in value.items():
                if k == "indicators" and isinstance(v, Mapping) and isinstance(inner.get(k), Mapping):
                    inner[k] = {**inner[k], **v}
                else:
                    inner[k] = v
            out[key] = inner
        else:
            out[key] = value
    return out


def parse_params(data: Mapping[str, Any], now: datetime) -> BacktestParams:
    """Validate a merged settings mapping into ``BacktestParams``; the first bad field raises."""
    known = {f.name for f in fields(BacktestParams)} | {"preset", "name"}
    for key in data:
        if key not in known:
            raise ValidationError(str(key)[:NAME_MAX], f"is not a backtest setting; known: {', '.join(sorted(known))}")
    opt_str(data, "name", max_len=NAME_MAX)
    strategy = _choice(data, "strategy", STRATEGIES)
    timeframe = _choice(data, "timeframe", tuple(TIMEFRAME_SECONDS))
    zone = _timezone(data)
    start, end = _range(data, zone, timeframe, now)
    fees = {name: _decimal(data, name, ZERO, FEE_MAX_PCT) for name in ("taker_fee_pct", "maker_fee_pct")}
    if strategy == "signals":
        for name, value in fees.items():
            if value > FILL_MODEL_MAX_PCT:
                raise ValidationError(name, f"{value} % is above {FILL_MODEL_MAX_PCT} %, the most the paper exchange's "
                                            "fill model allows")
    fast, slow = _int(data, "sma_fast", 2, 500), _int(data, "sma_slow", 3, 1000)
    if slow <= fast:
        raise ValidationError("sma_slow", f"{slow} must be longer than the fast SMA ({fast})")
    return BacktestParams(
        strategy=strategy, source=_text(data, "source"), symbol=req_str(data, "symbol", max_len=SYMBOL_MAX),
        timeframe=timeframe,
        start=start, end=end, timezone=zone.key, capital=_capital(data), taker_fee_pct=fees["taker_fee_pct"],
        maker_fee_pct=fees["maker_fee_pct"], slippage_bps=_decimal(data, "slippage_bps", ZERO, Decimal(100)),
        funding_pct_8h=_decimal(data, "funding_pct_8h", Decimal(-1), Decimal(1)),
        leverage=_int(data, "leverage", 1, 125), entry_order=_choice(data, "entry_order", ENTRY_ORDERS),
        rearm=_choice(data, "rearm", REARM), limits=_limits(data.get("limits")),
        signal=_signal(data.get("signal"), timeframe), sma_fast=fast, sma_slow=slow,
        commission_pct=_decimal(data, "commission_pct", ZERO, FEE_MAX_PCT), dataset_id=_dataset(data),
        contract=_contract(data.get("contract")),
    )


# -- fields ---------------------------------------------------------------------------------------------------


def _text(data: Mapping[str, Any], name: str) -> str:
    return req_str(data, name, max_len=NAME_MAX)


def _choice(data: Mapping[str, Any], name: str, choices: tuple[str, ...]) -> str:
    return req_str(data, name, list(choices))


def _decimal(data: Mapping[str, Any], name: str, lo: Decimal, hi: Decimal) -> Decimal:
    if isinstance(data.get(name), bool):
        raise ValidationError(name, "must be a number")
    return req_decimal(data, name, lo=lo, hi=hi)


def _int(data: Mapping[str, Any], name: str, lo: int, hi: int) -> int:
    raw = data.get(name)
    if isinstance(raw, bool):
        raise ValidationError(name, f"{raw!r} is not a whole number; allowed {lo}–{hi}")
    value = opt_int(data, name, lo, hi)
    if value is None:
        raise ValidationError(name, "is required")
    return value


def _capital(data: Mapping[str, Any]) -> Decimal:
    value = req_decimal(data, "capital")
    if value <= 0:
        raise ValidationError("capital", f"{value} USDT must be above 0")
    if value > MAX_CAPITAL:
        raise ValidationError("capital", f"{value} USDT is above the {MAX_CAPITAL} USDT a backtest allows")
    return value


def _timezone(data: Mapping[str, Any]) -> ZoneInfo:
    return zone(data.get("timezone"), "timezone")


def _time(data: Mapping[str, Any], name: str, zone: ZoneInfo) -> datetime | None:
    raw = data.get(name)
    if raw is None:
        return None
    if isinstance(raw, datetime):
        value = raw
    else:
        if not isinstance(raw, str) or len(raw) > 40:
            raise ValidationError(name, f"{shown(raw)} is not a time such as 2025-01-31T12:00 (ISO 8601)")
        try:
            value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(name, f"{shown(raw)} is not a time such as 2025-01-31T12:00 (ISO 8601)") from None
    return (value if value.tzinfo else value.replace(tzinfo=zone)).astimezone(UTC)


def _range(data: Mapping[str, Any], zone: ZoneInfo, timeframe: str, now: datetime) -> tuple[datetime, datetime]:
    step = timedelta(seconds=TIMEFRAME_SECONDS[timeframe])
    end = _time(data, "end", zone)
    if end is None:  # default: up to the last whole bar
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        end = epoch + (now - epoch) // step * step
    start = _time(data, "start", zone) or end - timedelta(days=DEFAULT_DAYS)
    if end > now:
        raise ValidationError("end", f"{end.isoformat()} is in the future (now {now.isoformat()})")
    if start >= end:
        raise ValidationError("end", f"the range is empty: end {end.isoformat()} must be after start "
                                     f"{start.isoformat()}")
    bars = (end - start) // step
    if bars < 1:
        raise ValidationError("end", f"the range {start.isoformat()} – {end.isoformat()} holds no whole "
                                     f"{timeframe} bar")
    if bars > MAX_BARS:
        raise ValidationError("start", f"the range holds {bars} {timeframe} bars; at most {MAX_BARS} are allowed")
    return start, end


def _dataset(data: Mapping[str, Any]) -> int | None:
    if data.get("dataset_id") is None:
        if data.get("source") == "csv":
            raise ValidationError("dataset_id", "is required for a CSV source; upload a CSV file first")
        return None
    return _int(data, "dataset_id", 1, 2**31 - 1)


def _limits(raw: Any) -> RiskLimits:
    if raw is None:
        return RiskLimits()
    if not isinstance(raw, Mapping):
        raise ValidationError("limits", "must be an object of risk limits")
    try:
        return RiskLimits.from_mapping(raw)
    except ValidationError as exc:
        raise ValidationError(f"limits.{exc.field}", exc.message) from None


def _coerce(name: str, default: Any, raw: Any) -> Any:
    """Turn JSON or form text into the type of the setting's default (int or float)."""
    number = _decimal({name: raw}, name, -MAX_CAPITAL, MAX_CAPITAL)
    if isinstance(default, int):
        if number != number.to_integral_value():
            raise ValidationError(name, f"{raw!r} is not a whole number")
        return int(number)
    return float(number)


def _dataclass_from(cls: type[_Settings], raw: Mapping[str, Any], prefix: str, fixed: dict[str, Any]) -> _Settings:
    defaults = cls()
    values: dict[str, Any] = dict(fixed)
    names = {f.name for f in fields(cls)}
    for key, value in raw.items():
        if key not in names or key in fixed:
            raise ValidationError(f"{prefix}{key}"[:NAME_MAX], "is not a setting of this group")
        values[key] = _coerce(f"{prefix}{key}", getattr(defaults, key), value)
    try:
        return cls(**values)
    except ValidationError as exc:
        raise ValidationError(f"{prefix}{exc.field}", exc.message) from None


def _signal(raw: Any, timeframe: str) -> SignalParams:
    raw = {} if raw is None else raw
    if not isinstance(raw, Mapping):
        raise ValidationError("signal", "must be an object of signal settings")
    indicators_raw = {} if raw.get("indicators") is None else raw["indicators"]
    if not isinstance(indicators_raw, Mapping):
        raise ValidationError("signal.indicators", "must be an object of indicator periods")
    indicators = _dataclass_from(IndicatorParams, indicators_raw, "signal.indicators.", {"timeframe": timeframe})
    rest = {k: v for k, v in raw.items() if k != "indicators"}
    return _dataclass_from(SignalParams, rest, "signal.", {"indicators": indicators})


def _contract(raw: Any) -> dict[str, Decimal]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ValidationError("contract", "must be an object of contract figures")
    out: dict[str, Decimal] = {}
    bounds = {"max_leverage": (Decimal(1), Decimal(1000)), "maintenance_margin_rate": (ZERO, Decimal("0.5"))}
    for key, value in raw.items():
        if key not in CONTRACT_FIELDS:
            raise ValidationError(f"contract.{key}"[:NAME_MAX], f"is not a contract figure; one of "
                                                                f"{', '.join(CONTRACT_FIELDS)}")
        if value is None:
            continue
        number = _decimal({f"contract.{key}": value}, f"contract.{key}", -MAX_CAPITAL, MAX_CAPITAL)
        lo, hi = bounds.get(key, (ZERO, MAX_CAPITAL))
        positive = key in ("qty_step", "price_tick")
        if number < lo or number > hi or (positive and number <= 0):
            raise ValidationError(f"contract.{key}", f"{number} is out of range; allowed {'above ' if positive else ''}"
                                                     f"{lo}–{hi}")
        out[key] = number
    return out
