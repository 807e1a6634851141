from dataclasses import fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest

from riskmgr.core.clock import from_ms
from riskmgr.core.domain import PositionSide
from riskmgr.core.errors import ValidationError
from riskmgr.market.base import CandleArrays
from riskmgr.signals.conservative import COMPONENTS, Signal, evaluate_series, latest_signal, scan_latest
from riskmgr.signals.filters import filter_signals
from riskmgr.signals.params import REASON_TEXT, Reason, SignalParams
from riskmgr.signals.quality import quality_score

START_MS = 1_704_067_200_000  # 2024-01-01 00:00 UTC
BAR_MS = 900_000  # 15m
PARAMS = SignalParams()
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def _trend(n: int = 999, up_close: float = 3.0, down_close: float = 1.0) -> CandleArrays:
    """A clean uptrend: every bar's low rises 0.5, range 4, closes alternate high and low in the range.

    The previous close always lies inside the current range, so the true range and the ATR are exactly
    4; lows never fall, so ADX is 100; RSI settles near 62 (closes +2.5 / -1.5)."""
    t = np.arange(n)
    low = 100 + 0.5 * t
    close = low + np.where(t % 2 == 1, up_close, down_close)
    open_ = np.concatenate(([close[0]], close[:-1]))
    return CandleArrays(START_MS + BAR_MS * t.astype(np.int64), open_, low + 4, low, close, np.full(n, 1000.0))


def _mirror(c: CandleArrays, pivot: float = 1000.0) -> CandleArrays:
    """The same market upside down: a downtrend with identical ranges."""
    return CandleArrays(c.ts, pivot - c.open, pivot - c.low, pivot - c.high, pivot - c.close, c.volume)


def _random_walk(n: int, seed: int, drift: float = 0.0) -> CandleArrays:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(drift, 0.004, n)))
    open_ = np.concatenate(([close[0]], close[:-1]))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.002, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.002, n))
    return CandleArrays(START_MS + BAR_MS * np.arange(n, dtype=np.int64), open_, high, low, close,
                        rng.lognormal(7, 0.4, n))


def _closed_at(c: CandleArrays, row: int = -1) -> datetime:
    return from_ms(int(c.ts[row]) + BAR_MS)


def _signal(**changes) -> Signal:
    values = dict(
        symbol="BTC/USDT:USDT", timeframe="15m", side=PositionSide.LONG, entry=Decimal(100), stop=Decimal(97),
        target=Decimal(106), reward_risk=Decimal("2.00"), confidence=80, components={"trend": 80},
        created_at=T0, valid_until=T0 + timedelta(minutes=15), reasons=(), market_condition=50, atr=Decimal(2),
    )
    return Signal(**(values | changes))


# -- the rules ----------------------------------------------------------------------------------------


def test_clean_uptrend_yields_a_long_with_atr_stop_and_target():
    candles = _trend()  # the last bar (998) closes low in its range: low 599 + 1
    now = _closed_at(candles) + timedelta(seconds=5)

    signal = latest_signal("ETH/USDT:USDT", candles, PARAMS, now)

    assert signal is not None
    assert signal.side is PositionSide.LONG
    assert signal.entry == Decimal("600.0")
    assert signal.stop == Decimal("594.0")  # 600 - 1.5 x ATR 4
    assert signal.target == Decimal("615.0")  # 600 + 3.75 x ATR 4: 2.5:1, headroom above the 2:1 minimum
    assert signal.reward_risk == Decimal("2.50")
    assert signal.atr == Decimal("4.0")
    assert signal.created_at == _closed_at(candles)
    assert signal.valid_until == signal.created_at + timedelta(minutes=15)
    assert signal.timeframe == "15m"
    assert any(reason.startswith("1h trend up: EMA20") for reason in signal.reasons)


def test_clean_uptrend_confidence_components_follow_the_documented_points():
    signal = latest_signal("ETH/USDT:USDT", _trend(), PARAMS, _closed_at(_trend()))

    # stack + close above 1h EMA20; ADX 100 >= 35; RSI > 50; MACD line > 0 but histogram < 0 after a
    # falling close; close above the middle band; volume equal to its average.
    assert signal.components == {"trend": 25, "strength": 20, "momentum": 15, "macd": 10, "band": 15,
                                 "volume": 10}
    assert signal.confidence == 95


def test_clean_downtrend_yields_a_short_with_the_stop_above():
    candles = _mirror(_trend())

    signal = latest_signal("ETH/USDT:USDT", candles, PARAMS, _closed_at(candles))

    assert signal.side is PositionSide.SHORT
    assert signal.entry == Decimal("400.0")
    assert signal.stop == Decimal("406.0")
    assert signal.target == Decimal("385.0")  # 400 - 3.75 x ATR 4
    assert signal.reward_risk == Decimal("2.50")
    assert signal.confidence == 95


def test_series_arrays_carry_direction_stop_and_target_for_every_bar():
    arrays = evaluate_series(_trend(), PARAMS)

    assert arrays.direction[-1] == 1 and arrays.reason[-1] == Reason.OK
    assert arrays.stop[-1] == 594.0 and arrays.target[-1] == 615.0
    assert (arrays.reason[:700] == Reason.WARMUP).all()  # EMA 200 on 1h bars needs 800 15m bars
    assert (arrays.direction[:700] == 0).all() and np.isnan(arrays.stop[:700]).all()


def test_sideways_noise_yields_no_signal():
    rng = np.random.default_rng(11)
    n = 2000
    close = 100 + rng.normal(0, 0.5, n)
    candles = CandleArrays(START_MS + BAR_MS * np.arange(n, dtype=np.int64), close,
                           close + np.abs(rng.normal(0, 0.3, n)), close - np.abs(rng.normal(0, 0.3, n)), close,
                           rng.uniform(500, 1500, n))

    arrays = evaluate_series(candles, PARAMS)

    assert not arrays.actionable.any()
    assert latest_signal("CHOP/USDT:USDT", candles, PARAMS, _closed_at(candles)) is None


def test_rsi_stretched_entry_is_rejected_with_the_rsi_reason():
    candles = _trend(up_close=2.5, down_close=1.5)  # closes +1.5 / -0.5: RSI near 75, everything else fine
    now = _closed_at(candles)

    result = scan_latest({"HOT/USDT:USDT": candles}, PARAMS, now)

    assert result.signals == []
    assert result.rejected == {"HOT/USDT:USDT": Reason.RSI}
    assert latest_signal("HOT/USDT:USDT", candles, PARAMS, now) is None
    assert "RSI" in REASON_TEXT[Reason.RSI]


def test_first_failing_check_is_the_reason_reported():
    strict = SignalParams(atr_pct_max=0.5, rsi_long_max=55.0)  # ATR 0.67 % and RSI 60 now both fail

    arrays = evaluate_series(_trend(), strict)

    assert arrays.reason[-1] == Reason.VOLATILITY


def test_low_confidence_is_rejected_below_the_threshold():
    strict = SignalParams(confidence_threshold=96)

    arrays = evaluate_series(_trend(), strict)

    assert arrays.confidence[-1] == 95 and arrays.reason[-1] == Reason.LOW_CONFIDENCE
    assert arrays.direction[-1] == 0 and arrays.candidate[-1] == 1


def test_signal_at_a_bar_ignores_every_later_bar():
    candles = _random_walk(1600, seed=2, drift=0.0006)
    cut = 1201  # mid-hour: bars 1202 and 1203 still belong to the hour that bar 1201 sits in
    rng = np.random.default_rng(99)
    noise = rng.uniform(0.5, 1.5, len(candles) - cut - 1)
    altered = CandleArrays(candles.ts, *(np.concatenate((col[: cut + 1], col[cut + 1:] * noise))
                                         for col in (candles.open, candles.high, candles.low, candles.close,
                                                     candles.volume)))

    before, after = evaluate_series(candles, PARAMS), evaluate_series(altered, PARAMS)

    assert before.actionable[: cut + 1].any()  # the comparison below covers real signals
    for field in ("direction", "candidate", "confidence", "entry", "stop", "target", "market", "reason"):
        np.testing.assert_array_equal(getattr(before, field)[: cut + 1], getattr(after, field)[: cut + 1])
    for name in COMPONENTS:
        np.testing.assert_array_equal(before.components[name][: cut + 1], after.components[name][: cut + 1])


def test_latest_signal_on_a_forming_bar_uses_the_last_closed_bar_like_the_series():
    candles = _random_walk(1600, seed=2, drift=0.0006)
    arrays = evaluate_series(candles, PARAMS)
    row = int(np.flatnonzero(arrays.actionable)[-1])
    now = _closed_at(candles, row) + timedelta(minutes=7)  # bar row + 1 is half formed

    signal = latest_signal("RW/USDT:USDT", candles, PARAMS, now)

    assert signal.created_at == _closed_at(candles, row)
    assert signal.side.sign == arrays.direction[row]
    assert signal.confidence == arrays.confidence[row]
    assert float(signal.stop) == pytest.approx(arrays.stop[row], rel=1e-12)


def test_components_sum_to_the_confidence_on_every_bar():
    arrays = evaluate_series(_random_walk(1500, seed=5), PARAMS)

    total = sum(arrays.components[name].astype(int) for name in COMPONENTS)

    np.testing.assert_array_equal(total, arrays.confidence)
    assert set(arrays.components) == set(COMPONENTS)
    assert arrays.confidence.max() <= 100
    assert (arrays.confidence[arrays.candidate == 0] == 0).all()


def test_scan_reports_bad_series_without_hiding_the_others():
    bad = CandleArrays(*(np.array(x) for x in ([START_MS], [1.0], [1.0], [0.0], [1.0], [1.0])))

    result = scan_latest({"UP/USDT:USDT": _trend(), "BAD/USDT:USDT": bad}, PARAMS, _closed_at(_trend()))

    assert [s.symbol for s in result.signals] == ["UP/USDT:USDT"]
    assert "candles.low" in result.errors["BAD/USDT:USDT"]


def test_latest_signal_refuses_a_naive_time_and_a_series_with_no_closed_bar():
    candles = _trend()

    with pytest.raises(ValidationError) as naive:
        latest_signal("X", candles, PARAMS, datetime(2024, 1, 1))
    with pytest.raises(ValidationError) as early:
        latest_signal("X", candles, PARAMS, from_ms(START_MS))
    assert naive.value.field == "now" and early.value.field == "candles"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"rsi_long_max": 120}, "rsi_long_max"),
        ({"rsi_long_min": 55}, "rsi_long_min"),
        ({"adx_full": 10}, "adx_full"),
        ({"atr_pct_max": 0.05}, "atr_pct_max"),
        ({"target_atr": 2.0}, "target_atr"),  # 2 / 1.5 is below reward:risk 2
        ({"confidence_threshold": 101}, "confidence_threshold"),
        ({"stop_atr": float("nan")}, "stop_atr"),
        ({"valid_bars": 1.5}, "valid_bars"),
    ],
)
def test_signal_params_reject_bad_values_naming_the_field_and_range(changes, field):
    with pytest.raises(ValidationError) as err:
        SignalParams(**changes)
    assert err.value.field == field


def test_every_reason_code_has_a_text():
    assert set(REASON_TEXT) == set(Reason)


# -- quality score ------------------------------------------------------------------------------------


def test_quality_weights_confidence_win_rate_market_and_reward_risk():
    quality = quality_score(_signal(confidence=80, market_condition=50, reward_risk=Decimal("2.00")), 0.6)

    assert quality.components == {"confidence": Decimal("32.00"), "win_rate": Decimal("18.00"),
                                  "market": Decimal("10.00"), "reward_risk": Decimal("6.67")}
    assert quality.score == Decimal("66.67")


def test_unknown_win_rate_is_left_out_named_and_the_other_weights_renormalised():
    quality = quality_score(_signal(confidence=80, market_condition=50, reward_risk=Decimal("2.00")), None)

    # 0.4 / 0.2 / 0.1 over 0.7: confidence 80 x 4/7, market 50 x 2/7, reward:risk 66.67 x 1/7
    assert quality.components == {"confidence": Decimal("45.71"), "market": Decimal("14.29"),
                                  "reward_risk": Decimal("9.52")}
    assert quality.score == Decimal("69.52")
    assert quality.missing == {"win_rate": "no history"}
    assert quality.weights == {"confidence": Decimal("0.5714"), "market": Decimal("0.2857"),
                               "reward_risk": Decimal("0.1429")}
    assert "win rate: no history" in quality.notes
    assert not any("50 %" in note for note in quality.notes)


def test_a_missing_win_rate_carries_the_reason_given():
    quality = quality_score(_signal(), None, "only 2 recorded trade(s) (need 5)")

    assert quality.missing == {"win_rate": "only 2 recorded trade(s) (need 5)"}
    assert "win rate: only 2 recorded trade(s) (need 5)" in quality.notes


def test_perfect_parts_score_100_with_or_without_a_win_rate():
    perfect = _signal(confidence=100, market_condition=100, reward_risk=Decimal(3))

    assert quality_score(perfect, Decimal(1)).score == Decimal("100.00")
    assert quality_score(perfect, None).score == Decimal("100.00")


def test_ranking_is_not_lifted_by_an_invented_win_rate():
    # with no history the score is that of the parts with data; a real win rate moves it down or up from there
    base = _signal(confidence=80, market_condition=60, reward_risk=Decimal("2.50"))
    unknown = quality_score(base, None).score

    assert quality_score(base, Decimal("0.1")).score < unknown < quality_score(base, Decimal(1)).score
    assert unknown == quality_score(base, None, "backtest unavailable").score


def test_reward_risk_points_are_capped_at_three_to_one():
    quality = quality_score(_signal(confidence=100, market_condition=100, reward_risk=Decimal(5)), Decimal(1))

    assert quality.components["reward_risk"] == Decimal("10.00")
    assert quality.score == Decimal("100.00")


@pytest.mark.parametrize("win_rate", [1.5, -0.1, float("nan"), "0.5"])
def test_quality_rejects_a_win_rate_outside_zero_to_one(win_rate):
    with pytest.raises(ValidationError) as err:
        quality_score(_signal(), win_rate)
    assert err.value.field == "win_rate"


# -- filters ------------------------------------------------------------------------------------------


def test_filter_keeps_a_fresh_signal_on_a_free_symbol():
    signal = _signal()

    result = filter_signals([signal], T0 + timedelta(minutes=1), set(), {})

    assert result.kept == [signal] and result.dropped == []


def test_filter_drops_a_signal_once_its_validity_has_passed():
    result = filter_signals([_signal()], T0 + timedelta(minutes=15), set(), {})

    assert result.kept == []
    assert result.dropped[0].reason.startswith("expired at 2024-03-01 12:15:00 UTC")


def test_filter_drops_a_symbol_already_held():
    result = filter_signals([_signal(), _signal(symbol="SOL/USDT:USDT")], T0, {"BTC/USDT:USDT"}, {})

    assert [s.symbol for s in result.kept] == ["SOL/USDT:USDT"]
    assert "already open" in result.dropped[0].reason


def test_filter_enforces_the_per_symbol_cooldown():
    now = T0 + timedelta(minutes=1)
    taken = {"BTC/USDT:USDT": now - timedelta(minutes=4), "SOL/USDT:USDT": now - timedelta(minutes=5)}
    signals = [_signal(), _signal(symbol="SOL/USDT:USDT")]

    result = filter_signals(signals, now, set(), taken)

    assert [s.symbol for s in result.kept] == ["SOL/USDT:USDT"]  # exactly 5 minutes: cooled down
    assert result.dropped[0].reason.startswith("cooling down until 2024-03-01 12:02:00 UTC")


def test_filter_drops_a_signal_from_the_future():
    result = filter_signals([_signal()], T0 - timedelta(seconds=1), set(), {})

    assert "after now" in result.dropped[0].reason


def test_filter_refuses_naive_times_and_a_negative_cooldown():
    with pytest.raises(ValidationError):
        filter_signals([], datetime(2024, 1, 1), set(), {})
    with pytest.raises(ValidationError):
        filter_signals([], T0, set(), {}, cooldown=timedelta(minutes=-1))
    with pytest.raises(ValidationError):
        filter_signals([], T0, set(), {"X": datetime(2024, 1, 1)})


def test_signal_is_a_frozen_record_with_the_documented_fields():
    names = {f.name for f in fields(Signal)}

    assert {"symbol", "timeframe", "side", "entry", "stop", "target", "reward_risk", "confidence", "components",
            "created_at", "valid_until", "reasons"} <= names
