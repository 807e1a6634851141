"""The "SMA crossover reference": the classic two-moving-average example of backtesting.py, to its semantics.

The rules, exactly (those of backtesting.py's ``SmaCross`` with ``crossover`` from ``backtesting.lib``):

* SMA ``fast`` (10) and SMA ``slow`` (20) of the closes, each the plain mean of its window.
* A **cross up** happens on a bar whose fast SMA is strictly above the slow one when, on the bar before, it was
  strictly below (``a[-2] < b[-2] and a[-1] > b[-1]``); a **cross down** is the mirror image. A tie on either bar
  is no cross, and the first bar with both SMAs is never one. A cross up closes any position and goes long; a
  cross down closes any position and goes short (so a second cross the same way, after a tie, closes the
  position and opens it again).
* Orders are market orders filled at the **next bar's open** (a cross on the last bar is never filled), with
  no slippage.
* Each entry uses **all the cash in whole units**: ``units = floor(cash / (price x (1 + commission)))``, where
  cash is what the account holds after closing the previous position (none once the cash is gone).
* **Commission** is a fraction of the traded value, paid on entry and on exit (default 0).
* **Out of money**: at the first close where the equity is at or below zero, the position is closed at that
  close (exit reason ``wiped_out``), the equity is 0 from that close on and trading stops, as in backtesting.py.
* No risk rules, no leverage, no funding. A position still open at the end counts in the final equity at the
  last close but not in the trade count.

Arithmetic: the prices are decimals of a few places (the tick) stored as floats. They are read back as exact
integers of their tick, so the SMAs are compared exactly — ``fast_mean > slow_mean`` is
``slow x fast_sum > fast x slow_sum`` on integer rolling sums, which neither drifts nor mistakes a tie for a
cross (a running float sum such as TA-Lib's drifts by ~1e-11, and pandas' rolling mean on the float prices
misses one tie in four on minute bars). Prices with more than 8 decimals are read through their shortest repr,
as Python integers (slower, as exact). The money is integer too: cash, units, P&L and commission are integers
of 10 ** -places, exact, turned into Decimal only where a figure is read (``ExactColumn``).

Accounting: buying u units at p costs u x p x (1 + c); selling u units short at p brings in u x p x (1 - c) and
buying them back at q costs u x q x (1 + c). So a trade from p to q changes the cash by
side x u x (q - p) - c x u x (p + q), and while it is open the equity is
cash - c x u x p + side x u x (price - p).

Speed: the SMAs, the crossings and the fills are numpy (the tick sums in int32 when their bound allows, which
halves the memory they stream); only the sizing runs in a loop, once per trade, on Python integers, with the
per-trade costs and price moves prepared in numpy; the trade table takes slices of the book, not per-trade
copies; the per-bar equity curve is a gather of per-trade coefficients, computed in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from riskmgr.backtest.outcome import ExactColumn, Outcome, TradeTable
from riskmgr.core.clock import from_ms
from riskmgr.core.domain import ZERO
from riskmgr.core.errors import ValidationError
from riskmgr.core.formatting import dec
from riskmgr.market.base import CandleArrays

MAX_PLACES = 8  # finer prices are read through their repr, as Python integers
SAMPLE = 1024  # the places are guessed on the first bars, then checked on all of them
INT64_ROOM = 2**62


def decimal_ticks(values: np.ndarray) -> tuple[np.ndarray, int] | None:
    """Return float prices as exact int64 multiples of 10 ** -places and the places (None: none up to 8 fit)."""
    if not values.size:
        return np.zeros(0, dtype=np.int64), 0
    found = _tick_floats(values)
    return None if found is None else (found[0].astype(np.int64), found[1])


def _tick_floats(values: np.ndarray) -> tuple[np.ndarray, int, float] | None:
    """Return the prices in units of their tick as whole floats (exact below 2 ** 53), the places and max |k|."""
    sample = values[:SAMPLE]
    for places in range(MAX_PLACES + 1):
        scale = 10.0**places
        if _exact_at(sample, scale) is None:
            continue
        found = _exact_at(values, scale) if values.size > SAMPLE else _exact_at(sample, scale)
        if found is not None:
            return found[0], places, found[1]
    return None


def _exact_at(values: np.ndarray, scale: float) -> tuple[np.ndarray, float] | None:
    """Return ``values`` x ``scale`` as whole floats and their largest magnitude when each value is exactly
    k x 10 ** -places (else None)."""
    # k / scale is the double nearest k x 10 ** -places, as parsing that decimal gives: equal means exactly it
    k = values * scale
    np.rint(k, out=k)
    top, bottom = float(k.max()), float(k.min())
    if not (top < 2**53 and bottom > -(2**53)):  # NaN fails both comparisons
        return None
    return (k, max(top, -bottom)) if np.array_equal(k / scale, values) else None


def exact_ints(values: np.ndarray) -> tuple[list[int], int]:
    """Return float prices as Python integers of 10 ** -places, exactly (their shortest repr when very fine)."""
    found = decimal_ticks(values)
    if found is not None:
        return found[0].tolist(), found[1]
    decimals = [Decimal(repr(float(v))) for v in values.tolist()]
    places = max(0, *(-int(d.as_tuple().exponent) for d in decimals))
    return [int(d.scaleb(places)) for d in decimals], places


def _integer_ticks(close: np.ndarray, slow: int) -> np.ndarray:
    """Return the closes as exact integers of their tick, in the narrowest dtype whose wrap cannot spoil the gaps.

    The window sums and the gap ``fast_sum x slow - slow_sum x fast`` are computed modulo 2 ** bits; they are
    exact whenever their true values fit, which ``2 x slow ** 2 x max |tick|`` bounds.
    """
    found = _tick_floats(close)
    if found is None:
        return np.array(exact_ints(close)[0], dtype=object)
    ticks, bound = found[0], found[2] * 2 * slow * slow
    for dtype, room in ((np.int32, 2**31), (np.int64, INT64_ROOM)):
        if bound < room:
            return ticks.astype(dtype)
    return np.array(ticks.astype(np.int64).tolist(), dtype=object)


def _sma_gaps(close: np.ndarray, fast: int, slow: int) -> np.ndarray:
    """Return (fast mean - slow mean) x fast x slow for every bar from ``slow - 1`` on, exactly (integers)."""
    n = close.shape[0]
    ticks = _integer_ticks(close, slow)
    sums = np.empty(n + 1, dtype=ticks.dtype)
    sums[0] = 0
    # integer cumulative sums may wrap on long series; their differences (the window sums) stay exact all the same
    with np.errstate(over="ignore"):
        np.cumsum(ticks, out=sums[1:])
        gap = np.subtract(sums[slow:], sums[slow - fast: n + 1 - fast])  # the fast window's sum
        gap *= slow
        scratch = np.subtract(sums[slow:], sums[: n + 1 - slow])  # the slow window's sum
        scratch *= fast
        gap -= scratch
    return gap


def sma_crosses(close: np.ndarray, fast: int, slow: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the bars where the fast SMA crosses the slow one and the side each cross takes (+1 up, -1 down)."""
    if not 2 <= fast < slow:
        raise ValidationError("sma_slow", f"the slow SMA ({slow}) must be longer than the fast one ({fast})")
    if close.shape[0] <= slow:  # at most one bar with both SMAs: no bar before it to cross from
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int8)
    gap = _sma_gaps(close, fast, slow)  # gap[j] belongs to bar j + slow - 1
    above, below = gap > 0, gap < 0
    # strictly below, then strictly above (or the reverse); a tie on either bar is no cross
    turned = (below[:-1] & above[1:]) | (above[:-1] & below[1:])
    bars = np.flatnonzero(turned) + slow
    sides = above[bars - (slow - 1)].astype(np.int8) * 2 - 1
    return bars, sides.astype(np.int8)


@dataclass
class _Book:
    """Every entry sized in integers of 10 ** -money_places (prices in 10 ** -price_places)."""

    prices: list[int]  # entry prices
    price_places: int
    money_places: int
    units: list[int]
    cash: list[int]  # before each entry, after closing the previous position
    gross: list[int]  # per closed trade
    fees: list[int]
    commission: Decimal
    sides: list[int]

    def money(self, value: int) -> Decimal:
        return Decimal(value).scaleb(-self.money_places)

    def price(self, k: int) -> Decimal:
        return Decimal(self.prices[k]).scaleb(-self.price_places)

    def equity_at(self, k: int, mark: Decimal) -> Decimal:
        """Return the exact equity with entry ``k`` open, marked at ``mark``."""
        u, p = Decimal(self.units[k]), self.price(k)
        return self.money(self.cash[k]) - self.commission * u * p + self.sides[k] * u * (mark - p)


def _size(prices: list[int], places: int, sides: list[int], commission: Decimal, capital: Decimal,
          ticks: np.ndarray | None = None) -> _Book:
    """Size every entry from the cash the previous trade left, in exact integers (``ticks``: the same prices as
    int64, when they fit)."""
    c_places = max(0, -int(commission.as_tuple().exponent))
    c_num, c_den = int(commission.scaleb(c_places)), 10**c_places
    money_places = max(places + c_places, -int(capital.as_tuple().exponent), 0)
    factor = 10 ** (money_places - places)
    cash = int(capital.scaleb(money_places))
    costs, moves, both = _steps(prices, ticks, sides, factor, c_den + c_num, c_num != 0)
    units: list[int] = []
    before: list[int] = []
    gross: list[int] = []
    keep_unit, keep_cash, keep_gross = units.append, before.append, gross.append
    if c_num == 0:  # no commission (c_den is 1): the loop the long runs take, kept to the bare arithmetic
        for cost, move in zip(costs, moves, strict=False):  # costs has one more: the entry still open
            u = cash // cost if cash > 0 else 0  # floor(cash / p)
            g = u * move
            keep_unit(u)
            keep_cash(cash)
            keep_gross(g)
            cash += g
        fees = [0] * len(gross)
    else:
        fees = []
        keep_fee = fees.append
        for cost, move, pair in zip(costs, moves, both, strict=False):
            u = cash * c_den // cost if cash > 0 else 0  # floor(cash / (p x (1 + c))), exactly
            g = u * move
            f = c_num * u * pair // c_den  # exact: factor carries at least c_places
            keep_unit(u)
            keep_cash(cash)
            keep_gross(g)
            keep_fee(f)
            cash += g - f
    if prices:  # the last entry, still open at the end
        units.append(cash * c_den // costs[-1] if cash > 0 else 0)
        before.append(cash)
    return _Book(prices, places, money_places, units, before, gross, fees, commission, sides)


def _steps(prices: list[int], ticks: np.ndarray | None, sides: list[int], factor: int, buy: int, fees: bool
           ) -> tuple[list[int], list[int], list[int]]:
    """Return per entry the cost of one unit with the commission (x c_den), and per trade the price move in the
    trade's favour and (with ``fees``) the two prices' sum, all in 10 ** -money_places (numpy where int64 holds
    them exactly)."""
    if ticks is not None and ticks.size and int(np.abs(ticks).max()) * 2 * factor * buy < INT64_ROOM:
        move = np.diff(ticks) * factor
        move *= np.array(sides[:-1], dtype=np.int64)
        both = ((ticks[:-1] + ticks[1:]) * factor).tolist() if fees else []
        return (ticks * (factor * buy)).tolist(), move.tolist(), both
    pairs = list(zip(prices, prices[1:], sides, strict=False))
    return ([p * factor * buy for p in prices], [(q - p) * factor * s for p, q, s in pairs],
            [(p + q) * factor for p, q, _ in pairs] if fees else [])


def run_sma_reference(
    candles: CandleArrays, bar_ms: int, *, fast: int, slow: int, commission: Decimal, capital: Decimal
) -> Outcome:
    """Run the reference on the bars (no warm-up: the SMAs start with the series, as in the tutorials)."""
    n = len(candles)
    crosses, sides = sma_crosses(candles.close, fast, slow)
    filled = crosses + 1 < n
    entry_bars, sides = crosses[filled] + 1, sides[filled]
    found = decimal_ticks(candles.open[entry_bars])
    ticks, (prices, places) = (found[0], (found[0].tolist(), found[1])) if found else (None, exact_ints(
        candles.open[entry_bars]))
    book = _size(prices, places, sides.tolist(), commission, capital, ticks)
    units_f = np.array(book.units, dtype=np.float64)
    equity = _equity_curve(candles, entry_bars, sides, units_f, book, capital)
    bust = _bust_bar(candles, entry_bars, equity, book, capital)
    if bust is not None:
        return _wiped_out(candles, bar_ms, crosses, entry_bars, sides, book, equity, bust, capital)
    trades = _trade_table(candles, entry_bars, sides, book, len(book.gross))
    final, open_view, open_fee = capital, None, ZERO
    if book.units:
        k = len(book.units) - 1
        last = Decimal(repr(float(candles.close[-1])))
        final = book.equity_at(k, last)
        u, p = Decimal(book.units[k]), book.price(k)
        open_fee = commission * u * p
        if u > 0:
            open_view = _open_view(int(sides[k]), u, p, int(candles.ts[entry_bars[k]]), last)
    return Outcome(
        notes=_notes(book, capital), ts=candles.ts, close=candles.close, bar_ms=bar_ms, first_bar=0, equity=equity,
        capital=capital, final_equity=final, trades=trades, open_position=open_view, open_fees=open_fee,
        signals=len(crosses), exposure_bars=_exposure(entry_bars, units_f, n),
    )


def _notes(book: _Book, capital: Decimal) -> dict[str, str]:
    if not book.units or any(book.units):
        return {}
    cheapest = min(book.price(k) for k in range(len(book.prices)))
    return {"trades": f"no entry bought a whole unit: {capital} USDT is less than one unit at {cheapest} or more "
                      "(the reference trades whole units only)"}


def _bust_bar(
    candles: CandleArrays, entry_bars: np.ndarray, equity: np.ndarray, book: _Book, capital: Decimal
) -> int | None:
    """Return the first close where the exact equity is at or below zero (None: never)."""
    slack = 1e-9 * max(float(capital), float(np.abs(equity).max(initial=0.0)))
    for t in np.flatnonzero(equity <= slack).tolist():  # float candidates, each confirmed exactly
        k = int(np.searchsorted(entry_bars, t, side="right")) - 1
        if k >= 0 and book.equity_at(k, Decimal(repr(float(candles.close[t])))) <= 0:
            return t
    return None


def _wiped_out(
    candles: CandleArrays, bar_ms: int, crosses: np.ndarray, entry_bars: np.ndarray, sides: np.ndarray, book: _Book,
    equity: np.ndarray, bust: int, capital: Decimal,
) -> Outcome:
    """Close the position at the close of bar ``bust``, where the equity reached zero, and stop there."""
    k = int(np.searchsorted(entry_bars, bust, side="right")) - 1  # the entry held at that close
    trades = _trade_table(candles, entry_bars, sides, book, k)
    u = book.units[k]
    if u > 0:
        close = Decimal(repr(float(candles.close[bust])))
        p = book.price(k)
        gross = int(sides[k]) * u * (close - p)  # a Python int: u x int8 would overflow past 127 units
        fee = book.commission * u * (p + close)
        _append_trade(trades, (int(candles.ts[entry_bars[k]]), int(candles.ts[bust]) + bar_ms),
                      (int(entry_bars[k]), bust, int(sides[k])), (Decimal(u), p, close, gross, fee))
    equity[bust:] = 0.0
    held = np.array(book.units[: k + 1], dtype=np.float64)
    exposure = _exposure(entry_bars[: k + 1], held, bust + 1)
    return Outcome(
        notes={"equity": f"the equity reached zero at {from_ms(int(candles.ts[bust]) + bar_ms).isoformat()}: "
                         "the position was closed at that close and trading stopped (as backtesting.py does)"},
        ts=candles.ts, close=candles.close, bar_ms=bar_ms, first_bar=0, equity=equity, capital=capital,
        final_equity=ZERO, trades=trades, signals=int(np.searchsorted(crosses, bust, side="right")),
        exposure_bars=exposure,
    )


def _append_trade(
    t: TradeTable, times: tuple[int, int], bars: tuple[int, int, int], figures: tuple[Decimal, ...]
) -> None:
    """Book a trade closed at a close (stamped with the close time, as the engine stamps such fills)."""
    qty, p, q, gross, fee = figures
    values = {"entry_bar": bars[0], "exit_bar": bars[1], "entry_ms": times[0], "exit_ms": times[1],
              "side": bars[2], "qty": qty, "entry_price": p, "exit_price": q, "gross_pnl": gross, "fees": fee,
              "funding": ZERO, "net_pnl": gross - fee, "reason": "wiped_out", "stop": None, "target": None}
    for name, value in values.items():
        column = getattr(t, name)
        if isinstance(column, ExactColumn):  # a closing figure of any precision: the column becomes plain Decimal
            column = list(column)
            setattr(t, name, column)
        column.append(value)


def _trade_table(candles: CandleArrays, entry_bars: np.ndarray, sides: np.ndarray, book: _Book, closed: int
                 ) -> TradeTable:
    """Book the first ``closed`` trades (each closed at the next entry); an entry of zero units is no trade."""
    units = book.units[:closed]
    if 0 in units:
        keep = [k for k in range(closed) if units[k] > 0]
        index = np.array(keep, dtype=np.int64)
        entry, exit_, side = entry_bars[index], entry_bars[index + 1], sides[index]
        qty, opened, shut = [units[k] for k in keep], [book.prices[k] for k in keep], [book.prices[k + 1] for k in keep]
        gross, fees = [book.gross[k] for k in keep], [book.fees[k] for k in keep]
    else:  # every entry bought units (the usual case): slices, no per-trade Python work
        entry, exit_, side = entry_bars[:closed], entry_bars[1: closed + 1], sides[:closed]
        qty, opened, shut = units, book.prices[:closed], book.prices[1: closed + 1]
        gross, fees = book.gross[:closed], book.fees[:closed]
    net = list(gross) if book.commission == 0 else [g - f for g, f in zip(gross, fees, strict=True)]
    money, count = book.money_places, len(qty)
    # the money columns are ExactColumns (outcome.py): read like the engine's list[Decimal], never appended to
    return TradeTable(
        entry_bar=entry.tolist(), exit_bar=exit_.tolist(), entry_ms=candles.ts[entry].tolist(),
        exit_ms=candles.ts[exit_].tolist(), side=side.tolist(),
        qty=ExactColumn(qty, 0),  # type: ignore[arg-type]  # read-only, it reads as list[Decimal]
        entry_price=ExactColumn(opened, book.price_places),  # type: ignore[arg-type]  # read-only, it reads as list[Decimal]
        exit_price=ExactColumn(shut, book.price_places),  # type: ignore[arg-type]  # read-only, it reads as list[Decimal]
        gross_pnl=ExactColumn(gross, money),  # type: ignore[arg-type]  # read-only, it reads as list[Decimal]
        fees=ExactColumn(fees, money),  # type: ignore[arg-type]  # read-only, it reads as list[Decimal]
        net_pnl=ExactColumn(net, money),  # type: ignore[arg-type]  # read-only, it reads as list[Decimal]
        funding=[ZERO] * count, reason=["cross"] * count, stop=[None] * count, target=[None] * count,
    )


def _equity_curve(
    candles: CandleArrays, entry_bars: np.ndarray, sides: np.ndarray, u: np.ndarray, book: _Book, capital: Decimal
) -> np.ndarray:
    """Return the equity at every close: a + b x close, with a and b constant over each trade (float64)."""
    n = len(candles)
    equity = np.full(n, float(capital))
    if not u.size:
        return equity
    p = candles.open[entry_bars]
    cash = np.array(book.cash, dtype=np.float64) / 10.0**book.money_places
    b = sides * u
    a = cash - float(book.commission) * u * p - b * p
    spans = np.diff(np.append(entry_bars, n))
    first = int(entry_bars[0])
    held = equity[first:]  # a + b x close, computed in place: the same figures, without two more curves
    np.multiply(np.repeat(b, spans), candles.close[first:], out=held)
    held += np.repeat(a, spans)
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
