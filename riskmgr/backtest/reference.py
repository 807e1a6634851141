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

Speed: the SMAs, the crossings and the fills are numpy; only the sizing runs in a loop, once per trade, on
Python integers; the per-bar equity curve is a gather of per-trade coefficients.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from riskmgr.backtest.outcome import ExactColumn, Outcome, TradeTable
from riskmgr.clock import from_ms
from riskmgr.domain import ZERO
from riskmgr.errors import ValidationError
from riskmgr.formatting import dec
from riskmgr.market.base import CandleArrays

MAX_PLACES = 8  # finer prices are read through their repr, as Python integers
SAMPLE = 1024  # the places are guessed on the first bars, then checked on all of them
INT64_ROOM = 2**62


def decimal_ticks(values: np.ndarray) -> tuple[np.ndarray, int] | None:
    """Return float prices as exact int64 multiples of 10 ** -places and the places (None: none up to 8 fit)."""
    if not values.size:
        return np.zeros(0, dtype=np.int64), 0
    sample = values[:SAMPLE]
    for places in range(MAX_PLACES + 1):
        scale = 10.0**places
        if _exact_at(sample, scale) and (values.size <= SAMPLE or _exact_at(values, scale)):
            return np.rint(values * scale).astype(np.int64), places
    return None


def _exact_at(values: np.ndarray, scale: float) -> bool:
    # k / scale is the double nearest k x 10 ** -places, as parsing that decimal gives: equal means exactly it
    k = np.rint(values * scale)
    return bool(np.abs(k).max() < 2**53) and bool(np.array_equal(k / scale, values))


def exact_ints(values: np.ndarray) -> tuple[list[int], int]:
    """Return float prices as Python integers of 10 ** -places, exactly (their shortest repr when very fine)."""
    found = decimal_ticks(values)
    if found is not None:
        return found[0].tolist(), found[1]
    decimals = [Decimal(repr(float(v))) for v in values.tolist()]
    places = max(0, *(-int(d.as_tuple().exponent) for d in decimals))
    return [int(d.scaleb(places)) for d in decimals], places


def sma_sides(close: np.ndarray, fast: int, slow: int) -> np.ndarray:
    """Return each bar's side of the fast SMA against the slow one, exactly: +1 above, -1 below, 0 tie or warm-up."""
    n = close.shape[0]
    state = np.zeros(n, dtype=np.int8)
    if n < slow:
        return state
    found = decimal_ticks(close)
    if found is not None and int(np.abs(found[0]).max()) * slow * slow < INT64_ROOM:
        ticks: np.ndarray = found[0]
    else:
        ticks = np.array(exact_ints(close)[0] if found is None else found[0].tolist(), dtype=object)
    # int64 cumulative sums may wrap on long series; their differences (the window sums) stay exact all the same
    with np.errstate(over="ignore"):
        sums = np.concatenate((np.zeros(1, dtype=ticks.dtype), np.cumsum(ticks)))
        slow_sum = sums[slow:] - sums[: n + 1 - slow]
        fast_sum = sums[slow:] - sums[slow - fast: n + 1 - fast]
        gap = fast_sum * slow - slow_sum * fast  # fast mean - slow mean, times fast x slow
    state[slow - 1:] = (gap > 0).astype(np.int8) - (gap < 0).astype(np.int8)
    return state


def sma_crosses(close: np.ndarray, fast: int, slow: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the bars where the fast SMA crosses the slow one and the side each cross takes (+1 up, -1 down)."""
    if not 2 <= fast < slow:
        raise ValidationError("sma_slow", f"the slow SMA ({slow}) must be longer than the fast one ({fast})")
    state = sma_sides(close, fast, slow)
    bars = np.flatnonzero(state[:-1] * state[1:] < 0) + 1  # strictly below, then strictly above (or the reverse)
    return bars, state[bars]


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


def _size(prices: list[int], places: int, sides: list[int], commission: Decimal, capital: Decimal) -> _Book:
    """Size every entry from the cash the previous trade left, in exact integers."""
    c_places = max(0, -int(commission.as_tuple().exponent))
    c_num, c_den = int(commission.scaleb(c_places)), 10**c_places
    money_places = max(places + c_places, -int(capital.as_tuple().exponent), 0)
    factor = 10 ** (money_places - places)
    cash = int(capital.scaleb(money_places))
    units: list[int] = []
    before: list[int] = []
    gross: list[int] = []
    fees: list[int] = []
    buy = c_den + c_num
    for k, p in enumerate(prices):
        u = cash * c_den // (p * factor * buy) if cash > 0 else 0  # floor(cash / (p x (1 + c))), exactly
        units.append(u)
        before.append(cash)
        if k + 1 < len(prices):
            q = prices[k + 1]
            g = u * (q - p) * factor if sides[k] > 0 else u * (p - q) * factor
            f = c_num * u * (p + q) * factor // c_den  # exact: factor carries at least c_places
            gross.append(g)
            fees.append(f)
            cash += g - f
    return _Book(prices, places, money_places, units, before, gross, fees, commission, sides)


def run_sma_reference(
    candles: CandleArrays, bar_ms: int, *, fast: int, slow: int, commission: Decimal, capital: Decimal
) -> Outcome:
    """Run the reference on the bars (no warm-up: the SMAs start with the series, as in the tutorials)."""
    n = len(candles)
    crosses, sides = sma_crosses(candles.close, fast, slow)
    filled = crosses + 1 < n
    entry_bars, sides = crosses[filled] + 1, sides[filled]
    prices, places = exact_ints(candles.open[entry_bars])
    book = _size(prices, places, sides.tolist(), commission, capital)
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
        gross = sides[k] * u * (close - p)
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
    keep = [k for k in range(closed) if units[k] > 0] if 0 in units else list(range(closed))
    index = np.array(keep, dtype=np.int64)
    entry, exit_ = entry_bars[index], entry_bars[index + 1]
    money = book.money_places
    gross = [book.gross[k] for k in keep]
    fees = [book.fees[k] for k in keep]
    return TradeTable(
        entry_bar=entry.tolist(), exit_bar=exit_.tolist(), entry_ms=candles.ts[entry].tolist(),
        exit_ms=candles.ts[exit_].tolist(), side=sides[index].tolist(),
        qty=ExactColumn([units[k] for k in keep], 0),
        entry_price=ExactColumn([book.prices[k] for k in keep], book.price_places),
        exit_price=ExactColumn([book.prices[k + 1] for k in keep], book.price_places),
        gross_pnl=ExactColumn(gross, money), fees=ExactColumn(fees, money),
        net_pnl=ExactColumn([g - f for g, f in zip(gross, fees, strict=True)], money),
        funding=[ZERO] * len(keep), reason=["cross"] * len(keep), stop=[None] * len(keep), target=[None] * len(keep),
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
