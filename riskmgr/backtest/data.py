"""Where a backtest's bars come from: the simulated market, an uploaded CSV dataset or the candle store.

The run's range is [start, end): bars whose open time is at or after ``start`` and whose close is at or before
``end``. Before ``start`` the signal strategy loads warm-up bars (twice what its slowest indicator needs) so
that indicators are settled when trading starts, as they are live; the SMA reference starts cold, as in the
tutorials. Exchange history comes through the candle store (``runtime.feature(CandleStore)``, which caches it);
its contract figures come from the run's ``contract`` settings or, for a symbol the simulated market also lists,
from its table (which follows Binance USDⓈ-M), and a symbol with neither is refused rather than guessed.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from sqlalchemy.orm import Session

from riskmgr.backtest.csvdata import GapReport, gap_report
from riskmgr.backtest.models import BacktestDataset
from riskmgr.backtest.params import BacktestParams
from riskmgr.core.clock import from_ms, to_ms
from riskmgr.core.domain import MarketSpec
from riskmgr.core.errors import ValidationError
from riskmgr.market.base import CandleArrays

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime

PAGE = 5000  # the simulated market's most bars per call
SIMULATED, CSV = "simulated", "csv"
Progress = Callable[[float], None]


@dataclass(frozen=True)
class LoadedData:
    """The bars of a run (warm-up first), the first bar that counts and where it all came from."""

    candles: CandleArrays
    first_bar: int
    spec: MarketSpec | None
    spec_source: str
    note: str
    gaps: GapReport
    simulated: bool
    warmup_wanted: int = 0

    def warning(self) -> str | None:
        """Say so when less warm-up history existed than the indicators want."""
        if self.first_bar >= self.warmup_wanted:
            return None
        return (f"only {self.first_bar} of the {self.warmup_wanted} warm-up bars exist before the start: the "
                "indicators settle inside the range, so the first signals may come later than live")


def warmup_bars(params: BacktestParams) -> int:
    """Return the warm-up bars loaded before the start: none for the SMA reference."""
    if params.strategy != "signals":
        return 0
    ip = params.signal.indicators
    slowest = max(ip.ema_slow * ip.htf_factor, ip.macd_slow + ip.macd_signal, ip.bb_period, 2 * ip.adx_period,
                  ip.volume_ma_period, ip.rsi_period, ip.atr_period)
    return 2 * slowest + ip.htf_factor


class CandleHistory(Protocol):
    """What a run reads from the candle store feature (riskmgr.candles.store.CandleStore)."""

    def sources(self) -> list[str]: ...

    def timeframes(self, source: str) -> list[str]: ...

    def symbols(self, source: str) -> list[str]: ...

    def candles(self, source: str, symbol: str, timeframe: str, *, start: datetime | None = None,
                end: datetime | None = None, limit: int | None = None) -> CandleArrays: ...


def store(runtime: Runtime) -> CandleHistory | None:
    """Return the candle store feature, if it is installed."""
    from riskmgr.candles.store import CandleStore  # the scanner feature's store; this module stays Flask-free

    return runtime.optional_feature(CandleStore)


def sources(runtime: Runtime) -> list[str]:
    """Return the data sources a run may name."""
    found = [SIMULATED, CSV]
    candle_store = store(runtime)
    if candle_store is not None:
        found += [s for s in candle_store.sources() if s not in found]
    return found


def symbols(runtime: Runtime, source: str) -> list[str]:
    """Return the symbols of a source (datasets name their own)."""
    if source == SIMULATED:
        return list(runtime.market.symbols())
    if source == CSV:
        return []
    candle_store = store(runtime)
    return list(candle_store.symbols(source)) if candle_store is not None else []


def check_source(runtime: Runtime, params: BacktestParams) -> None:
    """Refuse an unknown source, symbol or dataset before a run is queued."""
    known = sources(runtime)
    if params.source not in known:
        raise ValidationError("source", f"{params.source!r} is not a data source; one of {', '.join(known)}")
    if params.source == CSV:
        _dataset_row(runtime, params)
    else:
        if params.source != SIMULATED:
            served = store(runtime).timeframes(params.source)  # type: ignore[union-attr]  # sources() named it: installed
            if params.timeframe not in served:
                raise ValidationError("timeframe", f"{params.source} does not serve {params.timeframe} bars; "
                                                   f"one of {', '.join(served)}")
        listed = symbols(runtime, params.source)  # an exchange's list is fetched (and cached) by the candle store
        if params.symbol not in listed:
            shown = ", ".join(listed[:12]) + (", …" if len(listed) > 12 else "")
            raise ValidationError("symbol", f"{params.symbol!r} is not a symbol of {params.source}; e.g. {shown}")
    if params.strategy == "signals":
        contract_spec(runtime, params)


def contract_spec(runtime: Runtime, params: BacktestParams) -> tuple[MarketSpec, str]:
    """Return the contract the signal strategy trades and where its figures came from."""
    given = params.contract
    known = runtime.market.specs().get(params.symbol) if hasattr(runtime.market, "specs") else None
    if known is None:
        missing = [k for k in ("qty_step", "price_tick", "min_qty", "min_notional", "maintenance_margin_rate",
                               "max_leverage") if k not in given]
        if missing:
            raise ValidationError(f"contract.{missing[0]}", f"no contract figures are known for {params.symbol}; "
                                  f"give {', '.join('contract.' + m for m in missing)}")
        base = params.symbol.split("/")[0] if "/" in params.symbol else params.symbol
        known = MarketSpec(params.symbol, base, "USDT", given["min_qty"], given["qty_step"], given["price_tick"],
                           given["min_notional"], int(given["max_leverage"]), Decimal(1),
                           maintenance_margin_rate=given["maintenance_margin_rate"])
        return known, "the run's contract settings"
    changes: dict[str, Any] = {k: (int(v) if k == "max_leverage" else v) for k, v in given.items()}
    spec = replace(known, **changes)
    if spec.maintenance_margin_rate is None:  # liquidations are simulated by it: ask rather than assume one
        raise ValidationError("contract.maintenance_margin_rate",
                              f"the market lists no maintenance margin rate for {params.symbol}; give one")
    where = "the simulated market's contract table (Binance USDⓈ-M figures)"
    return spec, where + (" with the run's overrides" if changes else "")


def load(runtime: Runtime, params: BacktestParams, progress: Progress) -> LoadedData:
    """Load the run's bars (with warm-up) from its source; an empty range is an error naming the dates."""
    warm = warmup_bars(params)
    step = timedelta(milliseconds=params.bar_ms)
    if params.source == SIMULATED:
        candles, note, simulated = _simulated(runtime, params, warm, step, progress), "simulated market (DEMO)", True
    elif params.source == CSV:
        candles, note, simulated = _csv(runtime, params), "uploaded CSV", False
    else:
        candles, note, simulated = _from_store(runtime, params, warm, step), f"{params.source} history", False
    candles = _in_range(candles, params, warm)
    first = int(np.searchsorted(candles.ts, to_ms(params.start), side="left"))
    if first >= len(candles):
        raise ValidationError("start", f"no {params.timeframe} bars of {params.symbol} between "
                                       f"{params.start.isoformat()} and {params.end.isoformat()}")
    spec, spec_source = contract_spec(runtime, params) if params.strategy == "signals" else (None, "not needed")
    gaps = gap_report(candles.ts[first:], params.bar_ms)
    return LoadedData(candles, first, spec, spec_source, note, gaps, simulated, warm)


def _in_range(candles: CandleArrays, params: BacktestParams, warm: int) -> CandleArrays:
    """Keep the bars that close by the end, from ``warm`` bars before the start."""
    end_ms = to_ms(params.end)
    stop = int(np.searchsorted(candles.ts, end_ms - params.bar_ms, side="right"))
    first = int(np.searchsorted(candles.ts, to_ms(params.start), side="left"))
    return candles.slice(max(0, first - warm), stop)


def _simulated(
    runtime: Runtime, params: BacktestParams, warm: int, step: timedelta, progress: Progress
) -> CandleArrays:
    market = runtime.market
    opens = _grid(params.start, step)
    last_open = _grid(params.end, step, up=False) - step
    first = opens - warm * step
    earliest = _anchor(market)
    if earliest is not None:
        if params.start < earliest:
            raise ValidationError("start", f"{params.start.isoformat()} is before the simulated market opens "
                                           f"({earliest.isoformat()})")
        first = max(first, _grid(earliest, step))
    parts: list[CandleArrays] = []
    chunk = first
    total = max((last_open - first) / step + 1, 1)
    while chunk <= last_open:
        stop = min(chunk + (PAGE - 1) * step, last_open + step)
        count = int((stop - chunk) / step) + 1
        try:
            bars = market.candles(params.symbol, params.timeframe, end=stop, limit=count)
        except ValueError as exc:
            raise ValidationError("symbol", str(exc)) from None
        parts.append(bars.slice(0, int(np.searchsorted(bars.ts, to_ms(stop), side="left"))))
        chunk = stop
        progress(min((chunk - first) / step / total, 1.0))
    return _concat(parts)


def _anchor(market: Any) -> datetime | None:
    if getattr(market, "source", None) != SIMULATED:
        return None
    from riskmgr.market.sim.daily import ANCHOR

    return ANCHOR


def _grid(when: datetime, step: timedelta, up: bool = True) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=when.tzinfo)
    whole = (when - epoch) // step * step + epoch
    return whole + step if up and whole < when else whole


def _concat(parts: list[CandleArrays]) -> CandleArrays:
    parts = [p for p in parts if len(p)]
    if not parts:
        return CandleArrays(np.zeros(0, np.int64), *(np.zeros(0) for _ in range(5)))
    return CandleArrays(*(np.concatenate(cols) for cols in zip(*(p._columns() for p in parts), strict=True)))


def _from_store(runtime: Runtime, params: BacktestParams, warm: int, step: timedelta) -> CandleArrays:
    candle_store = store(runtime)
    if candle_store is None:
        raise ValidationError("source", f"{params.source!r} needs the candle store, which is not installed")
    return candle_store.candles(params.source, params.symbol, params.timeframe, start=params.start - warm * step,
                                end=params.end)


def _dataset_row(runtime: Runtime, params: BacktestParams) -> BacktestDataset:
    with Session(runtime.engine) as session:
        row = session.get(BacktestDataset, params.dataset_id)
        if row is None:
            raise ValidationError("dataset_id", f"no uploaded dataset #{params.dataset_id}")
        session.expunge(row)
    if row.timeframe != params.timeframe:
        raise ValidationError("timeframe", f"dataset #{row.id} holds {row.timeframe} bars, not {params.timeframe}")
    if row.symbol != params.symbol:
        raise ValidationError("symbol", f"dataset #{row.id} holds {row.symbol}, not {params.symbol}")
    return row


def _csv(runtime: Runtime, params: BacktestParams) -> CandleArrays:
    row = _dataset_row(runtime, params)
    with np.load(io.BytesIO(row.data)) as npz:
        return CandleArrays(*(npz[name] for name in ("ts", "open", "high", "low", "close", "volume")))


def pack(candles: CandleArrays) -> bytes:
    """Return the bars as compressed numpy columns (how a dataset is stored)."""
    out = io.BytesIO()
    np.savez_compressed(out, ts=candles.ts, open=candles.open, high=candles.high, low=candles.low,
                        close=candles.close, volume=candles.volume)
    return out.getvalue()


def describe_range(candles: CandleArrays, bar_ms: int) -> str:
    """Describe the span of some bars ("2025-01-01T00:00:00+00:00 – 2025-01-31T00:00:00+00:00")."""
    return f"{from_ms(int(candles.ts[0])).isoformat()} – {from_ms(int(candles.ts[-1]) + bar_ms).isoformat()}"
