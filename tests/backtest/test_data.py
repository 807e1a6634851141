"""Where the bars come from: the simulated market (with warm-up), the candle store and uploaded CSV datasets."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pytest

from riskmgr.backtest import data
from riskmgr.backtest.csvdata import parse_csv
from riskmgr.backtest.params import parse_params
from riskmgr.backtest.runs import save_dataset
from riskmgr.candles.store import CandleStore
from riskmgr.core.clock import to_ms
from riskmgr.core.errors import ValidationError
from riskmgr.market.base import CandleArrays
from tests.conftest import T0

HOUR_MS = 3_600_000
BASE = {
    "strategy": "signals", "source": "simulated", "symbol": "BTC/USDT:USDT", "timeframe": "1h", "timezone": "UTC",
    "start": "2026-10-01T00:00", "end": "2026-10-03T00:00", "capital": "10000", "taker_fee_pct": "0.05",
    "maker_fee_pct": "0.02", "slippage_bps": "2", "funding_pct_8h": "0", "leverage": 3, "entry_order": "market",
    "rearm": "never", "sma_fast": 10, "sma_slow": 20, "commission_pct": "0",
}


def params(**changes):
    return parse_params(BASE | changes, T0)


class FakeStore:
    """The candle store's API over bars held in memory (hourly, with one missing hour); counts its calls."""

    def __init__(self):
        ts = to_ms(datetime(2026, 9, 1, tzinfo=UTC)) + HOUR_MS * np.arange(24 * 40, dtype=np.int64)
        ts = np.delete(ts, 24 * 30 + 5)  # 2026-10-01 05:00 is missing
        close = 100 + np.sin(np.arange(ts.size) / 10)
        self.bars = CandleArrays(ts, close, close + 1, close - 1, close, np.full(ts.size, 5.0))
        self.calls = []

    def sources(self):
        return ["simulated", "binanceusdm"]

    def timeframes(self, source):
        return ["1h", "4h"]

    def symbols(self, source):
        return ["BTC/USDT:USDT", "PEPE/USDT:USDT"]

    def candles(self, source, symbol, timeframe, *, start=None, end=None, limit=None):
        self.calls.append((source, symbol, timeframe, start, end))
        keep = (self.bars.ts >= to_ms(start)) & (self.bars.ts + HOUR_MS <= to_ms(end))
        return CandleArrays(*(column[keep] for column in self.bars._columns()))


def test_simulated_bars_cover_the_range_after_the_warm_up_and_match_the_market(runtime):
    p = params()
    loaded = data.load(runtime, p, lambda f: None)

    warm = data.warmup_bars(p)
    assert warm == 2 * 200 * 4 + 4 and loaded.first_bar == warm
    assert len(loaded.candles) == warm + 48
    assert loaded.candles.ts[loaded.first_bar] == to_ms(p.start)
    assert loaded.candles.ts[-1] + HOUR_MS == to_ms(p.end)
    direct = runtime.market.candles("BTC/USDT:USDT", "1h", end=p.end, limit=49)  # the last one is forming
    assert np.array_equal(loaded.candles.close[-48:], direct.close[:-1])
    assert loaded.simulated and loaded.gaps.count == 0 and loaded.spec.symbol == "BTC/USDT:USDT"


def test_the_sma_reference_starts_cold_without_warm_up(runtime):
    loaded = data.load(runtime, params(strategy="sma_cross"), lambda f: None)

    assert loaded.first_bar == 0 and len(loaded.candles) == 48 and loaded.spec is None


def test_a_start_before_the_simulated_market_opens_is_refused(runtime):
    with pytest.raises(ValidationError) as err:
        data.load(runtime, params(start="2023-12-01T00:00"), lambda f: None)

    assert err.value.field == "start" and "before the simulated market opens" in err.value.message


def test_exchange_history_comes_through_the_candle_store_with_warm_up_and_gaps_reported(runtime):
    store = FakeStore()
    runtime.features.replace(CandleStore, store)
    p = params(source="binanceusdm", strategy="sma_cross")

    data.check_source(runtime, p)
    loaded = data.load(runtime, p, lambda f: None)

    assert store.calls == [("binanceusdm", "BTC/USDT:USDT", "1h", p.start, p.end)]
    assert len(loaded.candles) == 47 and loaded.note == "binanceusdm history" and not loaded.simulated
    assert (loaded.gaps.count, loaded.gaps.missing_bars) == (1, 1)
    assert loaded.gaps.first[0]["after"] == "2026-10-01T04:00:00+00:00"


def test_exchange_source_refuses_unknown_symbols_and_timeframes_it_does_not_serve(runtime):
    runtime.features.replace(CandleStore, FakeStore())

    with pytest.raises(ValidationError) as symbol:
        data.check_source(runtime, params(source="binanceusdm", symbol="DOGE/USDT:USDT"))
    with pytest.raises(ValidationError) as timeframe:
        data.check_source(runtime, params(source="binanceusdm", timeframe="15m", start="2026-10-02T00:00"))
    with pytest.raises(ValidationError) as source:
        data.check_source(runtime, params(source="kraken"))

    assert symbol.value.field == "symbol" and "is not a symbol of binanceusdm" in symbol.value.message
    assert timeframe.value.field == "timeframe" and "one of 1h, 4h" in timeframe.value.message
    assert source.value.field == "source" and "one of simulated, csv, binanceusdm" in source.value.message


def test_a_symbol_without_known_contract_figures_needs_them_given(runtime):
    runtime.features.replace(CandleStore, FakeStore())
    bare = params(source="binanceusdm", symbol="PEPE/USDT:USDT")
    contract = {"qty_step": "1000", "price_tick": "0.0000001", "min_qty": "1000", "min_notional": "5",
                "maintenance_margin_rate": "0.01", "max_leverage": "25"}

    with pytest.raises(ValidationError) as err:
        data.check_source(runtime, bare)
    spec, where = data.contract_spec(runtime, params(source="binanceusdm", symbol="PEPE/USDT:USDT", contract=contract))

    assert err.value.field == "contract.qty_step" and "no contract figures are known for PEPE" in err.value.message
    assert (spec.qty_step, spec.max_leverage, spec.base) == (Decimal(1000), 25, "PEPE")
    assert where == "the run's contract settings"


def test_known_contract_figures_take_the_run_s_overrides(runtime):
    spec, where = data.contract_spec(runtime, params(contract={"maintenance_margin_rate": "0.02"}))

    assert spec.maintenance_margin_rate == Decimal("0.02") and spec.qty_step == Decimal("0.001")
    assert where.endswith("with the run's overrides")


def test_a_market_spec_without_a_maintenance_rate_needs_one_given(runtime, monkeypatch):
    listed = runtime.market.specs()
    unrated = {s: replace(spec, maintenance_margin_rate=None) for s, spec in listed.items()}
    monkeypatch.setattr(runtime.market, "specs", lambda: unrated)

    with pytest.raises(ValidationError) as err:
        data.contract_spec(runtime, params())
    spec, _ = data.contract_spec(runtime, params(contract={"maintenance_margin_rate": "0.004"}))

    assert err.value.field == "contract.maintenance_margin_rate"
    assert err.value.message == "the market lists no maintenance margin rate for BTC/USDT:USDT; give one"
    assert spec.maintenance_margin_rate == Decimal("0.004")


def test_an_uploaded_dataset_is_loaded_for_its_symbol_and_timeframe(runtime):
    rows = "".join(f"{to_ms(datetime(2026, 10, 1, tzinfo=UTC)) + k * HOUR_MS},1,2,0.5,1.5,3\n" for k in range(30))
    parsed = parse_csv(b"time,open,high,low,close,volume\n" + rows.encode(), "1h")
    row = save_dataset(runtime, name="mine.csv", symbol="BTC/USDT:USDT", timeframe="1h", parsed=parsed,
                       digest="x" * 64, actor="test")

    loaded = data.load(runtime, params(source="csv", dataset_id=row.id, strategy="sma_cross"), lambda f: None)
    with pytest.raises(ValidationError) as err:
        data.check_source(runtime, params(source="csv", dataset_id=row.id, timeframe="4h"))

    assert len(loaded.candles) == 30 and loaded.note == "uploaded CSV"
    assert err.value.field == "timeframe" and "holds 1h bars, not 4h" in err.value.message


def test_a_range_without_bars_is_an_error_naming_the_dates(runtime):
    runtime.features.replace(CandleStore, FakeStore())

    with pytest.raises(ValidationError) as err:
        data.load(runtime, params(source="binanceusdm", start="2026-11-01T00:00", end="2026-11-02T00:00"),
                  lambda f: None)

    assert err.value.field == "start" and "no 1h bars of BTC/USDT:USDT between 2026-11-01" in err.value.message


def test_missing_warm_up_history_is_reported(runtime):
    loaded = data.load(runtime, params(start="2024-01-02T00:00", end="2024-01-03T00:00"), lambda f: None)

    assert loaded.first_bar == 24 and loaded.warmup_wanted == 1604
    assert loaded.warning().startswith("only 24 of the 1604 warm-up bars exist before the start")
