"""The signal rules as vectorized numpy: every bar (backtest) or the last bar of many symbols (live scan).

The same ``evaluate_rows`` serves both: it takes aligned indicator rows and returns, per row, the
direction, confidence and its components, stop, target and the rejection reason. Rows come either from
a whole series (``RuleInputs.from_indicators``) or from one chosen bar per symbol (``row_values``).
The rules themselves are described in plain words in ``riskmgr.signals.conservative``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from functools import cached_property, partial

import numpy as np

from riskmgr.market.base import CandleArrays
from riskmgr.signals.blocks import (  # noqa: F401  (the point values are read from here by the pages)
    BAND_PULLBACK,
    BAND_WITH,
    BLOCK,
    COMPONENTS,
    MACD_HIST,
    MACD_LINE,
    MARKET_STRENGTH,
    MARKET_VOLATILITY,
    MOMENTUM_INSIDE,
    MOMENTUM_WITH,
    STRENGTH_AT_MIN,
    STRENGTH_MAX,
    TREND_PRICE,
    TREND_STACK,
    VOLUME_POINTS,
    Results,
    Scratch,
    evaluate_block,
)
from riskmgr.signals.indicators import Indicators, compute_indicators
from riskmgr.signals.params import Reason, SignalParams

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
        spans = np.diff(ind.htf_edges())  # the NaN put in front covers the rows before the first closed bar
        return cls(
            ind.close, ind.volume, ind.atr, ind.rsi, ind.bb_upper, ind.bb_middle, ind.bb_lower, ind.adx,
            ind.macd, ind.macd_hist, ind.volume_ma,
            *(np.repeat(np.concatenate((_NAN, ema)), spans)
              for ema in (ind.htf_ema_fast, ind.htf_ema_mid, ind.htf_ema_slow)),
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


Details = tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]  # components by name, market condition, ATR %


@dataclass(frozen=True)
class SignalArrays:
    """Per-row results. ``candidate`` is the trend's direction before the other checks; ``direction`` is
    non-zero only where every check passed (``reason == Reason.OK``). Stop and target are NaN where there
    is no candidate. ``components`` maps each confidence component to its points per row; it, ``market`` and
    ``atr_pct`` are worked out when first read (the backtest never reads them), from the same rows by the same
    code."""

    direction: np.ndarray  # int8: -1 short, 0 none, +1 long
    candidate: np.ndarray  # int8
    confidence: np.ndarray  # int16, sum of the components
    entry: np.ndarray  # float64: the bar's close
    stop: np.ndarray
    target: np.ndarray
    reason: np.ndarray  # int8, a Reason
    details: Callable[[], Details] = field(repr=False, compare=False)

    def __len__(self) -> int:
        return int(self.direction.shape[0])

    @property
    def actionable(self) -> np.ndarray:
        return self.reason == Reason.OK

    @cached_property
    def _details(self) -> Details:
        return self.details()

    @property
    def components(self) -> dict[str, np.ndarray]:
        """Each confidence component's points per row (int16; zero where there is no candidate)."""
        return self._details[0]

    @property
    def market(self) -> np.ndarray:
        """The market condition per row, 0..100 (int16; 0 until warm)."""
        return self._details[1]

    @property
    def atr_pct(self) -> np.ndarray:
        """The ATR as a percentage of the close, per row (float64)."""
        return self._details[2]


Blocks = Callable[[], Iterator[tuple[slice, RuleInputs]]]
EAGER_ROWS = 4096  # up to this many rows (a scan has one per symbol) the details are worked out at once, in the pass


def _run(n: int, blocks: Blocks, p: SignalParams, detail: bool) -> Results:
    """Evaluate every block of rows into fresh result arrays (with the components and market when ``detail``)."""
    out = Results.empty(n, detail)
    scratch = Scratch(min(n, BLOCK))
    for rows, x in blocks():
        evaluate_block(x, p, out, rows, scratch)
    return out


def _details_of(out: Results) -> Details:
    assert out.components is not None and out.market is not None and out.atr_pct is not None  # noqa: S101
    return dict(zip(COMPONENTS, out.components, strict=True)), out.market, out.atr_pct


def _details(n: int, blocks: Blocks, p: SignalParams) -> Details:
    """Evaluate the rows again, this time with the details (the same code, so the same values)."""
    return _details_of(_run(n, blocks, p, True))


def _evaluate(n: int, blocks: Blocks, entry: np.ndarray, p: SignalParams) -> SignalArrays:
    eager = n <= EAGER_ROWS
    out = _run(n, blocks, p, eager)
    details = partial(_details_of, out) if eager else partial(_details, n, blocks, p)
    return SignalArrays(out.direction, out.candidate, out.confidence, entry, out.stop, out.target, out.reason,
                        details)


def _row_blocks(x: RuleInputs) -> Iterator[tuple[slice, RuleInputs]]:
    n = len(x.close)
    for lo in range(0, n, BLOCK):
        rows = slice(lo, min(lo + BLOCK, n))
        yield rows, RuleInputs(*(getattr(x, name)[rows] for name in _FIELDS))


def _indicator_blocks(ind: Indicators) -> Iterator[tuple[slice, RuleInputs]]:
    """Yield the rule inputs of every block of bars, the closed higher-timeframe EMAs repeated over each block's
    rows only (``RuleInputs.from_indicators`` would repeat them over the whole series first)."""
    n, edges = len(ind), ind.htf_edges()
    emas = [np.concatenate((_NAN, ema)) for ema in (ind.htf_ema_fast, ind.htf_ema_mid, ind.htf_ema_slow)]
    for lo in range(0, n, BLOCK):
        hi = min(lo + BLOCK, n)
        first, end = int(edges.searchsorted(lo, side="right")) - 1, int(edges.searchsorted(hi, side="left"))
        spans = np.diff(np.clip(edges[first:end + 1], lo, hi))  # the block's rows of bars first .. end - 1
        rows = slice(lo, hi)
        yield rows, RuleInputs(
            ind.close[rows], ind.volume[rows], ind.atr[rows], ind.rsi[rows], ind.bb_upper[rows], ind.bb_middle[rows],
            ind.bb_lower[rows], ind.adx[rows], ind.macd[rows], ind.macd_hist[rows], ind.volume_ma[rows],
            *(np.repeat(ema[first:end], spans) for ema in emas),
        )


def evaluate_rows(x: RuleInputs, p: SignalParams) -> SignalArrays:
    """Apply every rule to every row at once."""
    return _evaluate(len(x.close), partial(_row_blocks, x), x.close, p)


def evaluate_indicators(ind: Indicators, params: SignalParams) -> SignalArrays:
    """Evaluate the rules at every bar of already computed indicators (as ``evaluate_rows`` of
    ``RuleInputs.from_indicators(ind)`` would)."""
    return _evaluate(len(ind), partial(_indicator_blocks, ind), ind.close, params)


def evaluate_series(candles: CandleArrays, params: SignalParams) -> SignalArrays:
    """Compute the indicators and evaluate the rules at every bar, each bar seeing only bars up to itself."""
    return evaluate_indicators(compute_indicators(candles, params.indicators), params)
