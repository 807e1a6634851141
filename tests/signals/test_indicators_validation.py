"""The quick acceptance of sound, evenly spaced candles lets no fault through: each one still gets its named error."""

from __future__ import annotations

import numpy as np
import pytest

from riskmgr.core.errors import ValidationError
from riskmgr.market.base import CandleArrays
from riskmgr.signals.indicators import validate_candles

BAR_MS = 900_000
N = 400


def _sound() -> CandleArrays:
    rng = np.random.default_rng(3)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.004, N)))
    open_ = np.concatenate(([100.0], close[:-1]))
    high = np.maximum(open_, close) * 1.001
    low = np.minimum(open_, close) * 0.999
    ts = 1_704_067_200_000 + BAR_MS * np.arange(N, dtype=np.int64)
    return CandleArrays(ts, open_, high, low, close, rng.lognormal(7, 0.4, N))


def _with(column: str, bar: int, value: float) -> CandleArrays:
    c = _sound()
    values = getattr(c, column).copy()
    values[bar] = value
    return CandleArrays(**{**{k: getattr(c, k) for k in ("ts", "open", "high", "low", "close", "volume")},
                           column: values})


def _times(ts: np.ndarray) -> CandleArrays:
    c = _sound()
    return CandleArrays(ts, c.open, c.high, c.low, c.close, c.volume)


def _uneven_same_span() -> CandleArrays:
    ts = _sound().ts.copy()
    ts[10] += BAR_MS // 2  # steps of 1.5 and 0.5 bars: first and last bar still N - 1 bars apart
    return _times(ts)


def _repeated_time_same_span() -> CandleArrays:
    ts = _sound().ts.copy()
    ts[10] = ts[9]  # a step of 0 then one of 2 bars
    return _times(ts)


@pytest.mark.parametrize(
    ("candles", "field", "text"),
    [
        (_with("high", 50, np.inf), "candles.high", "bar 50"),
        (_with("high", 51, np.nan), "candles.high", "bar 51"),
        (_with("low", 52, np.nan), "candles.low", "bar 52"),
        (_with("close", 53, -np.inf), "candles.close", "bar 53"),
        (_with("close", 54, np.inf), "candles.close", "bar 54"),
        (_with("volume", 55, np.nan), "candles.volume", "bar 55"),
        (_with("volume", 56, -np.inf), "candles.volume", "bar 56"),
        (_with("low", 57, -0.0), "candles.low", "bar 57"),
        (_with("high", 58, 50.0), "candles.high", "bar 58"),  # below its low
        (_uneven_same_span(), "candles.ts", "900 s"),
        (_repeated_time_same_span(), "candles.ts", "increase"),
    ],
    ids=["high-inf", "high-nan", "low-nan", "close-minus-inf", "close-inf", "volume-nan", "volume-minus-inf",
         "low-minus-zero", "high-below-low", "uneven-steps-same-span", "repeated-time-same-span"],
)
def test_a_fault_anywhere_still_gets_its_named_error(candles, field, text):
    with pytest.raises(ValidationError) as err:
        validate_candles(candles, BAR_MS)

    assert err.value.field == field
    assert text in err.value.message


def test_sound_series_are_accepted_evenly_spaced_or_not_and_whatever_their_dtype():
    c = _sound()
    gappy = CandleArrays(*(column[np.r_[0:100, 102:N]] for column in (c.ts, c.open, c.high, c.low, c.close, c.volume)))
    huge = CandleArrays(c.ts, c.open, c.high * 1e160, c.low * 1e160, c.close * 1e160, c.volume)  # squares overflow
    as_int = CandleArrays(c.ts, c.open, np.ceil(c.high).astype(np.int64), np.floor(c.low).astype(np.int64),
                          c.close, c.volume.astype(np.float32))
    one_bar = c.slice(0, 1)

    assert validate_candles(c, BAR_MS) is True
    assert validate_candles(gappy, BAR_MS) is False
    assert validate_candles(huge, BAR_MS) is True
    assert validate_candles(as_int, BAR_MS) is True
    assert validate_candles(one_bar, BAR_MS) is True


def test_indicators_built_from_values_in_field_order_equal_those_built_by_keyword_and_stay_frozen():
    import dataclasses

    from riskmgr.signals.indicators import IndicatorParams, Indicators, compute_indicators

    built = compute_indicators(_sound(), IndicatorParams())
    values = [getattr(built, f.name) for f in dataclasses.fields(Indicators)]
    by_keyword = Indicators(**{f.name: v for f, v in zip(dataclasses.fields(Indicators), values, strict=True)})

    again = Indicators.of(*values)

    for f in dataclasses.fields(Indicators):
        assert getattr(again, f.name) is getattr(by_keyword, f.name)
    with pytest.raises(dataclasses.FrozenInstanceError):
        again.close = values[1]  # type: ignore[misc]
    with pytest.raises(TypeError):
        Indicators.of(*values[:-1])

