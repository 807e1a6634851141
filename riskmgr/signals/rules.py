"""The signal rules as vectorized numpy: every bar (backtest) or the last bar of many symbols (live scan).

The same ``evaluate_rows`` serves both: it takes aligned indicator rows and returns, per row, the
direction, confidence and its components, stop, target and the rejection reason. Rows come either from
a whole series (``RuleInputs.from_indicators``) or from one chosen bar per symbol (``row_values``).
The rules themselves are described in plain words in ``riskmgr.signals.conservative``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from riskmgr.market.base import CandleArrays
from riskmgr.signals.indicators import Indicators, compute_indicators
from riskmgr.signals.params import Reason, SignalParams

# Confidence points; the maxima add up to 100.
TREND_STACK, TREND_PRICE = 15, 10
STRENGTH_AT_MIN, STRENGTH_MAX = 10, 20
MOMENTUM_WITH, MOMENTUM_INSIDE = 15, 8
MACD_LINE, MACD_HIST = 10, 5
BAND_WITH, BAND_PULLBACK = 15, 8
VOLUME_POINTS = 10
COMPONENTS = ("trend", "strength", "momentum", "macd", "band", "volume")
# Market condition (0..100) for the quality score: trend strength and how central the volatility is.
MARKET_STRENGTH, MARKET_VOLATILITY = 60, 40
_NAN = np.array([np.nan])


@dataclass(frozen=True)
class RuleInputs:
    """Aligned float64 columns, one row per evaluated bar; the EMAs are the closed higher-timeframe ones."""

    close: np.ndarray
    volume: np.ndarray
    atr: np.ndarray
    rsi: np.ndarray
    bb_upper: np.ndarray
    bb_middle: np.ndarray
    bb_lower: np.ndarray
    adx: np.ndarray
    macd: np.ndarray
    macd_hist: np.ndarray
    volume_ma: np.ndarray
    ema_fast: np.ndarray
    ema_mid: np.ndarray
    ema_slow: np.ndarray

    @classmethod
    def from_indicators(cls, ind: Indicators) -> RuleInputs:
        """Return rows for every bar of a series."""
        htf = ind.htf_index(slice(None)) + 1  # 0 selects the NaN put in front: no closed bar yet
        return cls(
            ind.close, ind.volume, ind.atr, ind.rsi, ind.bb_upper, ind.bb_middle, ind.bb_lower, ind.adx,
            ind.macd, ind.macd_hist, ind.volume_ma,
            np.concatenate((_NAN, ind.htf_ema_fast))[htf],
            np.concatenate((_NAN, ind.htf_ema_mid))[htf],
            np.concatenate((_NAN, ind.htf_ema_slow))[htf],
        )

    @classmethod
    def from_rows(cls, rows: list[tuple[float, ...]]) -> RuleInputs:
        """Return inputs stacked from ``row_values`` tuples (one per symbol)."""
        table = np.array(rows, dtype=np.float64).reshape(len(rows), len(_FIELDS))
        return cls(*(table[:, k] for k in range(len(_FIELDS))))

    def row(self, k: int) -> dict[str, float]:
        """Return row ``k`` as plain floats by column name."""
        return {name: float(getattr(self, name)[k]) for name in _FIELDS}


_FIELDS = tuple(f.name for f in fields(RuleInputs))
RULE_FIELDS = _FIELDS  # the order of the values in a ``row_values`` tuple


def row_values(ind: Indicators, row: int) -> tuple[float, ...]:
    """Return the rule inputs of one bar, in ``RuleInputs`` column order, as Python floats."""
    k = int(ind.htf_index(row))
    ema_fast, ema_mid, ema_slow = (
        (ind.htf_ema_fast.item(k), ind.htf_ema_mid.item(k), ind.htf_ema_slow.item(k)) if k >= 0
        else (np.nan, np.nan, np.nan)
    )
    return (
        ind.close.item(row), ind.volume.item(row), ind.atr.item(row), ind.rsi.item(row), ind.bb_upper.item(row),
        ind.bb_middle.item(row), ind.bb_lower.item(row), ind.adx.item(row), ind.macd.item(row),
        ind.macd_hist.item(row), ind.volume_ma.item(row), ema_fast, ema_mid, ema_slow,
    )


@dataclass(frozen=True)
class SignalArrays:
    """Per-row results. ``candidate`` is the trend's direction before the other checks; ``direction`` is
    non-zero only where every check passed (``reason == Reason.OK``). Stop and target are NaN where there
    is no candidate. ``components`` maps each confidence component to its points per row."""

    direction: np.ndarray  # int8: -1 short, 0 none, +1 long
    candidate: np.ndarray  # int8
    confidence: np.ndarray  # int16, sum of the components
    components: dict[str, np.ndarray]  # int16 each
    entry: np.ndarray  # float64: the bar's close
    stop: np.ndarray
    target: np.ndarray
    atr_pct: np.ndarray
    market: np.ndarray  # int16, 0..100
    reason: np.ndarray  # int8, a Reason

    def __len__(self) -> int:
        return int(self.direction.shape[0])

    @property
    def actionable(self) -> np.ndarray:
        return self.reason == Reason.OK


def _points(x: RuleInputs, side: np.ndarray, p: SignalParams, rsi_m: np.ndarray) -> dict[str, np.ndarray]:
    """Return each confidence component's points (zero where there is no candidate)."""
    has = side != 0
    half_band = x.bb_upper - x.bb_middle  # TA-Lib's bands are symmetric around the middle
    offset = side * (x.close - x.bb_middle)  # > 0: on the trade's side of the middle band
    span = p.adx_full - p.adx_min
    strength = STRENGTH_AT_MIN + (STRENGTH_MAX - STRENGTH_AT_MIN) * np.clip((x.adx - p.adx_min) / span, 0, 1)
    points = {
        "trend": has * TREND_STACK + (side * (x.close - x.ema_fast) > 0) * TREND_PRICE,
        "strength": np.where(has & (x.adx >= p.adx_min), np.rint(strength), 0),
        "momentum": has * np.where(rsi_m >= 50, MOMENTUM_WITH, MOMENTUM_INSIDE),
        "macd": (side * x.macd > 0) * (MACD_LINE + (side * x.macd_hist > 0) * MACD_HIST),
        "band": has * np.where(offset >= 0, BAND_WITH, np.where(offset >= -half_band, BAND_PULLBACK, 0)),
        "volume": (has & (x.volume >= x.volume_ma)) * VOLUME_POINTS,
    }
    return {name: value.astype(np.int16) for name, value in points.items()}


def _market(x: RuleInputs, p: SignalParams, atr_pct: np.ndarray, warm: np.ndarray) -> np.ndarray:
    """Return the market condition 0..100: trend strength (60) plus volatility near the middle of its bounds (40)."""
    strength = np.clip((x.adx - p.adx_min) / (p.adx_full - p.adx_min), 0, 1)
    mid, half = (p.atr_pct_max + p.atr_pct_min) / 2, (p.atr_pct_max - p.atr_pct_min) / 2
    calm = np.clip(1 - np.abs(atr_pct - mid) / half, 0, 1)
    return np.where(warm, np.rint(MARKET_STRENGTH * strength + MARKET_VOLATILITY * calm), 0).astype(np.int16)


def evaluate_rows(x: RuleInputs, p: SignalParams) -> SignalArrays:
    """Apply every rule to every row at once."""
    # NaN anywhere (indicator warm-up) makes the sum NaN.
    warm = ~np.isnan(x.close + x.atr + x.rsi + x.bb_upper + x.adx + x.macd + x.macd_hist + x.volume_ma
                     + x.ema_fast + x.ema_mid + x.ema_slow)
    up = (x.ema_fast > x.ema_mid) & (x.ema_mid > x.ema_slow)
    down = (x.ema_fast < x.ema_mid) & (x.ema_mid < x.ema_slow)
    candidate = (up & warm).astype(np.int8) - (down & warm)
    side = candidate.astype(np.float64)
    rsi_m = 50 + side * (x.rsi - 50)  # mirrored for shorts, so one band serves both sides
    atr_pct = x.atr / x.close * 100
    components = _points(x, side, p, rsi_m)
    confidence = sum(components.values(), np.zeros(len(side), dtype=np.int16))

    reason = np.full(len(side), Reason.OK, dtype=np.int8)
    # Assigned from the last check to the first, so the first failing check is the one reported.
    reason[confidence < p.confidence_threshold] = Reason.LOW_CONFIDENCE
    reason[side * (x.close - x.bb_middle) > x.bb_upper - x.bb_middle] = Reason.BAND
    reason[(rsi_m < p.rsi_long_min) | (rsi_m > p.rsi_long_max)] = Reason.RSI
    reason[(atr_pct < p.atr_pct_min) | (atr_pct > p.atr_pct_max)] = Reason.VOLATILITY
    reason[x.adx < p.adx_min] = Reason.WEAK_TREND
    reason[candidate == 0] = Reason.NO_TREND
    reason[~warm] = Reason.WARMUP

    has = candidate != 0
    return SignalArrays(
        direction=np.where(reason == Reason.OK, candidate, 0).astype(np.int8),
        candidate=candidate,
        confidence=confidence,
        components=components,
        entry=x.close,
        stop=np.where(has, x.close - side * p.stop_atr * x.atr, np.nan),
        target=np.where(has, x.close + side * p.target_atr * x.atr, np.nan),
        atr_pct=atr_pct,
        market=_market(x, p, atr_pct, warm),
        reason=reason,
    )


def evaluate_indicators(ind: Indicators, params: SignalParams) -> SignalArrays:
    """Evaluate the rules at every bar of already computed indicators."""
    return evaluate_rows(RuleInputs.from_indicators(ind), params)


def evaluate_series(candles: CandleArrays, params: SignalParams) -> SignalArrays:
    """Compute the indicators and evaluate the rules at every bar, each bar seeing only bars up to itself."""
    return evaluate_indicators(compute_indicators(candles, params.indicators), params)
