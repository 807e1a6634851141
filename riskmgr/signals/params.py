"""Signal rule settings (validated, frozen) and the reason codes a bar can be rejected with."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta
from enum import IntEnum

from riskmgr.core.errors import ValidationError
from riskmgr.signals.indicators import IndicatorParams


class Reason(IntEnum):
    """Why a bar is not an actionable signal; the first rule that fails is reported."""

    OK = 0
    WARMUP = 1
    NO_TREND = 2
    WEAK_TREND = 3
    VOLATILITY = 4
    RSI = 5
    BAND = 6
    LOW_CONFIDENCE = 7


REASON_TEXT: dict[int, str] = {
    Reason.OK: "all confirmations passed",
    Reason.WARMUP: "not enough history yet for every indicator",
    Reason.NO_TREND: "higher-timeframe EMAs are not stacked in one direction",
    Reason.WEAK_TREND: "trend too weak (ADX below the minimum)",
    Reason.VOLATILITY: "volatility out of bounds (ATR as % of price)",
    Reason.RSI: "RSI outside the band for the trade direction (stretched, or momentum against the trade)",
    Reason.BAND: "price beyond the Bollinger band in the trade direction",
    Reason.LOW_CONFIDENCE: "confidence below the threshold",
}


def _number(name: str, value: float, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError(name, f"must be a number in {lo:g}..{hi:g}, got {value!r}")
    if not lo <= value <= hi:
        raise ValidationError(name, f"must be in {lo:g}..{hi:g}, got {value!r}")
    return float(value)


# targets sit this factor beyond the minimum reward:risk (3.75 ATR for a 1.5 ATR stop at 2:1 gives 2.5:1)
TARGET_HEADROOM = 1.25


@dataclass(frozen=True)
class SignalParams:
    """Rule settings. Every default is the conservative one described in ``riskmgr.signals.conservative``.

    indicators: periods and timeframes (``IndicatorParams``; 15m bars, 1h trend by default).
    rsi_long_min / rsi_long_max: RSI band for longs, 45..68; shorts use the mirror image (32..55).
    adx_min: minimum ADX for a trade, 20; adx_full: ADX at which trend strength earns full points, 35.
    atr_pct_min / atr_pct_max: allowed ATR as a percentage of price, 0.1..2.5 %.
    stop_atr / target_atr: stop-loss and take-profit distances in ATRs, 1.5 and 3.75 (2.5:1, headroom above
        the minimum so a signal is not denied the moment the mark moves).
    min_reward_risk: target distance over stop distance must reach this, 2.0.
    confidence_threshold: minimum confidence (0..100) for an actionable signal, 75.
    valid_bars: how many bars a signal stays valid after its bar closed, 1.
    """

    indicators: IndicatorParams = field(default_factory=IndicatorParams)
    rsi_long_min: float = 45.0
    rsi_long_max: float = 68.0
    adx_min: float = 20.0
    adx_full: float = 35.0
    atr_pct_min: float = 0.1
    atr_pct_max: float = 2.5
    stop_atr: float = 1.5
    target_atr: float = 3.75
    min_reward_risk: float = 2.0
    confidence_threshold: int = 75
    valid_bars: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.indicators, IndicatorParams):
            raise ValidationError("indicators", f"must be IndicatorParams, got {type(self.indicators).__name__}")
        _number("rsi_long_min", self.rsi_long_min, 1, 50)
        _number("rsi_long_max", self.rsi_long_max, max(50.0, self.rsi_long_min + 1), 99)
        _number("adx_min", self.adx_min, 0, 99)
        _number("adx_full", self.adx_full, self.adx_min + 1, 100)
        _number("atr_pct_min", self.atr_pct_min, 0, 10)
        _number("atr_pct_max", self.atr_pct_max, self.atr_pct_min + 0.01, 10)
        _number("stop_atr", self.stop_atr, 0.25, 5)
        _number("target_atr", self.target_atr, 0.25, 20)
        _number("min_reward_risk", self.min_reward_risk, 1, 10)
        if self.target_atr / self.stop_atr < self.min_reward_risk:
            raise ValidationError(
                "target_atr",
                f"target_atr / stop_atr = {self.target_atr / self.stop_atr:.2f} is below min_reward_risk "
                f"{self.min_reward_risk:g}; need target_atr >= {self.stop_atr * self.min_reward_risk:g}",
            )
        for name, value, lo in (("confidence_threshold", self.confidence_threshold, 0),
                                ("valid_bars", self.valid_bars, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= 100:
                raise ValidationError(name, f"must be a whole number in {lo}..100, got {value!r}")

    @property
    def timeframe(self) -> str:
        return self.indicators.timeframe

    @property
    def validity(self) -> timedelta:
        """Return how long a signal stays valid after its bar closed."""
        return timedelta(milliseconds=self.indicators.bar_ms * self.valid_bars)
