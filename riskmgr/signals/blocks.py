"""The signal rules applied to one block of rows, written straight into the result arrays.

``rules.evaluate_rows`` hands the rows over in blocks of ``BLOCK``: every value is computed row by row (no value
depends on another row), so a row's result is the same in any block, while a block's temporaries stay in the CPU's
cache and the result arrays are the only full-length memory. The rules and their order are those described in
``riskmgr.signals.conservative``; each formula below is the one of the plain reading of the rules, operation for
operation (``tests/signals/test_rules_reference.py`` compares them on random rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

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
BLOCK = 32_768  # rows per block: about ten float64 temporaries of 256 kB each stay in the CPU's cache
# a row is warm when the sum of these columns, in this order, is not NaN
WARM_SUM = ("close", "atr", "rsi", "bb_upper", "adx", "macd", "macd_hist", "volume_ma", "ema_fast", "ema_mid",
            "ema_slow")
_OK, _LAST = int(Reason.OK), max(Reason) + 1  # the reasons are numbered in the order of the checks, OK (0) first


class Rows(Protocol):
    """The rule inputs of a block: aligned float64 columns, read only (``rules.RuleInputs``)."""

    @property
    def close(self) -> np.ndarray: ...

    @property
    def volume(self) -> np.ndarray: ...

    @property
    def atr(self) -> np.ndarray: ...

    @property
    def rsi(self) -> np.ndarray: ...

    @property
    def bb_upper(self) -> np.ndarray: ...

    @property
    def bb_middle(self) -> np.ndarray: ...

    @property
    def adx(self) -> np.ndarray: ...

    @property
    def macd(self) -> np.ndarray: ...

    @property
    def macd_hist(self) -> np.ndarray: ...

    @property
    def volume_ma(self) -> np.ndarray: ...

    @property
    def ema_fast(self) -> np.ndarray: ...

    @property
    def ema_mid(self) -> np.ndarray: ...

    @property
    def ema_slow(self) -> np.ndarray: ...


@dataclass(frozen=True)
class Results:
    """Full-length result arrays; a block writes its rows. The details (``components``, ``market`` and
    ``atr_pct``) are None unless asked for."""

    direction: np.ndarray  # int8
    candidate: np.ndarray  # int8
    confidence: np.ndarray  # int16
    stop: np.ndarray  # float64
    target: np.ndarray  # float64
    reason: np.ndarray  # int8
    components: tuple[np.ndarray, ...] | None  # int16 each, in COMPONENTS order
    market: np.ndarray | None  # int16
    atr_pct: np.ndarray | None  # float64

    @classmethod
    def empty(cls, n: int, detail: bool) -> Results:
        def i8() -> np.ndarray:
            return np.empty(n, dtype=np.int8)

        def i16() -> np.ndarray:
            return np.empty(n, dtype=np.int16)

        if detail:
            return cls(i8(), i8(), i16(), np.empty(n), np.empty(n), i8(), tuple(i16() for _ in COMPONENTS), i16(),
                       np.empty(n))
        return cls(i8(), i8(), i16(), np.empty(n), np.empty(n), i8(), None, None, None)


class Scratch:
    """Temporaries for blocks of up to ``size`` rows, reused block after block."""

    def __init__(self, size: int) -> None:
        self.f = [np.empty(size) for _ in range(4)]  # float64
        self.b = [np.empty(size, dtype=np.bool_) for _ in range(7)]
        self.u = [np.empty(size, dtype=np.uint8) for _ in range(5)]

    def rows(self, n: int) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
        """Return the float, boolean and byte temporaries cut to ``n`` rows."""
        return [a[:n] for a in self.f], [a[:n] for a in self.b], [a[:n] for a in self.u]


def _u8(mask: np.ndarray) -> np.ndarray:
    """Return a boolean mask as 0/1 bytes, without a copy."""
    return mask.view(np.uint8)


def _warm(x: Rows, warm: np.ndarray, finite: np.ndarray) -> None:
    """Set ``warm`` True where the sum of the ``WARM_SUM`` columns is not NaN (NaN anywhere: indicator warm-up).

    A row of finite numbers never sums to NaN, so only the other rows (the warm-up, or an infinity) are summed,
    in the same order as whole columns would be: an inf - inf row is not warm either."""
    columns = [getattr(x, name) for name in WARM_SUM]
    np.isfinite(columns[0], out=warm)
    for column in columns[1:]:
        warm &= np.isfinite(column, out=finite)
    if warm.all():
        return
    odd = np.flatnonzero(~warm)
    total = columns[0][odd]
    for column in columns[1:]:
        total += column[odd]
    warm[odd] = total == total  # False only for NaN


def _unit(values: np.ndarray) -> np.ndarray:
    """Clip to 0..1 in place, NaN becoming 0 (``np.clip`` keeps NaN, which no integer cast may meet)."""
    np.fmax(values, 0, out=values)
    return np.minimum(values, 1, out=values)


class _Block:
    """One block's evaluation: its inputs, the scratch arrays and the result rows it writes."""

    def __init__(self, x: Rows, p: SignalParams, out: Results, rows: slice, scratch: Scratch) -> None:
        self.x, self.p, self.rows = x, p, rows
        self.f, self.b, self.u = scratch.rows(len(x.close))
        self.out = out
        self.rank = self.u[0]  # per row: _LAST - the first failing reason so far, 0 while none failed
        self.rank.fill(0)
        self.total = self.u[1]  # the confidence so far; the maxima add up to 100, so a byte holds it

    def fail(self, reason: Reason, mask: np.ndarray) -> None:
        """Record that the check of ``reason`` fails where ``mask`` is True."""
        np.maximum(self.rank, np.multiply(_u8(mask), _LAST - reason, out=self.u[4]), out=self.rank)

    def score(self, k: int, points: np.ndarray) -> None:
        """Add component ``k``'s points (uint8) to the confidence, and keep them when the components are asked for."""
        if k:
            self.total += points
        else:
            np.copyto(self.total, points)
        if self.out.components is not None:
            np.copyto(self.out.components[k][self.rows], points)

    def run(self) -> None:
        x, (side, f1, f2, strength), (warm, long_, short, has, b1, b2, b3) = self.x, self.f, self.b
        _warm(x, warm, b1)
        np.greater(x.ema_fast, x.ema_mid, out=long_)
        long_ &= np.greater(x.ema_mid, x.ema_slow, out=b1)
        long_ &= warm
        np.less(x.ema_fast, x.ema_mid, out=short)
        short &= np.less(x.ema_mid, x.ema_slow, out=b1)
        short &= warm
        candidate = np.subtract(long_.view(np.int8), short.view(np.int8), out=self.out.candidate[self.rows])
        np.logical_or(long_, short, out=has)
        np.copyto(side, candidate)
        self.fail(Reason.WARMUP, np.logical_not(warm, out=b1))
        self.fail(Reason.NO_TREND, np.logical_not(has, out=b1))
        self.checks_and_points(side, f1, f2, strength, long_, short, has, b1, b2, b3)
        self.levels(side, has, f1, b1)
        market, atr_pct = self.out.market, self.out.atr_pct
        if market is not None and atr_pct is not None:
            self.market(strength, warm, f1, f2, market[self.rows], atr_pct[self.rows])

    def checks_and_points(self, side: np.ndarray, f1: np.ndarray, f2: np.ndarray, strength: np.ndarray,
                          long_: np.ndarray, short: np.ndarray, has: np.ndarray, b1: np.ndarray, b2: np.ndarray,
                          b3: np.ndarray) -> None:
        x, p, u = self.x, self.p, self.u[2]
        on = _u8(has)
        # trend: has x 15 + (side x (close - ema_fast) > 0) x 10
        self.beyond(x.close, x.ema_fast, long_, short, b1, b2)
        np.multiply(_u8(b1), TREND_PRICE, out=u)
        u += np.multiply(on, TREND_STACK, out=self.u[3])
        self.score(0, u)
        # strength: rint(10 + 10 x clip((adx - adx_min) / span, 0, 1)) where has and adx >= adx_min, else 0
        _unit(np.divide(np.subtract(x.adx, p.adx_min, out=strength), p.adx_full - p.adx_min, out=strength))
        np.multiply(strength, STRENGTH_MAX - STRENGTH_AT_MIN, out=f1)
        f1 += STRENGTH_AT_MIN
        np.copyto(u, np.rint(f1, out=f1), casting="unsafe")  # 10..20: strength holds no NaN
        u *= _u8(np.logical_and(has, np.greater_equal(x.adx, p.adx_min, out=b1), out=b1))
        self.score(1, u)
        self.fail(Reason.WEAK_TREND, np.less(x.adx, p.adx_min, out=b1))
        # volatility: ATR as % of price within its bounds
        atr_pct = np.divide(x.atr, x.close, out=f1 if self.out.atr_pct is None else self.out.atr_pct[self.rows])
        atr_pct *= 100
        np.less(atr_pct, p.atr_pct_min, out=b1)
        self.fail(Reason.VOLATILITY, np.logical_or(b1, np.greater(atr_pct, p.atr_pct_max, out=b2), out=b1))
        # RSI mirrored for shorts (50 + side x (rsi - 50)), so one band serves both sides; momentum points
        rsi_m = np.subtract(x.rsi, 50, out=f1)
        rsi_m *= side
        rsi_m += 50
        np.less(rsi_m, p.rsi_long_min, out=b1)
        self.fail(Reason.RSI, np.logical_or(b1, np.greater(rsi_m, p.rsi_long_max, out=b2), out=b1))
        np.logical_and(has, np.greater_equal(rsi_m, 50, out=b1), out=b1)  # has x (15 where rsi_m >= 50, else 8)
        np.multiply(_u8(b1), MOMENTUM_WITH - MOMENTUM_INSIDE, out=u)
        u += np.multiply(on, MOMENTUM_INSIDE, out=self.u[3])
        self.score(2, u)
        # MACD: (side x macd > 0) x (10 + (side x macd_hist > 0) x 5)
        self.beyond(x.macd_hist, 0.0, long_, short, b2, b3)
        self.beyond(x.macd, 0.0, long_, short, b1, b3)
        b2 &= b1
        np.multiply(_u8(b1), MACD_LINE, out=u)
        u += np.multiply(_u8(b2), MACD_HIST, out=self.u[3])
        self.score(3, u)
        self.band(side, has, f1, f2, b1, b2, b3)
        # volume: has and volume >= its average: 10
        np.logical_and(has, np.greater_equal(x.volume, x.volume_ma, out=b1), out=b1)
        self.score(5, np.multiply(_u8(b1), VOLUME_POINTS, out=u))
        np.copyto(self.out.confidence[self.rows], self.total)
        self.fail(Reason.LOW_CONFIDENCE, np.less(self.total, p.confidence_threshold, out=b1))

    @staticmethod
    def beyond(a: np.ndarray, b: np.ndarray | float, long_: np.ndarray, short: np.ndarray, into: np.ndarray,
               spare: np.ndarray) -> np.ndarray:
        """Set ``into`` to side x (a - b) > 0: a above b for a long, below it for a short. (In IEEE arithmetic a - b
        is positive exactly when a > b and negative exactly when a < b, NaN never; side is -1, 0 or 1.)"""
        np.logical_and(np.greater(a, b, out=into), long_, out=into)
        return np.logical_or(into, np.logical_and(np.less(a, b, out=spare), short, out=spare), out=into)

    def band(self, side: np.ndarray, has: np.ndarray, offset: np.ndarray, half_band: np.ndarray, b1: np.ndarray,
             b2: np.ndarray, b3: np.ndarray) -> None:
        """Score the Bollinger band points and check the band: offset = side x (close - middle) > 0 is on the
        trade's side of the middle band; beyond the half band (upper - middle) is too far."""
        x, u = self.x, self.u[2]
        np.subtract(x.close, x.bb_middle, out=offset)
        offset *= side
        np.subtract(x.bb_upper, x.bb_middle, out=half_band)  # TA-Lib's bands are symmetric around the middle
        self.fail(Reason.BAND, np.greater(offset, half_band, out=b1))
        np.greater_equal(offset, 0, out=b1)  # 15 points
        np.greater_equal(offset, np.negative(half_band, out=half_band), out=b2)  # else 8 within the half band
        np.logical_and(b2, np.logical_not(b1, out=b3), out=b2)
        b1 &= has
        b2 &= has
        np.multiply(_u8(b1), BAND_WITH, out=u)
        u += np.multiply(_u8(b2), BAND_PULLBACK, out=self.u[3])
        self.score(4, u)

    def levels(self, side: np.ndarray, has: np.ndarray, levels: np.ndarray, b1: np.ndarray) -> None:
        """Write the reason, the direction (the candidate where every check passed), stop and target (NaN where
        there is no candidate): close -/+ side x stop_atr (target_atr) x ATR."""
        x, p, rows = self.x, self.p, self.rows
        reason = np.subtract(_LAST, self.rank, out=_u8(self.out.reason[rows]))
        reason *= _u8(np.not_equal(self.rank, 0, out=b1))  # OK (0) where no check failed
        np.multiply(self.out.candidate[rows], np.equal(reason, _OK, out=b1).view(np.int8),
                    out=self.out.direction[rows])
        np.multiply(side, x.atr, out=levels)  # side x ATR x k is side x k x ATR, side being -1, 0 or 1
        np.copyto(levels, np.nan, where=np.logical_not(has, out=b1))
        stop = np.multiply(levels, p.stop_atr, out=self.out.stop[rows])
        np.subtract(x.close, stop, out=stop)
        target = np.multiply(levels, p.target_atr, out=self.out.target[rows])
        np.add(x.close, target, out=target)

    def market(self, strength: np.ndarray, warm: np.ndarray, calm: np.ndarray, condition: np.ndarray,
               market: np.ndarray, atr_pct: np.ndarray) -> None:
        """Write the market condition 0..100 where warm (else 0): rint(60 x strength + 40 x calm), calm being
        clip(1 - |atr_pct - mid| / half, 0, 1) for the middle and half width of the volatility bounds."""
        p = self.p
        mid, half = (p.atr_pct_max + p.atr_pct_min) / 2, (p.atr_pct_max - p.atr_pct_min) / 2
        np.subtract(atr_pct, mid, out=calm)
        np.abs(calm, out=calm)
        calm /= half
        _unit(np.subtract(1, calm, out=calm))
        calm *= MARKET_VOLATILITY
        np.multiply(strength, MARKET_STRENGTH, out=condition)
        condition += calm
        np.copyto(market, np.rint(condition, out=condition), casting="unsafe")  # 0..100, no NaN
        market *= warm


def evaluate_block(x: Rows, p: SignalParams, out: Results, rows: slice, scratch: Scratch) -> None:
    """Apply every rule to the rows of ``x`` (views of rows ``rows``), writing rows ``rows`` of ``out``."""
    _Block(x, p, out, rows, scratch).run()
