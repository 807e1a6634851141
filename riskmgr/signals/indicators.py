"""TA-Lib indicators over numpy arrays, and the one pass that computes what the signal rules need.

Every wrapper hands its arrays to TA-Lib unchanged, so results (warm-up NaNs included) are exactly
TA-Lib's own. ``compute_indicators`` validates a ``CandleArrays`` once, runs only the indicators the
signal rules read, and builds the higher-timeframe closes (bars grouped by a factor, aligned to the
clock) on which the trend EMAs are computed. Which higher-timeframe bar is *closed* at a given bar is
decided by time alone (``Indicators.htf_index``), so a rule never sees a bar that has not finished.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import talib

from riskmgr.core.errors import ValidationError
from riskmgr.market.base import TIMEFRAME_SECONDS, CandleArrays

_F64 = np.dtype(np.float64)
_I64 = np.dtype(np.int64)
MAX_PERIOD = 1000


def _direct(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Return TA-Lib's own function, without the pandas/polars adapter it is wrapped in when pandas is installed.

    The adapter (``functools.wraps``, so ``__wrapped__`` is the original) only converts Series arguments, which
    never reach here: every caller passes float64 numpy arrays. Skipping it changes no value, only the time.
    """
    return getattr(fn, "__wrapped__", fn)


_ATR, _RSI, _BBANDS, _EMA, _SMA, _ADX, _MACD = (
    _direct(f) for f in (talib.ATR, talib.RSI, talib.BBANDS, talib.EMA, talib.SMA, talib.ADX, talib.MACD)
)


def _f64(values: np.ndarray) -> np.ndarray:
    # TA-Lib accepts float64 only; CandleArrays columns already are, so this is normally a no-op.
    # Cheap identity checks first: the live scan calls this about ten times per symbol.
    if type(values) is np.ndarray and values.dtype is _F64:
        return values
    return np.asarray(values, dtype=_F64)


def _period(name: str, value: int, lo: int = 1, hi: int = MAX_PERIOD) -> int:
    if type(value) is int and lo <= value <= hi:  # the common case, checked cheaply
        return value
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not lo <= value <= hi:
        raise ValidationError(name, f"must be a whole number in {lo}..{hi}, got {value!r}")
    return int(value)


def atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int = 14) -> np.ndarray:
    """Return the Average True Range (Wilder)."""
    return _ATR(_f64(high), _f64(low), _f64(close), _period("atr_period", period))


def rsi(close: np.ndarray, period: int = 14) -> np.ndarray:
    """Return the Relative Strength Index (Wilder), 0..100."""
    return _RSI(_f64(close), _period("rsi_period", period, 2))


def bollinger(close: np.ndarray, period: int = 20, std: float = 2.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the Bollinger Bands (upper, middle, lower) around a simple moving average."""
    if isinstance(std, bool) or not isinstance(std, int | float) or not 0.1 <= std <= 10:
        raise ValidationError("bb_std", f"must be a number in 0.1..10, got {std!r}")
    return _BBANDS(_f64(close), _period("bb_period", period, 2), float(std), float(std), talib.MA_Type.SMA)


def ema(values: np.ndarray, period: int) -> np.ndarray:
    """Return the exponential moving average (seeded with the simple average, as TA-Lib does)."""
    return _EMA(_f64(values), _period("ema_period", period, 2))


def sma(values: np.ndarray, period: int) -> np.ndarray:
    """Return the simple moving average."""
    return _SMA(_f64(values), _period("sma_period", period, 2))


def adx(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int = 14) -> np.ndarray:
    """Return the Average Directional Index (trend strength, 0..100)."""
    return _ADX(_f64(high), _f64(low), _f64(close), _period("adx_period", period, 2))


def macd(
    close: np.ndarray, fast: int = 12, slow: int = 26, signal: int = 9
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return MACD (line, signal line, histogram)."""
    fast, slow = _period("macd_fast", fast, 2), _period("macd_slow", slow, 2)
    if fast >= slow:
        raise ValidationError("macd_fast", f"must be below macd_slow ({slow}), got {fast}")
    return _MACD(_f64(close), fast, slow, _period("macd_signal", signal))


def volume_ma(volume: np.ndarray, period: int = 20) -> np.ndarray:
    """Return the simple moving average of volume."""
    return _SMA(_f64(volume), _period("volume_ma_period", period, 2))


@dataclass(frozen=True)
class IndicatorParams:
    """Indicator periods. Defaults are the textbook ones; the trend EMAs run on the higher timeframe.

    timeframe: bar size of the candles (a key of ``TIMEFRAME_SECONDS``), default 15m.
    htf_factor: base bars per higher-timeframe bar (default 4: 15m bars -> 1h trend), 1..24.
    ema_fast / ema_mid / ema_slow: higher-timeframe trend EMAs, 20 / 50 / 200 (strictly increasing).
    atr_period 14, rsi_period 14, adx_period 14, bb_period 20 with bb_std 2.0, MACD 12/26/9,
    volume_ma_period 20.
    """

    timeframe: str = "15m"
    htf_factor: int = 4
    ema_fast: int = 20
    ema_mid: int = 50
    ema_slow: int = 200
    atr_period: int = 14
    rsi_period: int = 14
    adx_period: int = 14
    bb_period: int = 20
    bb_std: float = 2.0
    macd_fast: int = 12
    macd_slow: int = 26
    macd_signal: int = 9
    volume_ma_period: int = 20

    def __post_init__(self) -> None:
        if self.timeframe not in TIMEFRAME_SECONDS:
            raise ValidationError("timeframe", f"must be one of {', '.join(TIMEFRAME_SECONDS)}, got {self.timeframe!r}")
        _period("htf_factor", self.htf_factor, 1, 24)
        for name in ("ema_fast", "ema_mid", "ema_slow", "rsi_period", "adx_period", "bb_period",
                     "macd_fast", "macd_slow", "volume_ma_period"):
            _period(name, getattr(self, name), 2)
        _period("atr_period", self.atr_period)
        _period("macd_signal", self.macd_signal)
        if not self.ema_fast < self.ema_mid < self.ema_slow:
            raise ValidationError(
                "ema_fast", f"need ema_fast < ema_mid < ema_slow, got {self.ema_fast}/{self.ema_mid}/{self.ema_slow}"
            )
        if self.macd_fast >= self.macd_slow:
            raise ValidationError("macd_fast", f"must be below macd_slow ({self.macd_slow}), got {self.macd_fast}")
        if isinstance(self.bb_std, bool) or not isinstance(self.bb_std, int | float) or not 0.1 <= self.bb_std <= 10:
            raise ValidationError("bb_std", f"must be a number in 0.1..10, got {self.bb_std!r}")

    @property
    def bar_ms(self) -> int:
        return TIMEFRAME_SECONDS[self.timeframe] * 1000

    @property
    def htf_label(self) -> str:
        """Return the higher timeframe's name ("1h"), or "4x15m" when it has no standard name."""
        seconds = TIMEFRAME_SECONDS[self.timeframe] * self.htf_factor
        names = [name for name, secs in TIMEFRAME_SECONDS.items() if secs == seconds]
        return names[0] if names else f"{self.htf_factor}x{self.timeframe}"


@dataclass(frozen=True)
class Indicators:
    """Indicator columns aligned with the candles, plus the trend EMAs on higher-timeframe bars.

    ``htf_end_ms[k]`` is the end time of higher-timeframe bar k; ``htf_ema_*[k]`` its EMAs. The last
    higher-timeframe bar may still be forming; ``htf_index`` never returns it before it has ended.
    """

    ts: np.ndarray
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
    htf_end_ms: np.ndarray
    htf_ema_fast: np.ndarray
    htf_ema_mid: np.ndarray
    htf_ema_slow: np.ndarray
    bar_ms: int

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    @classmethod
    def of(cls, *values: Any) -> Indicators:
        """Return the indicators from their fields' values in order, as ``Indicators(...)`` would, for a third
        of its cost: one dictionary update instead of a frozen attribute set per field (the live scan builds one
        per symbol). The fields are checked against the values' count; the object is as frozen as any other."""
        if len(values) != len(_INDICATOR_FIELDS):
            raise TypeError(f"Indicators.of takes {len(_INDICATOR_FIELDS)} values, got {len(values)}")
        built = object.__new__(cls)
        built.__dict__.update(zip(_INDICATOR_FIELDS, values, strict=True))
        return built

    def htf_index(self, rows: np.ndarray | slice | int) -> np.ndarray | int:
        """Return, for each bar row, the index of the last higher-timeframe bar closed by then (-1: none)."""
        return self.htf_end_ms.searchsorted(self.ts[rows] + self.bar_ms, side="right") - 1

    def htf_edges(self) -> np.ndarray:
        """Return the row edges of the higher-timeframe bars: rows ``edges[j]`` to ``edges[j + 1] - 1`` see bar
        j - 1 as the last one closed (j = 0: none yet), so ``np.repeat(np.concatenate(([nan], htf_values)),
        np.diff(edges))`` equals ``np.concatenate(([nan], htf_values))[htf_index(slice(None)) + 1]``, at a fraction
        of its cost."""
        return np.concatenate(((0,), self._htf_first_rows(), (len(self.ts),)))

    def _htf_first_rows(self) -> np.ndarray:
        """Return, per higher-timeframe bar, the first bar row by which it has closed (``htf_index``'s rule: row r
        sees bar k once ts[r] + bar_ms >= htf_end_ms[k]); ``len(ts)`` when none has.

        That is ``ts.searchsorted(htf_end_ms - bar_ms)``. Bars are evenly spaced nearly always, so the answer is
        first worked out by arithmetic, then checked with the property that defines the search (ts[r - 1] < key
        <= ts[r], either side absent at the ends): the search itself runs only when a check fails."""
        ts, n = self.ts, len(self.ts)
        keys = self.htf_end_ms - self.bar_ms
        if n and len(keys):
            guess = np.clip(-((int(ts[0]) - keys) // self.bar_ms), 0, n)  # ceil((key - ts[0]) / bar_ms)
            above = (guess == n) | (ts.take(np.minimum(guess, n - 1)) >= keys)
            below = (guess == 0) | (ts.take(np.maximum(guess - 1, 0)) < keys)
            if (above & below).all():
                return guess
        return ts.searchsorted(keys, side="left")

    def last_closed_row(self, now_ms: int) -> int:
        """Return the row of the last bar whose close time is at or before ``now_ms`` (-1: none)."""
        return int(self.ts.searchsorted(now_ms - self.bar_ms, side="right")) - 1


_INDICATOR_FIELDS = tuple(f.name for f in fields(Indicators))


def validate_candles(candles: CandleArrays, bar_ms: int) -> bool:
    """Raise ValidationError unless the bars are well formed; return True when they are evenly spaced.

    Well formed: equal-length finite columns, prices above zero with high >= low, volume not negative,
    bar times increasing in whole multiples of ``bar_ms`` (gaps allowed; a finer series is not).
    The usual series (evenly spaced, sound) is accepted in a few reductions (``_plainly_sound``); any other
    one goes through the checks below, which name the first fault.
    """
    if _plainly_sound(candles, bar_ms):
        return True
    n = len(candles)
    if n == 0:
        raise ValidationError("candles", "no bars given")
    for name in ("open", "high", "low", "close", "volume"):
        column = getattr(candles, name)
        if column.shape != (n,):
            raise ValidationError(f"candles.{name}", f"has shape {column.shape}, expected ({n},) like candles.ts")
    steps = candles.ts[1:] - candles.ts[:-1]
    regular = bool((steps == bar_ms).all())
    if not regular and not ((steps > 0) & (steps % bar_ms == 0)).all():
        raise ValidationError("candles.ts", f"bar times must increase in whole steps of {bar_ms // 1000} s")
    # One pass for the common case: a sum is finite only if every term is.
    if not np.isfinite(candles.high + candles.low + candles.close + candles.volume).all():
        for name in ("high", "low", "close", "volume"):
            bad = np.flatnonzero(~np.isfinite(getattr(candles, name)))
            if bad.size:
                raise ValidationError(f"candles.{name}", f"not a finite number at bar {int(bad[0])}")
    if not candles.low.min() > 0:
        raise ValidationError("candles.low", f"prices must be above 0; bar {int(np.argmin(candles.low))} is not")
    if not (candles.high >= candles.low).all():
        bar = int(np.argmin(candles.high >= candles.low))
        raise ValidationError("candles.high", f"must be at least the low; bar {bar} is not")
    if candles.volume.min() < 0:
        raise ValidationError("candles.volume", f"must be 0 or more; bar {int(np.argmin(candles.volume))} is not")
    return regular


def _plainly_sound(candles: CandleArrays, bar_ms: int) -> bool:
    """Return True when the bars are evenly spaced float64 columns that pass every check of ``validate_candles``,
    decided in a few argmin/argmax calls and one temporary column of steps (False: not decided here, the full
    checks run).

    Evenly spaced: the first and last bar are (n - 1) bars apart and no step is shorter than a bar, so every step
    is one bar. Finite: the largest high, volume and close are below infinity and the smallest close above minus
    infinity; the lows are above 0 and (below) at most their highs, so finite too. argmin and argmax stop at the
    first NaN, and NaN fails every comparison, so a NaN never passes. (Measured in the scan, argmin/argmax cost
    less than the reductions, sums or BLAS dot products that would do the same.)
    """
    ts, high, low, close, volume = candles.ts, candles.high, candles.low, candles.close, candles.volume
    n = ts.shape
    if not (len(n) == 1 and n[0] and ts.dtype is _I64 and high.dtype is _F64 and low.dtype is _F64
            and close.dtype is _F64 and volume.dtype is _F64 and candles.open.shape == n and high.shape == n
            and low.shape == n and close.shape == n and volume.shape == n):
        return False
    if n[0] > 1 and (int(ts[-1]) - int(ts[0]) != (n[0] - 1) * bar_ms or _least(ts[1:] - ts[:-1]) != bar_ms):
        return False
    if not (_least(low) > 0 and _least(volume) >= 0 and _most(high) < math.inf and _most(volume) < math.inf
            and _most(close) < math.inf and _least(close) > -math.inf):
        return False
    inverted = np.less(high, low)  # both finite here
    return not inverted[inverted.argmax()]


def _least(values: np.ndarray) -> Any:
    """Return the smallest value, NaN if there is one (argmin stops at the first NaN; a third of a reduce's cost)."""
    return values[values.argmin()]


def _most(values: np.ndarray) -> Any:
    """Return the largest value, NaN if there is one."""
    return values[values.argmax()]


def htf_closes(
    ts: np.ndarray, close: np.ndarray, bar_ms: int, factor: int, regular: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Group bars into clock-aligned higher-timeframe bars; return each group's close and end time (ms).

    A group's close is the close of its last bar present. The final group may still be forming; the
    caller decides by its end time whether it has closed. ``regular`` (evenly spaced bars, no gaps)
    allows a strided view instead of grouping every bar.
    """
    htf_ms = bar_ms * factor
    t0 = int(ts[0])
    offset, misaligned = divmod((t0 // htf_ms + 1) * htf_ms - bar_ms - t0, bar_ms)
    if regular and not misaligned:
        last: np.ndarray | slice = slice(offset, len(ts), factor)  # the last bar of each complete group
        # One contiguous copy here instead of one inside each of the three EMA calls; the end times of evenly
        # spaced bars are a range (ts[offset + j x factor] + bar_ms, without reading ts)
        first_end = t0 + (offset + 1) * bar_ms
        count = len(range(offset, len(ts), factor))
        ends = np.arange(first_end, first_end + count * htf_ms, htf_ms, dtype=np.int64)
        return np.ascontiguousarray(close[last]), ends
    group = ts // htf_ms
    last = np.concatenate((np.flatnonzero(group[1:] != group[:-1]), [len(ts) - 1]))
    return close[last], (group[last] + 1) * htf_ms


def compute_indicators(candles: CandleArrays, params: IndicatorParams) -> Indicators:
    """Validate the candles and compute every indicator the signal rules read, in one pass.

    ``params`` validated its periods when it was built and the columns are checked here once, so TA-Lib's own
    functions are called directly (the per-call checks of the public wrappers above would only repeat them).
    """
    bar_ms = params.bar_ms
    regular = validate_candles(candles, bar_ms)
    high, low, close, volume = _f64(candles.high), _f64(candles.low), _f64(candles.close), _f64(candles.volume)
    std = float(params.bb_std)
    bb_upper, bb_middle, bb_lower = _BBANDS(close, params.bb_period, std, std, talib.MA_Type.SMA)
    macd_line, _, macd_hist = _MACD(close, params.macd_fast, params.macd_slow, params.macd_signal)
    htf_close, htf_end_ms = htf_closes(candles.ts, close, bar_ms, params.htf_factor, regular)
    # in field order (tests compare every column with TA-Lib's own, so a slip cannot hide)
    return Indicators.of(
        candles.ts, close, volume,  # ts, close, volume
        _ATR(high, low, close, params.atr_period),  # atr
        _RSI(close, params.rsi_period),  # rsi
        bb_upper, bb_middle, bb_lower,
        _ADX(high, low, close, params.adx_period),  # adx
        macd_line, macd_hist,  # macd, macd_hist
        _SMA(volume, params.volume_ma_period),  # volume_ma
        htf_end_ms,
        _EMA(htf_close, params.ema_fast),  # htf_ema_fast
        _EMA(htf_close, params.ema_mid),  # htf_ema_mid
        _EMA(htf_close, params.ema_slow),  # htf_ema_slow
        bar_ms,
    )
