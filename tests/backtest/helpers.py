"""Builders for backtest tests: bars, a contract, engine settings, injected signals and the oracles."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from riskmgr.backtest.account import EngineConfig, SimAccount
from riskmgr.backtest.decisions import EntrySignals, decide
from riskmgr.backtest.engine import EngineInput, build_series
from riskmgr.backtest.outcome import Outcome
from riskmgr.backtest.polling import step
from riskmgr.core.clock import to_ms
from riskmgr.core.domain import MarketSpec
from riskmgr.exchanges.fills import FillModel
from riskmgr.market.base import CandleArrays
from riskmgr.risk.config import RiskLimits

D = Decimal
T0 = datetime(2025, 3, 3, 0, 0, tzinfo=UTC)
HOUR_MS = 3_600_000

SPEC = MarketSpec(
    symbol="TEST/USDT:USDT", base="TEST", quote="USDT", min_qty=D("0.01"), qty_step=D("0.01"), price_tick=D("0.01"),
    min_notional=D(5), max_leverage=100, maintenance_margin_rate=D("0.005"),
)


def candles(rows: list[tuple[float, float, float, float]], bar_ms: int = HOUR_MS, start: datetime = T0) -> CandleArrays:
    """Return bars from (open, high, low, close) rows, one ``bar_ms`` apart from ``start``."""
    table = np.array(rows, dtype=np.float64).reshape(len(rows), 4)
    ts = to_ms(start) + bar_ms * np.arange(len(rows), dtype=np.int64)
    return CandleArrays(ts, table[:, 0].copy(), table[:, 1].copy(), table[:, 2].copy(), table[:, 3].copy(),
                        np.full(len(rows), 1000.0))


def config(**changes: Any) -> EngineConfig:
    """Return 1h settings on 10000 USDT, no fees or slippage, leverage 2, default limits unless changed."""
    base = EngineConfig(
        symbol=SPEC.symbol, timeframe="1h", limits=RiskLimits(), fill=FillModel(D(0), D(0), D(0)),
        capital=D(10000), leverage=2,
    )
    return replace(base, **changes)


def signals(n: int, entries: dict[int, tuple[int, float, float]], confidence: int = 80) -> EntrySignals:
    """Return injected signals: {bar: (side, stop, target)}."""
    side = np.zeros(n, dtype=np.int8)
    stop = np.full(n, np.nan)
    target = np.full(n, np.nan)
    for bar, (s, sl, tp) in entries.items():
        side[bar], stop[bar], target[bar] = s, sl, tp
    return EntrySignals(side, stop, target, np.full(n, confidence, dtype=np.int16))


def bar_by_bar(inp: EngineInput, sig: EntrySignals) -> Outcome:
    """The oracle: process every bar exactly, decide every signal; no skipping of any kind."""
    acct = SimAccount(build_series(inp), inp.spec, inp.config, inp.first_bar)
    for j in range(inp.first_bar, len(inp.candles)):
        step(acct, j)
        if acct.idle and j >= inp.first_bar and sig.side[j] != 0:
            decide(acct, j, sig)
        acct.mark_range(j, j + 1)
    return acct.outcome()


@dataclass
class OracleRun:
    """What the SMA crossover oracle books: closed trades, the final equity and the equity at every close."""

    trades: list[tuple] = field(default_factory=list)  # (entry bar, exit bar, side, units, entry, exit, net P&L)
    final: Decimal = Decimal(0)
    equity: list[float] = field(default_factory=list)


def sma_cross_oracle(
    opens: np.ndarray, closes: np.ndarray, fast: int, slow: int, commission: Decimal, capital: Decimal,
    places: int = 2,
) -> OracleRun:
    """backtesting.py's ``SmaCross`` written from its documentation, bar by bar: the oracle of the SMA reference.

    Independent of ``riskmgr.backtest.reference`` on purpose: SMAs are pandas rolling means (backtesting.py's
    ``SMA``), taken over the prices in units of their tick (``places`` decimals), where pandas' float sums are
    exact; ``crossover`` is backtesting.lib's ``a[-2] < b[-2] and a[-1] > b[-1]`` (NaN compares false); orders
    fill at the next open; the position is closed, then ``floor(cash / (price x (1 + c)))`` whole units are
    bought, the commission taken from the cash at each fill (backtesting.py's broker); equity at or below zero at
    a close closes the position there and stops the run with equity 0.
    """
    scale = 10**places
    ticks = np.round(closes * scale)
    assert np.array_equal(ticks / scale, closes), f"the closes are not prices of {places} decimals"
    fast_ma = pd.Series(ticks).rolling(fast).mean().tolist()
    slow_ma = pd.Series(ticks).rolling(slow).mean().tolist()
    run = OracleRun()
    cash, side, units, entry, entry_bar, order = capital, 0, 0, Decimal(0), 0, 0
    close_list = closes.tolist()
    for t, o in enumerate(opens.tolist()):
        if order:
            price = Decimal(repr(o))
            if side:
                cash += _close_position(run, (entry_bar, t, side, units, entry, price), commission)
            units = int(cash // (price * (1 + commission))) if cash > 0 else 0
            cash -= commission * units * price
            side, entry, entry_bar, order = (order if units else 0), price, t, 0
        c = close_list[t]
        value = float(cash) + side * units * (c - float(entry)) if side else float(cash)
        if value <= 1e-6 * float(capital) and cash + side * units * (Decimal(repr(c)) - entry) <= 0:
            if side:
                _close_position(run, (entry_bar, t, side, units, entry, Decimal(repr(c))), commission)
            run.equity += [0.0] * (len(close_list) - t)
            run.final = Decimal(0)
            return run
        run.equity.append(value)
        if t and fast_ma[t - 1] < slow_ma[t - 1] and fast_ma[t] > slow_ma[t]:
            order = 1
        elif t and fast_ma[t - 1] > slow_ma[t - 1] and fast_ma[t] < slow_ma[t]:
            order = -1
    last = Decimal(repr(close_list[-1]))
    run.final = cash + side * units * (last - entry) if side else cash
    return run


def _close_position(run: OracleRun, trade: tuple, commission: Decimal) -> Decimal:
    """Book the closed trade; return what the close adds to the cash (its price P&L less the exit commission)."""
    entry_bar, exit_bar, side, units, entry, price = trade
    gross = side * units * (price - entry)
    if units:
        run.trades.append((entry_bar, exit_bar, side, Decimal(units), entry, price,
                           gross - commission * units * (entry + price)))
    return gross - commission * units * price
