"""The statistics of the equity curve computed the straightforward way: the oracle of the vectorised ``stats``.

This is ``riskmgr.backtest.stats`` as it was before it was vectorised in place (issue 15): whole arrays of the
capital followed by the equity and of every close time, the fall from the running peak as ``np.where`` over them,
the spells below the peak from the edges of a 0/1 series. Kept verbatim, so a test can show that the faster
code gives the same figures, to the last digit, on random curves.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from riskmgr.backtest.outcome import Outcome
from riskmgr.core.clock import from_ms

DAY_MS = 86_400_000
ANNUAL = math.sqrt(365)


def _round(value: float | None, places: int = 4) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value, places)


def curve_stats(o: Outcome) -> dict[str, Any]:
    """Return the statistics that come from the equity curve (drawdowns, Sharpe, Sortino), and the notes."""
    notes: dict[str, str] = {}
    closes = o.ts[o.first_bar:] + o.bar_ms
    equity = np.concatenate(([float(o.capital)], o.equity[o.first_bar:]))
    times = np.concatenate(([int(o.ts[o.first_bar])], closes))
    out = {"start": from_ms(int(times[0])).isoformat(), "end": from_ms(int(times[-1])).isoformat(),
           "bars": len(closes)}
    out.update(drawdowns(times, equity))
    out.update(ratios(times, equity, notes))
    out["notes"] = notes
    return out


def drawdowns(times: np.ndarray, equity: np.ndarray) -> dict[str, Any]:
    peak = np.maximum.accumulate(equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        fall = np.where(peak > 0, (peak - equity) / peak, 0.0)
    trough = int(np.argmax(fall))
    top = trough - int(np.argmax(equity[: trough + 1][::-1] == peak[trough]))
    back = np.flatnonzero(equity[trough:] >= peak[trough])
    recovered = bool(back.size) and fall[trough] > 0
    until = trough + int(back[0]) if back.size else len(equity) - 1
    below = fall > 0
    longest_ms = longest_spell(times, below)
    return {
        "max_drawdown_pct": _round(float(fall[trough]) * 100),
        "max_drawdown_peak_at": from_ms(int(times[top])).isoformat(),
        "max_drawdown_trough_at": from_ms(int(times[trough])).isoformat(),
        "max_drawdown_recovered_at": from_ms(int(times[until])).isoformat() if recovered else None,
        "max_drawdown_duration_s": int((times[until] - times[top]) // 1000) if fall[trough] > 0 else 0,
        "longest_drawdown_s": longest_ms // 1000,
    }


def longest_spell(times: np.ndarray, below: np.ndarray) -> int:
    if not below.any():
        return 0
    edges = np.diff(np.concatenate(([0], below.astype(np.int8), [0])))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    last = len(times) - 1
    spans = times[np.minimum(stops, last)] - times[np.maximum(starts - 1, 0)]
    return int(spans.max())


def ratios(times: np.ndarray, equity: np.ndarray, notes: dict[str, str]) -> dict[str, Any]:
    closes = times[1:] - 1
    edges = np.arange(closes[0] // DAY_MS + 1, closes[-1] // DAY_MS + 1) * DAY_MS
    last_of_day = np.unique(np.append(np.searchsorted(closes, edges, side="left") - 1, closes.size - 1))
    last_of_day = last_of_day[last_of_day >= 0]
    daily = np.concatenate(([equity[0]], equity[1:][last_of_day]))
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = daily[1:] / daily[:-1] - 1
    returns = returns[np.isfinite(returns)]
    if returns.size < 2:
        notes["sharpe"] = notes["sortino"] = "needs at least two daily returns"
        return {"sharpe": None, "sortino": None, "daily_returns": int(returns.size)}
    mean, sd = float(returns.mean()), float(returns.std(ddof=1))
    downside = float(np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2)))
    if sd == 0:
        notes["sharpe"] = "daily returns do not vary"
    if downside == 0:
        notes["sortino"] = "no losing day"
    return {
        "sharpe": _round(mean / sd * ANNUAL) if sd > 0 else None,
        "sortino": _round(mean / downside * ANNUAL) if downside > 0 else None,
        "daily_returns": int(returns.size),
    }
