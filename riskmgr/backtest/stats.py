"""Statistics of a backtest, from its equity curve (marked at every bar's close) and its closed trades.

Definitions (each figure is None, with a note saying why, when it cannot be computed):

* **Total return**: final equity / starting capital - 1.
* **CAGR**: (final / capital) ^ (1 / years) - 1, years = the run's span / 365.25 days; -100 % once equity is gone.
* **Max drawdown**: the largest fall of equity from its running peak, in percent of that peak, over the closes
  (the capital counts as the first point). Its **duration** runs from that peak to the close where equity first
  got back to it (or to the end, marked not recovered). **Longest drawdown** is the longest such spell of any
  depth.
* **Sharpe** and **Sortino**: from daily returns (equity at each UTC day's last close, the capital before the
  first), annualised with the square root of 365 (crypto trades every day), no risk-free rate. Sharpe divides
  the mean by the sample standard deviation; Sortino by the downside deviation, the root mean square of the
  negative returns (zero counting for the others). They need at least two daily returns.
* **Calmar**: CAGR / max drawdown.
* **Win rate**: closed trades with a positive net P&L (after fees and funding) / closed trades. **Profit
  factor**: the sum of winning trades' net P&L / the absolute sum of losing ones. **Expectancy**: the mean net
  P&L per closed trade. **Longest losing streak**: the most closed trades in a row with a negative net P&L.
* **Exposure**: the share of bars during which a position was open.
* **Fees paid** include those of a position still open at the end; **funding** is what was received (negative:
  paid).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from riskmgr.backtest.outcome import ExactColumn, Outcome, column_total
from riskmgr.core.clock import from_ms
from riskmgr.core.formatting import dec

DAY_MS = 86_400_000
YEAR_DAYS = 365.25
ANNUAL = math.sqrt(365)
HUNDRED = Decimal(100)
CENTS = Decimal("0.00000001")  # averages of money are shown to 8 decimals (no exchange counts finer)


def _money(value: Decimal) -> str | None:
    return dec(value.quantize(CENTS))


def compute_stats(o: Outcome) -> dict[str, Any]:
    """Return every statistic of the run, JSON-safe (money as strings, ratios as floats), plus ``notes``."""
    notes: dict[str, str] = dict(o.notes)
    clock = Clock(int(o.ts[o.first_bar]), o.ts[o.first_bar:], o.bar_ms)
    capital, curve = float(o.capital), o.equity[o.first_bar:]
    start_ms, end_ms = clock.start_ms, clock.at(len(curve))
    years = (end_ms - start_ms) / DAY_MS / YEAR_DAYS
    ratio = o.final_equity / o.capital
    out: dict[str, Any] = {
        "start": from_ms(start_ms).isoformat(),
        "end": from_ms(end_ms).isoformat(),
        "bars": len(curve),
        "capital": dec(o.capital),
        "final_equity": dec(o.final_equity),
        "net_profit": dec(o.final_equity - o.capital),
        "total_return_pct": _round(float((ratio - 1) * HUNDRED)),
        "cagr_pct": _cagr(ratio, years, notes),
    }
    out.update(drawdowns(clock, capital, curve))
    out.update(_ratios(clock, capital, curve, notes))
    max_dd = out["max_drawdown_pct"]
    out["calmar"] = _round(out["cagr_pct"] / max_dd) if out["cagr_pct"] is not None and max_dd else None
    if out["calmar"] is None:
        notes.setdefault("calmar", "needs a CAGR and a drawdown above zero")
    out.update(trade_stats(o, notes))
    out["exposure_pct"] = _round(100.0 * o.exposure_bars / max(len(curve), 1))
    out["fees_paid"] = dec(o.fees_paid())
    out["funding"] = dec(o.funding)
    out["signals"] = o.signals
    out["notes"] = notes
    return out


def _round(value: float | None, places: int = 4) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value, places)


def _cagr(ratio: Decimal, years: float, notes: dict[str, str]) -> float | None:
    if years <= 0:
        notes["cagr_pct"] = "the run spans no time"
        return None
    if ratio <= 0:
        return -100.0
    if years < 30 / YEAR_DAYS:
        notes["cagr_pct"] = f"annualised from {years * YEAR_DAYS:.1f} days: read it with care"
    try:
        return _round((float(ratio) ** (1 / years) - 1) * 100)
    except OverflowError:
        notes["cagr_pct"] = f"too large to show (annualised from {years * YEAR_DAYS:.1f} days)"
        return None


@dataclass(frozen=True)
class Clock:
    """The time of each point of the equity series: point 0 is the capital at the start, point j >= 1 the close
    of bar j - 1 (its open time plus the bar). Read point by point: no array of close times is built."""

    start_ms: int
    opens: np.ndarray  # open times of the bars that count
    bar_ms: int

    def at(self, j: int) -> int:
        return self.start_ms if j == 0 else int(self.opens[j - 1]) + self.bar_ms

    def many(self, j: np.ndarray) -> np.ndarray:
        return np.where(j > 0, self.opens[np.maximum(j - 1, 0)] + self.bar_ms, self.start_ms)


def drawdowns(clock: Clock, capital: float, curve: np.ndarray) -> dict[str, Any]:
    """Return the max drawdown (percent, its peak, trough, recovery and duration) and the longest drawdown.

    The series is the capital followed by ``curve`` (the equity at each close); the point indices below count
    the capital as point 0, as the definitions do. Vectorised in place: two float curves (running peak and
    fall), whatever the length.
    """
    peak = np.maximum.accumulate(curve)
    np.maximum(peak, capital, out=peak)  # the capital is the first point
    fall = np.subtract(peak, curve)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(fall, peak, out=fall)
    if not (capital > 0 and peak[-1] > 0):  # a peak at or below zero (or undefined) has no fall
        fall[~(peak > 0)] = 0.0
    j = int(np.argmax(fall))
    deepest = float(fall[j])
    trough = 0 if deepest <= 0 else j + 1  # the capital's own fall is 0, first among equals
    depth = 0.0 if trough == 0 else deepest
    top, until, recovered = _peak_and_recovery(curve, peak, trough, depth)
    return {
        "max_drawdown_pct": _round(depth * 100),
        "max_drawdown_peak_at": from_ms(clock.at(top)).isoformat(),
        "max_drawdown_trough_at": from_ms(clock.at(trough)).isoformat(),
        "max_drawdown_recovered_at": from_ms(clock.at(until)).isoformat() if recovered else None,
        "max_drawdown_duration_s": (clock.at(until) - clock.at(top)) // 1000 if depth > 0 else 0,
        "longest_drawdown_s": _longest_spell(clock, fall > 0) // 1000,
    }


def _peak_and_recovery(curve: np.ndarray, peak: np.ndarray, trough: int, depth: float) -> tuple[int, int, bool]:
    """Return the point of the peak before the trough (the last one at that level), the point where equity got
    back to it (or the last point) and whether it did."""
    if trough == 0:
        return 0, len(curve), False
    level = peak[trough - 1]
    hits = curve[:trough][::-1] == level  # points trough, trough - 1, ..., 1
    back = int(np.argmax(hits))
    top = trough - back if hits[back] else 0  # else the peak is the capital itself
    if not depth > 0:
        return top, len(curve), False
    again = curve[trough - 1:] >= level
    first = int(np.argmax(again))
    return (top, trough + first, True) if again[first] else (top, len(curve), False)


def _longest_spell(clock: Clock, below: np.ndarray) -> int:
    """Return the longest time from a peak to the recovery (or the end) over the spells below the peak.

    ``below[e]`` says whether point e + 1 is under water (point 0, the capital, never is).
    """
    if not below.any():
        return 0
    n = below.shape[0]
    changes = np.flatnonzero(below[1:] != below[:-1]) + 1
    changes = np.concatenate(([0] if below[0] else [], changes, [n] if below[-1] else [])).astype(np.int64)
    starts, stops = changes[0::2], changes[1::2]
    # a spell starts at the peak just before its first point under water and ends where equity is back
    spans = clock.many(np.minimum(stops + 1, n)) - clock.many(starts)
    return int(spans.max())


def _ratios(clock: Clock, capital: float, curve: np.ndarray, notes: dict[str, str]) -> dict[str, Any]:
    # a close at midnight ends the day before it, hence the millisecond taken off; each UTC day's last close
    opens, shift = clock.opens, clock.bar_ms - 1  # a close less a millisecond is its open plus ``shift``
    first_day, last_day = (int(opens[0]) + shift) // DAY_MS, (int(opens[-1]) + shift) // DAY_MS
    edges = np.arange(first_day + 1, last_day + 1) * DAY_MS
    last_of_day = np.unique(np.append(np.searchsorted(opens, edges - shift, side="left") - 1, curve.size - 1))
    last_of_day = last_of_day[last_of_day >= 0]
    daily = np.concatenate(([capital], curve[last_of_day]))
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


def trade_stats(o: Outcome, notes: dict[str, str]) -> dict[str, Any]:
    """Return the closed trades' count, win rate, profit factor, expectancy and longest losing streak."""
    t = o.trades
    count = len(t)
    if count == 0:
        notes["trades"] = "no closed trade"
        return {"trades": 0, "win_rate_pct": None, "profit_factor": None, "expectancy": None,
                "average_win": None, "average_loss": None, "best_trade": None, "worst_trade": None,
                "longest_losing_streak": 0}
    net, won, lost, total = _net_totals(t.net_pnl, t)
    wins, losses = net > 0, net < 0
    if not losses.any():
        notes["profit_factor"] = "no losing trade"
    best, worst = int(np.argmax(net)), int(np.argmin(net))
    return {
        "trades": count,
        "win_rate_pct": _round(100.0 * int(wins.sum()) / count),
        "profit_factor": _round(float(won / -lost)) if lost < 0 else None,
        "expectancy": _money(total / count),
        "average_win": _money(won / int(wins.sum())) if wins.any() else None,
        "average_loss": _money(lost / int(losses.sum())) if losses.any() else None,
        "best_trade": dec(t.net_pnl[best]),
        "worst_trade": dec(t.net_pnl[worst]),
        "longest_losing_streak": longest_run(losses),
    }


def _net_totals(column: Any, t: Any) -> tuple[np.ndarray, Decimal, Decimal, Decimal]:
    """Return the net P&L as float64, and the exact sums of the winning, the losing and all trades.

    An exact integer column (the SMA reference's) that int64 holds is summed in numpy, exactly (its bound is
    checked), instead of picking tens of thousands of Python integers one by one."""
    if isinstance(column, ExactColumn) and column.ints:
        ints = np.array(column.ints)
        if ints.dtype == np.int64 and max(int(ints.max()), -int(ints.min())) * len(ints) < 2**63:
            net = ints / 10.0**column.places  # the same floats as ExactColumn.floats()

            def exact(picked: np.ndarray) -> Decimal:
                return Decimal(int(picked.sum())).scaleb(-column.places)

            return net, exact(ints[net > 0]), exact(ints[net < 0]), exact(ints)
    net = t.net_array()
    won = column_total(column, np.flatnonzero(net > 0).tolist())
    lost = column_total(column, np.flatnonzero(net < 0).tolist())
    return net, won, lost, column_total(column)


def longest_run(flags: np.ndarray) -> int:
    """Return the length of the longest run of True."""
    if not flags.any():
        return 0
    edges = np.diff(np.concatenate(([0], flags.astype(np.int8), [0])))
    return int((np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)).max())


def duration_text(seconds: int | None) -> str:
    """Describe a duration in days, hours and minutes ("3 d 4 h 10 min")."""
    if seconds is None:
        return "—"
    delta = timedelta(seconds=seconds)
    days, rest = delta.days, delta.seconds
    parts = [f"{days} d"] if days else []
    if rest // 3600:
        parts.append(f"{rest // 3600} h")
    if rest % 3600 // 60 or not parts:
        parts.append(f"{rest % 3600 // 60} min")
    return " ".join(parts)
