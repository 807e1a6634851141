import math

import numpy as np
import pytest

from riskmgr.market.sim.daily import BLOCK_DAYS, DailyModel, symbol_key
from riskmgr.market.sim.specs import SIM_BY_SYMBOL, SIM_SYMBOLS

BTC, SOL = SIM_BY_SYMBOL["BTC/USDT:USDT"], SIM_BY_SYMBOL["SOL/USDT:USDT"]
DAYS = 1055  # 2024-01-01 .. 2026-11-21


@pytest.fixture(scope="module")
def model() -> DailyModel:
    return DailyModel(seed=20240101)


def _returns(model: DailyModel, sim, days: int = DAYS) -> np.ndarray:
    path = model.path(sim, days - 1)
    return path.close_log[:days] - path.open_log[:days]


def _autocorrelation(x: np.ndarray, lag: int) -> float:
    x = x - x.mean()
    return float((x[:-lag] * x[lag:]).sum() / (x * x).sum())


def test_symbol_keys_differ_between_symbols():
    assert len({symbol_key(sim.spec.symbol) for sim in SIM_SYMBOLS}) == len(SIM_SYMBOLS)


def test_first_day_opens_at_the_start_price(model):
    assert math.exp(model.path(SOL, 0).open_log[0]) == pytest.approx(101.0)


def test_each_day_opens_at_the_previous_close(model):
    path = model.path(BTC, DAYS)
    assert np.array_equal(path.open_log[1:], path.close_log[:-1])


def test_a_day_does_not_depend_on_how_far_the_history_was_generated():
    short = DailyModel(seed=5).path(SOL, 3)
    long = DailyModel(seed=5).path(SOL, 3 * BLOCK_DAYS)
    assert np.array_equal(short.close_log, long.close_log[:BLOCK_DAYS])
    assert np.array_equal(short.quote_volume, long.quote_volume[:BLOCK_DAYS])


def test_market_factor_makes_symbols_move_together(model):
    correlation = np.corrcoef(_returns(model, BTC), _returns(model, SOL))[0, 1]
    assert 0.4 < correlation < 0.95


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_daily_volatility_is_realistic_and_alts_are_wilder(seed):
    model = DailyModel(seed)
    btc, sol = _returns(model, BTC).std(), _returns(model, SOL).std()
    assert 0.018 < btc < 0.035
    assert 0.03 < sol < 0.065
    assert sol > btc


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_volatility_clusters(seed):
    size = np.abs(_returns(DailyModel(seed), BTC))
    mean_autocorrelation = np.mean([_autocorrelation(size, lag) for lag in range(1, 6)])
    assert mean_autocorrelation > 0.05


def test_jumps_are_occasional_several_percent_and_followed_by_higher_volatility(model):
    path = model.path(BTC, DAYS)
    jump_days = np.flatnonzero(path.jump[:DAYS])
    assert 8 <= jump_days.size <= 60
    assert np.median(np.abs(path.jump[jump_days])) > 0.03
    assert np.all(path.jump_minute[jump_days] >= 0)
    after = np.unique(np.clip(jump_days[:, None] + np.arange(1, 4), 0, DAYS - 1))
    assert path.sigma[after].mean() > path.sigma[:DAYS].mean()


def test_turnover_is_larger_on_big_moves(model):
    path = model.path(SOL, DAYS)
    move = np.abs(_returns(model, SOL))
    assert np.corrcoef(move, path.quote_volume[:DAYS])[0, 1] > 0.3


def test_prices_stay_positive_and_near_realistic_levels(model):
    for sim in SIM_SYMBOLS:
        prices = np.exp(model.path(sim, DAYS).close_log[:DAYS])
        assert np.all(prices > 0)
        assert sim.start_price / 20 < prices.min() and prices.max() < sim.start_price * 20


def test_day_outside_the_simulated_range_is_refused(model):
    with pytest.raises(ValueError, match="day -1 is outside"):
        model.path(BTC, -1)
