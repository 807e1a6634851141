"""The block-wise rules equal a plain reading of them on random rows: warm-up NaNs, infinities, ties at every
threshold, any block size; the series path equals the rows path, and the higher-timeframe edges equal the search."""

import numpy as np
import pytest

from riskmgr.market.base import CandleArrays
from riskmgr.signals import rules
from riskmgr.signals.indicators import IndicatorParams, compute_indicators
from riskmgr.signals.params import Reason, SignalParams
from riskmgr.signals.rules import COMPONENTS, RuleInputs, evaluate_indicators, evaluate_rows

START_MS, BAR_MS = 1_704_067_200_000, 900_000
FLOATS = ("entry", "stop", "target", "atr_pct")
INTEGERS = ("direction", "candidate", "confidence", "market", "reason")
DTYPES = {"direction": np.int8, "candidate": np.int8, "confidence": np.int16, "market": np.int16,
          "reason": np.int8}


def reference(x: RuleInputs, p: SignalParams) -> dict[str, np.ndarray | dict[str, np.ndarray]]:
    """The rules as whole-column numpy expressions, written as plainly as they read (the former implementation)."""
    warm = ~np.isnan(x.close + x.atr + x.rsi + x.bb_upper + x.adx + x.macd + x.macd_hist + x.volume_ma
                     + x.ema_fast + x.ema_mid + x.ema_slow)
    up = (x.ema_fast > x.ema_mid) & (x.ema_mid > x.ema_slow)
    down = (x.ema_fast < x.ema_mid) & (x.ema_mid < x.ema_slow)
    candidate = (up & warm).astype(np.int8) - (down & warm)
    side = candidate.astype(np.float64)
    has = side != 0
    rsi_m = 50 + side * (x.rsi - 50)
    atr_pct = x.atr / x.close * 100
    half_band = x.bb_upper - x.bb_middle
    offset = side * (x.close - x.bb_middle)
    strength = np.clip((x.adx - p.adx_min) / (p.adx_full - p.adx_min), 0, 1)
    points = {
        "trend": has * 15 + (side * (x.close - x.ema_fast) > 0) * 10,
        "strength": np.where(has & (x.adx >= p.adx_min), np.rint(10 + 10 * strength), 0),
        "momentum": has * np.where(rsi_m >= 50, 15, 8),
        "macd": (side * x.macd > 0) * (10 + (side * x.macd_hist > 0) * 5),
        "band": has * np.where(offset >= 0, 15, np.where(offset >= -half_band, 8, 0)),
        "volume": (has & (x.volume >= x.volume_ma)) * 10,
    }
    components = {name: value.astype(np.int16) for name, value in points.items()}
    confidence = sum(components.values(), np.zeros(len(side), dtype=np.int16))
    reason = np.full(len(side), Reason.OK, dtype=np.int8)
    reason[confidence < p.confidence_threshold] = Reason.LOW_CONFIDENCE
    reason[offset > half_band] = Reason.BAND
    reason[(rsi_m < p.rsi_long_min) | (rsi_m > p.rsi_long_max)] = Reason.RSI
    reason[(atr_pct < p.atr_pct_min) | (atr_pct > p.atr_pct_max)] = Reason.VOLATILITY
    reason[x.adx < p.adx_min] = Reason.WEAK_TREND
    reason[candidate == 0] = Reason.NO_TREND
    reason[~warm] = Reason.WARMUP
    mid, half = (p.atr_pct_max + p.atr_pct_min) / 2, (p.atr_pct_max - p.atr_pct_min) / 2
    calm = np.clip(1 - np.abs(atr_pct - mid) / half, 0, 1)
    return {
        "direction": np.where(reason == Reason.OK, candidate, 0).astype(np.int8), "candidate": candidate,
        "confidence": confidence, "components": components, "entry": x.close,
        "stop": np.where(has, x.close - side * p.stop_atr * x.atr, np.nan),
        "target": np.where(has, x.close + side * p.target_atr * x.atr, np.nan), "atr_pct": atr_pct,
        "market": np.where(warm, np.rint(60 * strength + 40 * calm), 0).astype(np.int16), "reason": reason,
    }


def random_rows(seed: int, n: int) -> tuple[RuleInputs, SignalParams]:
    """Rows drawn from small sets of values, so equal values (ties at every threshold) are common, with NaN
    warm-up prefixes of different lengths, scattered NaNs and infinities; params taken from the rows' own values."""
    rng = np.random.default_rng(seed)

    def pick(*values: float) -> np.ndarray:
        return rng.choice(np.array(values, dtype=np.float64), n)

    close = pick(80.0, 100.0, 100.0, 125.0)
    mid, width = pick(99.0, 100.0, 101.0), pick(0.5, 1.0, 2.0)
    close = np.where(rng.random(n) < 0.5, mid + pick(-1.0, -0.5, 0.0, 0.5, 1.0) * width, close)
    columns = {
        "close": close, "volume": pick(900.0, 1000.0, 1100.0), "atr": close * pick(0.001, 0.008, 0.02, 0.03),
        "rsi": pick(20.0, 32.0, 44.9, 45.0, 50.0, 55.0, 61.7, 68.0, 68.1, 80.0),
        "bb_upper": mid + width, "bb_middle": mid, "bb_lower": mid - width,
        "adx": pick(12.0, 19.99, 20.0, 27.3, 35.0, 48.0), "macd": pick(-1.5, 0.0, 0.7),
        "macd_hist": pick(-0.2, 0.0, 0.3), "volume_ma": pick(1000.0, 1000.0, 950.0),
        "ema_fast": pick(99.0, 100.0, 101.0, 102.0), "ema_mid": pick(99.0, 100.0, 101.0),
        "ema_slow": pick(98.0, 100.0, 101.0),
    }
    for name, column in columns.items():
        column[: rng.integers(0, n // 8)] = np.nan  # indicator warm-up, a different length for each
        if name not in ("close", "atr"):  # keep ATR % a number: 0 / 0 and inf / inf have no market condition
            column[rng.random(n) < 0.01] = np.nan
            column[rng.random(n) < 0.005] = rng.choice([np.inf, -np.inf])
    x = RuleInputs(*(columns[name] for name in rules.RULE_FIELDS))
    sample = rng.integers(0, n, 2)
    atr_pct = sorted(float(x.atr[k] / x.close[k] * 100) for k in sample)  # ties with real rows' ATR %
    low = atr_pct[0] if np.isfinite(atr_pct[0]) and atr_pct[0] < 9 else 0.1
    high = atr_pct[1] if np.isfinite(atr_pct[1]) and atr_pct[1] >= low + 0.01 else max(2.5, low + 0.01)
    params = SignalParams(
        rsi_long_min=float(rng.choice([45.0, 44.9, 50.0])), rsi_long_max=float(rng.choice([68.0, 61.7, 55.0])),
        adx_min=float(rng.choice([20.0, 19.99, 27.3])), adx_full=float(rng.choice([35.0, 48.0])),
        atr_pct_min=low, atr_pct_max=high, confidence_threshold=int(rng.choice([0, 45, 60, 75, 83, 100])),
    )
    return x, params


def assert_same(found: rules.SignalArrays, expected: dict) -> None:
    for name in FLOATS:
        np.testing.assert_array_equal(getattr(found, name), expected[name], err_msg=name)  # NaN where NaN
        assert getattr(found, name).dtype == np.float64, name
    for name in INTEGERS:
        value = getattr(found, name)
        np.testing.assert_array_equal(value, expected[name], err_msg=name)
        assert value.dtype == DTYPES[name], name
    assert list(found.components) == list(COMPONENTS)
    for name in COMPONENTS:
        np.testing.assert_array_equal(found.components[name], expected["components"][name], err_msg=name)
        assert found.components[name].dtype == np.int16, name


@pytest.fixture(params=["details at once", "details when read"])
def details(request, monkeypatch):
    """Run a test with the components, market and ATR % worked out in the pass, and again worked out when read."""
    if request.param == "details when read":
        monkeypatch.setattr(rules, "EAGER_ROWS", 0)
    return request.param


@pytest.mark.parametrize("seed", range(40))
def test_rules_on_random_rows_equal_the_plain_reading_of_them(seed, details):
    x, params = random_rows(seed, 3000)
    with np.errstate(invalid="ignore"):  # inf - inf in the rows on purpose
        expected = reference(x, params)
        found = evaluate_rows(x, params)
        found.components  # worked out on first reading  # noqa: B018

    assert_same(found, expected)
    assert len(set(found.reason.tolist())) >= 4  # several checks decide somewhere in these rows


@pytest.mark.parametrize("block", [1, 7, 64, 1000])
def test_rules_give_the_same_rows_whatever_the_block_size(monkeypatch, block, details):
    x, params = random_rows(block, 2500)
    with np.errstate(invalid="ignore"):
        expected = reference(x, params)
        monkeypatch.setattr(rules, "BLOCK", block)
        found = evaluate_rows(x, params)
        found.components  # noqa: B018

    assert_same(found, expected)


def test_ties_at_every_threshold_occur_in_the_random_rows():
    x, params = random_rows(3, 3000)
    side = np.where((x.ema_fast > x.ema_mid) & (x.ema_mid > x.ema_slow), 1.0, -1.0)

    assert (x.adx == params.adx_min).any() and (x.volume == x.volume_ma).any() and (x.close == x.ema_fast).any()
    assert (50 + side * (x.rsi - 50) == params.rsi_long_min).any() or (x.rsi == 50).any()
    assert (x.close == x.bb_middle).any() and (x.close == x.bb_upper).any() and (x.close == x.bb_lower).any()
    assert (x.atr / x.close * 100 == params.atr_pct_min).any() and (x.macd == 0).any()
    assert (x.ema_fast == x.ema_mid).any() and np.isinf(x.rsi).any() and np.isnan(x.adx[-100:]).any()


def test_components_and_market_are_worked_out_once_when_first_read(monkeypatch):
    monkeypatch.setattr(rules, "EAGER_ROWS", 100)  # more rows than this: worked out when read
    x, params = random_rows(11, 500)
    calls = []
    with np.errstate(invalid="ignore"):
        arrays = evaluate_rows(x, params)
        worked_out = arrays.details
        object.__setattr__(arrays, "details", lambda: calls.append(1) or worked_out())

        first, market = arrays.components, arrays.market

    assert arrays.components is first and arrays.market is market and arrays.atr_pct is not None and calls == [1]


def _candles(n: int, seed: int, gaps: bool) -> CandleArrays:
    rng = np.random.default_rng(seed)
    steps = rng.choice([1, 1, 1, 1, 3], n) if gaps else np.ones(n, dtype=np.int64)
    ts = START_MS + 7 * BAR_MS + BAR_MS * np.cumsum(steps).astype(np.int64)  # starts mid-hour
    close = 100 * np.exp(np.cumsum(rng.normal(0.0002, 0.004, n)))
    open_ = np.concatenate(([close[0]], close[:-1]))
    high, low = np.maximum(open_, close) * 1.001, np.minimum(open_, close) * 0.999
    return CandleArrays(ts, open_, high, low, close, rng.lognormal(7, 0.4, n))


@pytest.mark.parametrize(("n", "gaps", "block"), [(3000, False, 256), (3000, True, 256), (2999, False, 1000),
                                                  (900, True, 7), (5, False, 2)])
def test_series_path_equals_the_rows_of_every_bar(monkeypatch, n, gaps, block, details):
    candles = _candles(n, n + block, gaps)
    ind = compute_indicators(candles, IndicatorParams(htf_factor=4))
    params = SignalParams()
    expected = reference(RuleInputs.from_indicators(ind), params)

    monkeypatch.setattr(rules, "BLOCK", block)
    assert_same(evaluate_indicators(ind, params), expected)


@pytest.mark.parametrize(("gaps", "factor"), [(False, 4), (True, 4), (False, 1), (True, 3), (False, 24)])
def test_higher_timeframe_edges_equal_the_closed_bar_search_of_every_row(gaps, factor):
    ind = compute_indicators(_candles(1500, factor, gaps), IndicatorParams(htf_factor=factor))
    values = np.concatenate(([np.nan], ind.htf_ema_fast))

    repeated = np.repeat(values, np.diff(ind.htf_edges()))

    np.testing.assert_array_equal(repeated, values[ind.htf_index(slice(None)) + 1])
    np.testing.assert_array_equal(RuleInputs.from_indicators(ind).ema_fast, repeated)
