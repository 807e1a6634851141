"""The "SMA crossover reference": the classic two-moving-average example of Python backtesting tutorials.

The rules, exactly:

* SMA ``fast`` (10) and SMA ``slow`` (20) of the closes (``indicators.sma``).
* A **cross up** happens on a bar whose fast SMA is above the slow one when, on the most recent earlier bar
  where the two differed, it was below; a **cross down** is the mirror image. The first bar with both SMAs is
  never a cross. A cross up closes any short and goes long; a cross down closes any long and goes short, so
  after the first cross the strategy is always in the market.
* Orders are market orders filled at the **next bar's open** (a cross on the last bar is never filled), with
  no slippage.
* Each entry uses **all the cash in whole units**: ``units = floor(cash / (price x (1 + commission)))``, where
  cash is what the account holds after closing the previous position (none once the cash is gone).
* **Commission** is a fraction of the traded value, paid on entry and on exit (default 0).
* No risk rules, no leverage, no funding. A position still open at the end counts in the final equity at the
  last close but not in the trade count.

Accounting: buying u units at p costs u x p x (1 + c); selling u units short at p brings in u x p x (1 - c) and
buying them back at q costs u x q x (1 + c). So a trade from p to q changes the cash by
side x u x (q - p) - c x u x (p + q), and while it is open the equity is
cash - c x u x p + side x u x (price - p).

Speed: the SMAs, the crossings and the fills are numpy; only the sizing runs in a loop, once per trade (each
trade's size depends on the cash the previous one left, rounded down to whole units); the per-bar equity curve
is a gather of per-trade coefficients.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from riskmgr.backtest.outcome import Outcome, TradeTable
from riskmgr.clock import from_ms
from riskmgr.domain import ZERO
from riskmgr.errors import ValidationError
from riskmgr.formatting import dec
from riskmgr.indicators import sma
from riskmgr.market.base import CandleArrays

ONE = Decimal(1)


def sma_crosses(close: np.ndarray, fast: int, slow: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the bars where the fast SMA crosses the slow one and the side each cross takes (+1 up, -1 down)."""
    if not 2 <= fast < slow:
        raise ValidationError("sma_slow", f"the slow SMA ({slow}) must be longer than the fast one ({fast})")
    state = np.sign(sma(close, fast) - sma(close, slow))
    state[: slow - 1] = 0.0  # the warm-up bars (NaN) carry no side
    ties = np.flatnonzero(state == 0)
    if ties.size > slow - 1:
        # carry the last non-zero sign forward, so that touching without crossing is no cross
        last = np.where(state != 0, np.arange(state.shape[0]), -1)
        np.maximum.accumulate(last, out=last)
        state = np.where(last >= 0, state[np.maximum(last, 0)], 0.0)
    bars = np.flatnonzero((state[1:] != state[:-1]) & (state[:-1] != 0)) + 1
    return bars, state[bars].astype(np.int8)


def run_sma_reference(
    candles: CandleArrays, bar_ms: int, *, fast: int, slow: int, commission: Decimal, capital: Decimal
) -> Outcome:
    """Run the reference on the bars (no warm-up: the SMAs start with the series, as in the tutorials)."""
    n = len(candles)
    crosses, sides = sma_crosses(candles.close, fast, slow)
    filled = crosses + 1 < n
    entry_bars, sides = crosses[filled] + 1, sides[filled]
    prices = list(map(Decimal, map(repr, candles.open[entry_bars].tolist())))
    units, gross, fees, final_cash = _size_trades(prices, sides.tolist(), commission, capital)
    units_f = np.fromiter(map(float, units), dtype=np.float64, count=len(units))
    trades = _trade_table(candles, entry_bars, sides, prices, units, units_f, gross, fees)
    final, open_view, open_fee = capital, None, ZERO
    if units:
        side, u, p = int(sides[-1]), units[-1], prices[-1]
        last = Decimal(repr(float(candles.close[-1])))
        open_fee = commission * u * p
        final = final_cash - open_fee + side * u * (last - p)
        if u > 0:
            open_view = _open_view(side, u, p, int(candles.ts[entry_bars[-1]]), last)
    notes = {}
    if units and not (units_f > 0).any():
        notes["trades"] = (f"no entry bought a whole unit: {capital} USDT is less than one unit at "
                           f"{min(prices)} or more (the reference trades whole units only)")
    return Outcome(
        notes=notes, ts=candles.ts, close=candles.close, bar_ms=bar_ms, first_bar=0,
        equity=_equity_curve(candles, entry_bars, sides, units_f, commission, capital), capital=capital,
        final_equity=final, trades=trades, open_position=open_view, open_fees=open_fee, signals=len(crosses),
        exposure_bars=_exposure(entry_bars, units_f, n),
    )


def _size_trades(
    prices: list[Decimal], sides: list[int], commission: Decimal, capital: Decimal
) -> tuple[list[Decimal], list[Decimal], list[Decimal] | None, Decimal]:
    """Size every entry from the cash the previous trade left; return units, each closed trade's price P&L and
    commission (None when there is none), and the cash after the last close."""
    units: list[Decimal] = []
    gross: list[Decimal] = []
    if commission == 0:
        cash = capital
        for p, q, side in zip(prices, prices[1:], sides, strict=False):
            u = cash // p if cash > 0 else ZERO  # // is the exact whole part: floor for positive numbers
            g = u * (q - p) if side > 0 else u * (p - q)
            units.append(u)
            gross.append(g)
            cash += g
        if prices:
            units.append(cash // prices[-1] if cash > 0 else ZERO)
        return units, gross, None, cash
    fees: list[Decimal] = []
    cash, buy_factor = capital, ONE + commission
    for p, q, side in zip(prices, prices[1:], sides, strict=False):
        u = cash // (p * buy_factor) if cash > 0 else ZERO
        g = u * (q - p) if side > 0 else u * (p - q)
        f = commission * u * (p + q)
        units.append(u)
        gross.append(g)
        fees.append(f)
        cash += g - f
    if prices:
        units.append(cash // (prices[-1] * buy_factor) if cash > 0 else ZERO)
    return units, gross, fees, cash


def _trade_table(
    candles: CandleArrays, entry_bars: np.ndarray, sides: np.ndarray, prices: list[Decimal], units: list[Decimal],
    units_f: np.ndarray, gross: list[Decimal], fees: list[Decimal] | None,
) -> TradeTable:
    """Book every closed trade (the last entry is still open); an entry of zero units is no trade."""
    closed = len(gross)
    held = units_f[:closed] > 0
    if held.all():
        index = np.arange(closed)
        pick = lambda column: column[:closed]  # noqa: E731 - a one-line selector for the common case
    else:
        index = np.flatnonzero(held)
        keep = index.tolist()
        pick = lambda column: [column[k] for k in keep]  # noqa: E731
    count = int(index.shape[0])
    entry, exit_ = entry_bars[index], entry_bars[index + 1]
    booked_gross = pick(gross)
    booked_fees = pick(fees) if fees is not None else [ZERO] * count
    net = [g - f for g, f in zip(booked_gross, booked_fees, strict=True)] if fees is not None else booked_gross
    return TradeTable(
        entry_bar=entry.tolist(), exit_bar=exit_.tolist(), entry_ms=candles.ts[entry].tolist(),
        exit_ms=candles.ts[exit_].tolist(), side=sides[index].tolist(), qty=pick(units), entry_price=pick(prices),
        exit_price=pick(prices[1:]), gross_pnl=booked_gross, fees=booked_fees, funding=[ZERO] * count, net_pnl=net,
        reason=["cross"] * count, stop=[None] * count, target=[None] * count,
    )


def _equity_curve(
    candles: CandleArrays, entry_bars: np.ndarray, sides: np.ndarray, u: np.ndarray, commission: Decimal,
    capital: Decimal,
) -> np.ndarray:
    """Return the equity at every close: a + b x close, with a and b constant over each trade (float64)."""
    n = len(candles)
    equity = np.full(n, float(capital))
    if not u.size:
        return equity
    p = candles.open[entry_bars]
    c = float(commission)
    b = sides * u
    # cash before each entry: the capital plus every earlier trade's price P&L less its commission
    change = b[:-1] * (p[1:] - p[:-1]) - c * u[:-1] * (p[:-1] + p[1:])
    cash = float(capital) + np.concatenate(([0.0], np.cumsum(change)))
    a = cash - c * u * p - b * p
    spans = np.diff(np.append(entry_bars, n))
    first = int(entry_bars[0])
    equity[first:] = np.repeat(a, spans) + np.repeat(b, spans) * candles.close[first:]
    return equity


def _exposure(entry_bars: np.ndarray, u: np.ndarray, n: int) -> int:
    if not u.size:
        return 0
    spans = np.diff(np.append(entry_bars, n))
    return int(spans[u > 0].sum())


def _open_view(side: int, u: Decimal, p: Decimal, ms: int, last: Decimal) -> dict[str, object]:
    return {
        "side": "long" if side > 0 else "short", "qty": dec(u), "entry_price": dec(p),
        "entry_time": from_ms(ms).isoformat(), "mark_price": dec(last), "unrealized_pnl": dec(side * u * (last - p)),
        "stop_loss": None, "take_profit": None,
    }
