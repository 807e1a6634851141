"""Conservative trade signals: a trade is proposed only when several independent checks agree.

How a signal is decided (defaults in brackets; every number is a setting):

1. Trend on the higher timeframe. Bars are grouped by a factor [4: 15-minute bars make 1-hour bars],
   and only higher-timeframe bars that have already closed are used. A long needs the exponential
   moving averages stacked upwards, EMA 20 above EMA 50 above EMA 200; a short needs them stacked
   downwards. Without such a stack there is no trade.
2. Trend strength. ADX must be at least 20.
3. Sane volatility. The average true range (ATR) must be between 0.1 % and 2.5 % of the price.
4. Momentum not stretched against the trade. A long needs RSI between 45 and 68; a short the mirror
   image, between 32 and 55. Above the band a long would chase an overbought move; below it momentum
   is against the trade.
5. Price inside the Bollinger Bands (20 bars, 2 standard deviations) in the trade's direction: a long
   is not proposed above the upper band, a short not below the lower band.
6. Confidence at least 75 out of 100 (see below).

Until every indicator has enough history (EMA 200 on the higher timeframe needs 200 of its bars, 800
bars of 15 minutes) there is no signal. Otherwise the first check that fails is shown as the reason a
market has no signal.

Stop-loss and take-profit come from the ATR: the stop 1.5 ATR away from the entry (the close of the
last finished bar), the target 3.75 ATR away, so reward:risk is 2.5:1, headroom above the 2:1 minimum;
settings that would make it lower than 2:1 are refused.

Confidence (0-100) is the sum of named components:

- trend, up to 25: 15 for the higher-timeframe EMA stack, 10 more when the price is on the trade's
  side of the fast higher-timeframe EMA;
- strength, up to 20: 10 at the minimum ADX (20), rising evenly to 20 at ADX 35 (whole points);
- momentum, up to 15: 15 when RSI is on the trade's side of 50, 8 when it is inside the band but not;
- macd, up to 15: 10 when the MACD line (12/26) is on the trade's side of zero, 5 more when its
  histogram (signal 9) agrees;
- band, up to 15: 15 when the price is between the middle band and the band in the trade's
  direction, 8 on a pull-back to the other half, 0 beyond the opposite band;
- volume, up to 10: 10 when the bar's volume is at least its 20-bar average.

A signal is valid for one bar after the bar it was computed on closed; it is then recomputed.
Ranking (the quality score) and the filters that drop stale, held or cooling-down symbols are in
``riskmgr.signals.quality`` and ``riskmgr.signals.filters``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np

from riskmgr.core.clock import from_ms, to_ms
from riskmgr.core.domain import PositionSide
from riskmgr.core.errors import ValidationError
from riskmgr.market.base import CandleArrays
from riskmgr.signals.indicators import compute_indicators
from riskmgr.signals.params import REASON_TEXT, Reason, SignalParams
from riskmgr.signals.rules import (
    COMPONENTS,
    RULE_FIELDS,
    RuleInputs,
    SignalArrays,
    evaluate_rows,
    evaluate_series,
    row_values,
)

__all__ = [
    "COMPONENTS", "REASON_TEXT", "Reason", "ScanResult", "Signal", "SignalArrays", "SignalParams",
    "evaluate_series", "latest_signal", "scan_latest",
]
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class Signal:
    """A proposed trade on the last closed bar. ``created_at`` is that bar's close time."""

    symbol: str
    timeframe: str
    side: PositionSide
    entry: Decimal
    stop: Decimal
    target: Decimal
    reward_risk: Decimal
    confidence: int
    components: dict[str, int]
    created_at: datetime
    valid_until: datetime
    reasons: tuple[str, ...]
    market_condition: int  # 0..100, trend strength and volatility regime (feeds the quality score)
    atr: Decimal
    indicators: dict[str, float] = field(default_factory=dict)  # ADX, RSI, ATR %, trend EMAs at the bar


@dataclass(frozen=True)
class ScanResult:
    """What a scan found: actionable signals, the first failed check per other symbol, and input faults."""

    signals: list[Signal]
    rejected: dict[str, Reason]
    errors: dict[str, str]


def _dec(value: float) -> Decimal:
    # repr gives the shortest text that reads back as the same float: no binary noise digits.
    return Decimal(repr(float(value)))


@dataclass(frozen=True)
class _Wording:
    """What every signal of one scan shares: the settings' parts of its reasons and its Decimal factors.

    Built once per scan, so a signal costs only its own figures (the texts are exactly those of the rules)."""

    stop_atr: Decimal
    target_atr: Decimal
    validity: timedelta
    trend: dict[int, str]  # per side: "1h trend up: EMA20 {} > EMA50 {} > EMA200 {}"
    rsi_band: dict[int, str]  # per side: "within 45–68"
    band: dict[int, tuple[str, str]]  # per side: (band column, "upper")
    fixed_tail: tuple[str, str]  # "ADX {} ≥ 20", "ATR ... within 0.1–2.5 %" formats
    stops: str  # "stop 1.5 ATR, target 3.75 ATR"


def _wording(p: SignalParams) -> _Wording:
    ip = p.indicators
    trend, rsi_band = {}, {}
    for side, word, cmp in ((1, "up", ">"), (-1, "down", "<")):
        trend[side] = (f"{ip.htf_label} trend {word}: EMA{ip.ema_fast} {{:.6g}} {cmp} EMA{ip.ema_mid} {{:.6g}} {cmp} "
                       f"EMA{ip.ema_slow} {{:.6g}}")
        lo, hi = (p.rsi_long_min, p.rsi_long_max) if side > 0 else (100 - p.rsi_long_max, 100 - p.rsi_long_min)
        rsi_band[side] = f"within {lo:g}–{hi:g}"
    return _Wording(
        stop_atr=_dec(p.stop_atr), target_atr=_dec(p.target_atr), validity=p.validity, trend=trend,
        rsi_band=rsi_band, band={1: ("bb_upper", "upper"), -1: ("bb_lower", "lower")},
        fixed_tail=(f"ADX {{:.1f}} ≥ {p.adx_min:g}",
                    f"ATR {{:.2f}} % of price, within {p.atr_pct_min:g}–{p.atr_pct_max:g} %"),
        stops=f"stop {p.stop_atr:g} ATR, target {p.target_atr:g} ATR",
    )


def _reasons(values: dict[str, float], side: int, w: _Wording, p: SignalParams, confidence: int) -> tuple[str, ...]:
    column, band_name = w.band[side]
    adx_text, atr_text = w.fixed_tail
    return (
        w.trend[side].format(values["ema_fast"], values["ema_mid"], values["ema_slow"]),
        adx_text.format(values["adx"]),
        atr_text.format(values["atr_pct"]),
        f"RSI {values['rsi']:.1f} {w.rsi_band[side]}",
        f"close {values['close']:.6g} inside the {band_name} Bollinger band {values[column]:.6g}",
        w.stops,
        f"confidence {confidence} ≥ {p.confidence_threshold}",
    )


def _build_signals(symbols: list[str], rows: list[tuple[float, ...]], closed: list[int], a: SignalArrays,
                   ok: list[int], p: SignalParams) -> list[Signal]:
    """Build the signals of the actionable rows ``ok``; every per-row figure is read out of numpy once for all of
    them (a few calls per scan instead of a dozen per signal), the inputs from the rows themselves."""
    if not ok:
        return []
    w = _wording(p)
    pick = np.array(ok, dtype=np.intp)
    sides, confidences = a.direction[pick].tolist(), a.confidence[pick].tolist()
    markets, atr_pcts = a.market[pick].tolist(), a.atr_pct[pick].tolist()
    points = np.stack([a.components[name][pick] for name in COMPONENTS], axis=1).tolist()
    times: dict[int, tuple[datetime, datetime]] = {}  # the symbols of a scan mostly share their last close
    signals = []
    for j, k in enumerate(ok):
        row, side, confidence, closed_ms = rows[k], sides[j], confidences[j], closed[k]
        values = {name: float(row[_AT[name]]) for name in _READ}
        values["atr_pct"] = atr_pcts[j]
        if closed_ms not in times:
            created_at = from_ms(closed_ms)
            times[closed_ms] = (created_at, created_at + w.validity)
        sign = Decimal(side)
        entry, atr_value = _dec(row[_AT["close"]]), _dec(row[_AT["atr"]])
        stop = entry - sign * w.stop_atr * atr_value
        target = entry + sign * w.target_atr * atr_value
        signals.append(_signal({
            "symbol": symbols[k],
            "timeframe": p.timeframe,
            "side": PositionSide.LONG if side > 0 else PositionSide.SHORT,
            "entry": entry,
            "stop": stop,
            "target": target,
            "reward_risk": ((target - entry) / (entry - stop)).quantize(_CENT),
            "confidence": confidence,
            "components": dict(zip(COMPONENTS, points[j], strict=True)),
            "created_at": times[closed_ms][0],
            "valid_until": times[closed_ms][1],
            "reasons": _reasons(values, side, w, p, confidence),
            "market_condition": markets[j],
            "atr": atr_value,
            "indicators": {name: values[name] for name in ("adx", "rsi", "atr_pct", "ema_fast", "ema_mid", "ema_slow")},
        }))
    return signals


def _signal(values: dict[str, object]) -> Signal:
    """Return ``Signal(**values)`` for a sixth of its cost: one dictionary update instead of a frozen attribute set
    per field, and no keyword passing (a scan builds dozens). ``values`` names every field, as tests check; the
    result is as frozen, equal and printable as any other Signal."""
    built = object.__new__(Signal)
    built.__dict__.update(values)
    return built


_REASONS = {int(reason): reason for reason in Reason}  # a dict read instead of an enum call per rejected symbol
_READ = ("close", "adx", "rsi", "bb_upper", "bb_lower", "ema_fast", "ema_mid", "ema_slow")
_AT = {name: k for k, name in enumerate(RULE_FIELDS)}


def _now_ms(now: datetime) -> int:
    if now.tzinfo is None:
        raise ValidationError("now", "must be a timezone-aware UTC datetime")
    return to_ms(now)


def _latest_row(candles: CandleArrays, p: SignalParams, now_ms: int) -> tuple[tuple[float, ...], int]:
    """Return the rule inputs of the last bar closed by ``now_ms`` and that bar's close time."""
    ind = compute_indicators(candles, p.indicators)
    row = ind.last_closed_row(now_ms)
    if row < 0:
        raise ValidationError("candles", f"no bar has closed by {from_ms(now_ms).isoformat()}")
    return row_values(ind, row), int(ind.ts[row]) + ind.bar_ms


def scan_latest(candles_by_symbol: Mapping[str, CandleArrays], params: SignalParams, now: datetime) -> ScanResult:
    """Evaluate the last closed bar of every symbol in one vectorized pass of the rules."""
    now_ms = _now_ms(now)
    rows: list[tuple[float, ...]] = []
    symbols: list[str] = []
    closed: list[int] = []
    errors: dict[str, str] = {}
    for symbol, candles in candles_by_symbol.items():
        try:
            row, closed_ms = _latest_row(candles, params, now_ms)
        except ValidationError as exc:  # one bad series must not hide the other symbols; reported below
            errors[symbol] = str(exc)
            continue
        rows.append(row)
        symbols.append(symbol)
        closed.append(closed_ms)
    if not rows:
        return ScanResult([], {}, errors)
    inputs = RuleInputs.from_rows(rows)
    arrays = evaluate_rows(inputs, params)
    ok = np.flatnonzero(arrays.reason == Reason.OK).tolist()
    signals = _build_signals(symbols, rows, closed, arrays, ok, params)
    rejected = {symbols[k]: _REASONS[code] for k, code in enumerate(arrays.reason.tolist()) if code != Reason.OK}
    return ScanResult(signals, rejected, errors)


def latest_signal(symbol: str, candles: CandleArrays, params: SignalParams, now: datetime) -> Signal | None:
    """Return the signal on the last bar closed by ``now``, or None when a check fails."""
    row, closed_ms = _latest_row(candles, params, _now_ms(now))
    inputs = RuleInputs.from_rows([row])
    arrays = evaluate_rows(inputs, params)
    if arrays.reason[0] != Reason.OK:
        return None
    return _build_signals([symbol], [row], [closed_ms], arrays, [0], params)[0]
