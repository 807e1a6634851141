import numpy as np
import pytest
import talib

from riskmgr.core.errors import ValidationError
from riskmgr.market.base import CandleArrays
from riskmgr.signals import indicators as ind
from riskmgr.signals.indicators import IndicatorParams, compute_indicators, htf_closes, validate_candles

START_MS = 1_704_067_200_000  # 2024-01-01 00:00 UTC, on an hour boundary
BAR_MS = 900_000  # 15m
N = 300


def _random_candles(n: int = N, seed: int = 3, start_ms: int = START_MS) -> CandleArrays:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate(([close[0]], close[:-1]))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.004, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.004, n))
    ts = start_ms + BAR_MS * np.arange(n, dtype=np.int64)
    return CandleArrays(ts, open_, high, low, close, rng.uniform(100, 200, n))


C = _random_candles()


@pytest.mark.parametrize(
    ("ours", "theirs", "warmup"),
    [
        (lambda: ind.atr(C.high, C.low, C.close, 14), lambda: talib.ATR(C.high, C.low, C.close, 14), 14),
        (lambda: ind.rsi(C.close, 14), lambda: talib.RSI(C.close, 14), 14),
        (lambda: ind.ema(C.close, 20), lambda: talib.EMA(C.close, 20), 19),
        (lambda: ind.sma(C.close, 50), lambda: talib.SMA(C.close, 50), 49),
        (lambda: ind.adx(C.high, C.low, C.close, 14), lambda: talib.ADX(C.high, C.low, C.close, 14), 27),
        (lambda: ind.volume_ma(C.volume, 20), lambda: talib.SMA(C.volume, 20), 19),
    ],
    ids=["atr", "rsi", "ema", "sma", "adx", "volume_ma"],
)
def test_single_output_wrapper_equals_talib_with_its_warmup_nans(ours, theirs, warmup):
    result = ours()

    np.testing.assert_array_equal(result, theirs())
    assert np.isnan(result[:warmup]).all()
    assert not np.isnan(result[warmup:]).any()


def test_bollinger_equals_talib_sma_bands_with_19_warmup_nans():
    upper, middle, lower = ind.bollinger(C.close, 20, 2.0)

    expected = talib.BBANDS(C.close, 20, 2.0, 2.0, talib.MA_Type.SMA)
    for ours, theirs in zip((upper, middle, lower), expected, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    assert np.isnan(middle[:19]).all() and not np.isnan(middle[19:]).any()
    np.testing.assert_allclose(upper[19:] - middle[19:], middle[19:] - lower[19:])


def test_macd_equals_talib_with_33_warmup_nans():
    line, signal, hist = ind.macd(C.close, 12, 26, 9)

    for ours, theirs in zip((line, signal, hist), talib.MACD(C.close, 12, 26, 9), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    assert np.isnan(hist[:33]).all() and not np.isnan(hist[33:]).any()


def test_wrapper_accepts_a_list_by_converting_to_float64():
    np.testing.assert_array_equal(ind.sma([1, 2, 3, 4], 2), [np.nan, 1.5, 2.5, 3.5])


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: ind.rsi(C.close, 1), "rsi_period"),
        (lambda: ind.atr(C.high, C.low, C.close, 0), "atr_period"),
        (lambda: ind.ema(C.close, 2.5), "ema_period"),
        (lambda: ind.bollinger(C.close, 20, 0), "bb_std"),
        (lambda: ind.macd(C.close, 26, 12, 9), "macd_fast"),
    ],
)
def test_wrapper_rejects_a_bad_period_naming_the_field(call, field):
    with pytest.raises(ValidationError) as err:
        call()
    assert err.value.field == field


def test_compute_indicators_columns_equal_the_wrappers():
    params = IndicatorParams(ema_fast=5, ema_mid=10, ema_slow=20)

    result = compute_indicators(C, params)

    np.testing.assert_array_equal(result.atr, ind.atr(C.high, C.low, C.close, 14))
    np.testing.assert_array_equal(result.rsi, ind.rsi(C.close, 14))
    np.testing.assert_array_equal(result.bb_upper, ind.bollinger(C.close)[0])
    np.testing.assert_array_equal(result.adx, ind.adx(C.high, C.low, C.close, 14))
    np.testing.assert_array_equal(result.macd_hist, ind.macd(C.close)[2])
    np.testing.assert_array_equal(result.volume_ma, ind.volume_ma(C.volume, 20))


def test_trend_emas_run_on_every_fourth_close_when_bars_start_on_the_hour():
    params = IndicatorParams(ema_fast=5, ema_mid=10, ema_slow=20)

    result = compute_indicators(C, params)

    hourly = C.close[3::4]  # the last 15m bar of each hour
    np.testing.assert_array_equal(result.htf_ema_fast, talib.EMA(hourly, 5))
    np.testing.assert_array_equal(result.htf_ema_slow, talib.EMA(hourly, 20))
    np.testing.assert_array_equal(result.htf_end_ms, C.ts[3::4] + BAR_MS)


def test_higher_timeframe_bar_counts_only_once_its_last_bar_has_closed():
    result = compute_indicators(C, IndicatorParams())

    assert result.htf_index(2) == -1  # the first hour is still forming at bar 2
    assert result.htf_index(3) == 0
    assert result.htf_index(6) == 0
    assert result.htf_index(7) == 1
    np.testing.assert_array_equal(result.htf_index(np.arange(8)), [-1, -1, -1, 0, 0, 0, 0, 1])


def test_series_starting_mid_hour_makes_a_partial_first_group():
    candles = _random_candles(n=10, start_ms=START_MS + 2 * BAR_MS)  # starts at 00:30

    closes, ends = htf_closes(candles.ts, candles.close, BAR_MS, 4, regular=True)

    np.testing.assert_array_equal(closes, candles.close[[1, 5, 9]])
    np.testing.assert_array_equal(ends, START_MS + 3_600_000 * np.array([1, 2, 3]))


def test_grouping_with_a_gap_uses_the_last_bar_present_in_each_hour():
    full = _random_candles(n=12)
    keep = np.array([0, 1, 2, 3, 4, 5, 8, 9, 10])  # bars 6, 7 (end of hour 2) and 11 are missing
    candles = CandleArrays(*(column[keep] for column in (full.ts, full.open, full.high, full.low, full.close,
                                                         full.volume)))

    result = compute_indicators(candles, IndicatorParams(ema_fast=2, ema_mid=3, ema_slow=4))
    closes, ends = htf_closes(candles.ts, candles.close, BAR_MS, 4)

    np.testing.assert_array_equal(closes, full.close[[3, 5, 10]])
    np.testing.assert_array_equal(ends, START_MS + 3_600_000 * np.array([1, 2, 3]))
    # Hour 2 lost its last bar, so it is known closed only when the first bar of hour 3 has closed.
    np.testing.assert_array_equal(result.htf_index(np.arange(9)), [-1, -1, -1, 0, 0, 0, 1, 1, 1])


def test_regular_and_general_grouping_agree_on_closed_hours():
    fast = htf_closes(C.ts, C.close, BAR_MS, 4, regular=True)
    general = htf_closes(C.ts, C.close, BAR_MS, 4, regular=False)

    for a, b in zip(fast, general, strict=True):
        np.testing.assert_array_equal(a, b[: len(a)])


def test_last_closed_row_skips_the_forming_bar():
    result = compute_indicators(C, IndicatorParams())
    last_close_ms = int(C.ts[-1]) + BAR_MS

    assert result.last_closed_row(last_close_ms) == N - 1
    assert result.last_closed_row(last_close_ms - 1) == N - 2
    assert result.last_closed_row(START_MS) == -1


def _with(column: str, values: np.ndarray) -> CandleArrays:
    columns = {name: getattr(C, name) for name in ("ts", "open", "high", "low", "close", "volume")}
    columns[column] = values
    return CandleArrays(**columns)


@pytest.mark.parametrize(
    ("candles", "field", "text"),
    [
        (_with("close", C.close[:-1]), "candles.close", "shape"),
        (_with("ts", C.ts[::-1].copy()), "candles.ts", "increase"),
        (_with("ts", C.ts + np.arange(N)), "candles.ts", "900 s"),
        (_with("close", np.where(np.arange(N) == 7, np.nan, C.close)), "candles.close", "bar 7"),
        (_with("volume", np.where(np.arange(N) == 9, np.inf, C.volume)), "candles.volume", "bar 9"),
        (_with("low", np.where(np.arange(N) == 5, 0.0, C.low)), "candles.low", "bar 5"),
        (_with("high", np.where(np.arange(N) == 4, C.low - 1, C.high)), "candles.high", "bar 4"),
        (_with("volume", np.where(np.arange(N) == 6, -1.0, C.volume)), "candles.volume", "bar 6"),
        (CandleArrays(*(np.array([]) for _ in range(6))), "candles", "no bars"),
    ],
    ids=["length", "order", "spacing", "nan", "inf", "zero-price", "high-below-low", "negative-volume", "empty"],
)
def test_malformed_candles_are_rejected_naming_the_column(candles, field, text):
    with pytest.raises(ValidationError) as err:
        validate_candles(candles, BAR_MS)
    assert err.value.field == field
    assert text in err.value.message


def test_validate_candles_tells_whether_bars_are_evenly_spaced():
    gappy = CandleArrays(*(column[np.r_[0:5, 7:10]] for column in (C.ts, C.open, C.high, C.low, C.close, C.volume)))

    assert validate_candles(C, BAR_MS) is True
    assert validate_candles(gappy, BAR_MS) is False


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"timeframe": "7m"}, "timeframe"),
        ({"ema_fast": 60}, "ema_fast"),
        ({"htf_factor": 0}, "htf_factor"),
        ({"htf_factor": 25}, "htf_factor"),
        ({"macd_fast": 30}, "macd_fast"),
        ({"bb_std": "2"}, "bb_std"),
        ({"rsi_period": True}, "rsi_period"),
    ],
)
def test_indicator_params_reject_bad_values_naming_the_field(changes, field):
    with pytest.raises(ValidationError) as err:
        IndicatorParams(**changes)
    assert err.value.field == field


def test_higher_timeframe_label_uses_the_standard_name_when_there_is_one():
    assert IndicatorParams().htf_label == "1h"
    assert IndicatorParams(timeframe="1h", htf_factor=4).htf_label == "4h"
    assert IndicatorParams(timeframe="15m", htf_factor=3).htf_label == "3x15m"
