"""Validation of the backtest settings: every bad value is refused with the field named and the range given."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from riskmgr.backtest.params import merge, parse_params
from riskmgr.core.errors import ValidationError

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
BASE = {
    "strategy": "signals", "source": "simulated", "symbol": "BTC/USDT:USDT", "timeframe": "15m", "timezone": "UTC",
    "start": "2026-10-01T00:00", "end": "2026-11-01T00:00", "capital": "10000", "taker_fee_pct": "0.05",
    "maker_fee_pct": "0.02", "slippage_bps": "2", "funding_pct_8h": "0", "leverage": 3, "entry_order": "market",
    "rearm": "never", "sma_fast": 10, "sma_slow": 20, "commission_pct": "0",
}


def refused(**changes) -> ValidationError:
    with pytest.raises(ValidationError) as err:
        parse_params(BASE | changes, NOW)
    return err.value


def test_valid_settings_round_trip_through_to_dict():
    p = parse_params(BASE | {"limits": {"max_drawdown_pct": "8"}, "signal": {"adx_min": "18"}}, NOW)

    assert p.capital == Decimal(10000) and p.limits.max_drawdown_pct == Decimal(8) and p.signal.adx_min == 18.0
    assert p.signal.indicators.timeframe == "15m"
    assert parse_params(p.to_dict(), NOW) == p


def test_naive_times_are_read_in_the_given_time_zone():
    p = parse_params(BASE | {"timezone": "Europe/Berlin", "start": "2026-07-01T00:00"}, NOW)

    assert p.start == datetime(2026, 6, 30, 22, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"start": "2026-11-01T00:00"}, "end", "the range is empty"),
        ({"end": "2026-12-01T00:00"}, "end", "is in the future"),
        ({"start": "2026-11-01T00:00", "end": "2026-11-01T00:10"}, "end", "holds no whole 15m bar"),
        ({"start": "1970-01-01T00:00", "timeframe": "1m"}, "start", "at most 2000000 are allowed"),
        ({"capital": "-5"}, "capital", "-5 USDT must be above 0"),
        ({"capital": "abc"}, "capital", "is not a number"),
        ({"taker_fee_pct": "12"}, "taker_fee_pct", "allowed 0–10"),
        ({"maker_fee_pct": "2"}, "maker_fee_pct", "the most the paper exchange's fill model allows"),
        ({"sma_fast": 20, "sma_slow": 10}, "sma_slow", "must be longer than the fast SMA (20)"),
        ({"sma_fast": 10, "sma_slow": 10}, "sma_slow", "must be longer"),
        ({"leverage": "2.5"}, "leverage", "is not a whole number"),
        ({"slippage_bps": "101"}, "slippage_bps", "allowed 0–100"),
        ({"timeframe": "7m"}, "timeframe", "one of 1m"),
        ({"timezone": "Mars/Base"}, "timezone", "is not a known time zone"),
        ({"start": "yesterday"}, "start", "is not a time"),
        ({"symbol": ""}, "symbol", "is required"),
        ({"strategy": "martingale"}, "strategy", "one of signals, sma_cross"),
        ({"limits": {"max_drawdown_pct": "2"}}, "limits.drawdown_reducing_pct", "must be below the max drawdown"),
        ({"limits": {"max_leverage": "0"}}, "limits.max_leverage", "out of range"),
        ({"signal": {"adx_min": "-1"}}, "signal.adx_min", "must be in 0..99"),
        ({"signal": {"indicators": {"ema_fast": 300}}}, "signal.indicators.ema_fast", "ema_fast < ema_mid"),
        ({"signal": {"colour": 1}}, "signal.colour", "is not a setting"),
        ({"source": "csv"}, "dataset_id", "upload a CSV file first"),
        ({"contract": {"qty_step": "0"}}, "contract.qty_step", "out of range"),
        ({"colour": "blue"}, "colour", "is not a backtest setting"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(changes, field, words):
    err = refused(**changes)

    assert err.field == field
    assert words in err.message


def test_the_sma_reference_allows_a_commission_up_to_ten_percent():
    p = parse_params(BASE | {"strategy": "sma_cross", "commission_pct": "10", "taker_fee_pct": "5"}, NOW)

    assert p.commission_pct == Decimal(10)
    assert refused(strategy="sma_cross", commission_pct="10.5").field == "commission_pct"


def test_missing_dates_default_to_the_thirty_days_before_the_last_whole_bar():
    data = {k: v for k, v in BASE.items() if k not in ("start", "end")}

    p = parse_params(data, datetime(2026, 11, 20, 12, 7, tzinfo=UTC))

    assert p.end == datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    assert p.start == datetime(2026, 10, 21, 12, 0, tzinfo=UTC)


def test_merge_overrides_groups_key_by_key():
    base = {"capital": "1", "limits": {"a": 1, "b": 2}, "signal": {"indicators": {"x": 1, "y": 2}}}

    merged = merge(base, {"limits": {"b": 3}, "signal": {"indicators": {"y": 4}}, "capital": "2"})

    assert merged == {"capital": "2", "limits": {"a": 1, "b": 3}, "signal": {"indicators": {"x": 1, "y": 4}}}
