"""Builders for backtest tests: bars, a contract, engine settings, injected signals and the bar-by-bar oracle."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np

from riskmgr.backtest.account import EngineConfig, SimAccount
from riskmgr.backtest.decisions import EntrySignals, decide
from riskmgr.backtest.engine import EngineInput, build_series
from riskmgr.backtest.outcome import Outcome
from riskmgr.backtest.polling import step
from riskmgr.clock import to_ms
from riskmgr.domain import MarketSpec
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


def sma_reference_loop(
    opens: list[float], closes: list[float], fast: int, slow: int, commission: Decimal, capital: Decimal,
    smas: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[list[tuple], Decimal, list[float]]:
    """The SMA crossover reference as a plain per-bar loop (the baseline and oracle of ``run_sma_reference``).

    Returns the closed trades as (entry bar, exit bar, side, units, entry, exit, net P&L), the final equity and the
    equity at every close. ``smas``: the averages to use (default: running sums computed here, bar by bar).
    """
    cash, units, side, entry, pending, last = capital, Decimal(0), 0, Decimal(0), 0, 0
    entry_bar = 0
    fast_sum = slow_sum = 0.0
    trades: list[tuple] = []
    equity: list[float] = []
    for t, (o, c) in enumerate(zip(opens, closes, strict=True)):
        if pending:
            price = Decimal(repr(o))
            if side and units > 0:
                gross = side * units * (price - entry)
                trades.append((entry_bar, t, side, units, entry, price, gross - commission * units * (entry + price)))
            if side:
                cash += side * units * (price - entry) - commission * units * (entry + price)
            units = cash // (price * (1 + commission)) if cash > 0 else Decimal(0)
            side, entry, entry_bar, pending = pending, price, t, 0
        # running sums in TA-Lib's order (add the new close, read, drop the oldest), so the averages agree bit for bit
        fast_sum += c
        slow_sum += c
        if t >= fast - 1:
            f = fast_sum / fast
            fast_sum -= closes[t - fast + 1]
        if t >= slow - 1:
            s = slow_sum / slow
            slow_sum -= closes[t - slow + 1]
            if smas is not None:
                f, s = float(smas[0][t]), float(smas[1][t])
            state = (f > s) - (f < s)
            if state and last and state != last:
                pending = state
            last = state or last
        mark = Decimal(repr(c))
        value = cash - commission * units * entry + side * units * (mark - entry) if side else cash
        equity.append(float(value))
    return trades, equity_final(cash, units, side, entry, closes[-1], commission), equity


def equity_final(cash: Decimal, units: Decimal, side: int, entry: Decimal, last: float, commission: Decimal) -> Decimal:
    """Return the final equity of the reference loop: cash plus the open position at the last close."""
    if not side:
        return cash
    return cash - commission * units * entry + side * units * (Decimal(repr(last)) - entry)
