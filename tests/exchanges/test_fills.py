import re
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import pytest

from riskmgr.core.domain import OrderSide, PositionSide
from riskmgr.core.errors import ConfigError
from riskmgr.exchanges import fills as fm

D = Decimal
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def bar(o: str, h: str, lo: str, c: str) -> fm.Bar:
    return fm.Bar(T0, D(o), D(h), D(lo), D(c))


# -- prices, fees, rounding -----------------------------------------------------------------------------


def test_slippage_moves_the_price_against_the_taker():
    assert fm.slipped_price(D(50000), OrderSide.BUY, D(2)) == D(50010)
    assert fm.slipped_price(D(50000), OrderSide.SELL, D(2)) == D(49990)


def test_slipped_price_rounds_to_the_tick_against_the_taker():
    # 33333.3 * 1.0002 = 33339.96666, 33333.3 * 0.9998 = 33326.63334
    assert fm.slipped_price(D("33333.3"), OrderSide.BUY, D(2), D("0.1")) == D("33340.0")
    assert fm.slipped_price(D("33333.3"), OrderSide.SELL, D(2), D("0.1")) == D("33326.6")


def test_fee_is_notional_times_rate():
    assert fm.fee_for(D(50000), D("0.1"), D("0.0005")) == D("2.5")


def test_rounding_helpers():
    assert fm.round_qty_down(D("0.0019"), D("0.001")) == D("0.001")
    assert fm.round_to_tick(D("50000.06"), D("0.1")) == D("50000.1")
    assert fm.round_to_tick(D("50000.01"), D("0.1"), ROUND_CEILING) == D("50000.1")
    assert fm.round_to_tick(D("50000.09"), D("0.1"), ROUND_FLOOR) == D("50000.0")
    assert fm.is_multiple(D("0.003"), D("0.001"))
    assert not fm.is_multiple(D("0.0025"), D("0.001"))


def test_rounding_to_a_zero_step_is_refused():
    with pytest.raises(ValueError, match="step must be > 0"):
        fm.round_qty_down(D(1), D(0))


def test_fill_model_names_the_field_out_of_range():
    with pytest.raises(ConfigError, match=re.escape("taker_fee=Decimal('-0.001') is out of range; allowed 0–0.01")):
        fm.FillModel(taker_fee=D("-0.001"), maker_fee=D(0), slippage_bps=D(0))


def test_bar_with_high_below_open_is_refused():
    with pytest.raises(ValueError, match="low <= open, close <= high"):
        bar("100", "99", "98", "99")


# -- limit orders ---------------------------------------------------------------------------------------


def test_marketable_limit_fills_like_a_market_order_but_never_beyond_its_limit():
    assert fm.is_marketable(OrderSide.BUY, D(51000), D(50000))
    assert not fm.is_marketable(OrderSide.SELL, D(51000), D(50000))
    assert fm.marketable_limit_price(OrderSide.BUY, D(51000), D(50000), D(2)) == D(50010)
    assert fm.marketable_limit_price(OrderSide.BUY, D(50005), D(50000), D(2)) == D(50005)


def test_resting_buy_fills_at_its_price_when_the_low_reaches_it():
    assert fm.resting_limit_fill_price(OrderSide.BUY, D(49000), bar("50000", "50100", "48900", "49500")) == D(49000)


def test_resting_buy_fills_at_the_open_when_the_bar_opens_through_it():
    assert fm.resting_limit_fill_price(OrderSide.BUY, D(49000), bar("48500", "48700", "48000", "48600")) == D(48500)


def test_resting_buy_stays_when_the_low_stays_above_it():
    assert fm.resting_limit_fill_price(OrderSide.BUY, D(49000), bar("50000", "50100", "49001", "49500")) is None


def test_resting_sell_fills_at_its_price_or_the_gap_open():
    assert fm.resting_limit_fill_price(OrderSide.SELL, D(51000), bar("50000", "51200", "49900", "51100")) == D(51000)
    assert fm.resting_limit_fill_price(OrderSide.SELL, D(51000), bar("51500", "51600", "51400", "51500")) == D(51500)
    assert fm.resting_limit_fill_price(OrderSide.SELL, D(51000), bar("50000", "50999", "49900", "50500")) is None


# -- triggers -------------------------------------------------------------------------------------------


def test_long_stop_fires_at_the_trigger_when_the_low_crosses_it():
    exit_ = fm.adverse_exit(PositionSide.LONG, bar("50000", "50100", "48500", "48800"), stop=D(49000), liquidation=None)
    assert exit_ == fm.Exit(fm.ExitKind.STOP_LOSS, D(49000))


def test_long_stop_fills_at_the_open_when_the_bar_gaps_below_it():
    exit_ = fm.adverse_exit(PositionSide.LONG, bar("48500", "48600", "48000", "48100"), stop=D(49000), liquidation=None)
    assert exit_ == fm.Exit(fm.ExitKind.STOP_LOSS, D(48500))


def test_stop_above_the_liquidation_price_fires_first_on_the_way_down():
    exit_ = fm.adverse_exit(
        PositionSide.LONG, bar("50000", "50000", "45000", "45100"), stop=D(49000), liquidation=D(45250)
    )
    assert exit_ == fm.Exit(fm.ExitKind.STOP_LOSS, D(49000))


def test_liquidation_wins_when_the_bar_opens_beyond_it():
    exit_ = fm.adverse_exit(
        PositionSide.LONG, bar("45000", "45100", "44000", "44500"), stop=D(49000), liquidation=D(45250)
    )
    assert exit_ == fm.Exit(fm.ExitKind.LIQUIDATION, D(45000))


def test_short_stop_fires_when_the_high_crosses_it():
    exit_ = fm.adverse_exit(
        PositionSide.SHORT, bar("50000", "51200", "49900", "51000"), stop=D(51000), liquidation=None
    )
    assert exit_ == fm.Exit(fm.ExitKind.STOP_LOSS, D(51000))


def test_take_profit_fires_at_the_target_or_the_gap_open():
    assert fm.take_profit_exit(PositionSide.LONG, bar("50000", "52100", "49900", "52000"), D(52000)) == fm.Exit(
        fm.ExitKind.TAKE_PROFIT, D(52000)
    )
    assert fm.take_profit_exit(PositionSide.LONG, bar("52500", "52600", "52400", "52500"), D(52000)) == fm.Exit(
        fm.ExitKind.TAKE_PROFIT, D(52500)
    )
    assert fm.take_profit_exit(PositionSide.SHORT, bar("50000", "50100", "47900", "48000"), D(48000)) == fm.Exit(
        fm.ExitKind.TAKE_PROFIT, D(48000)
    )
    assert fm.take_profit_exit(PositionSide.LONG, bar("50000", "51999", "49900", "51000"), D(52000)) is None


def test_triggered_stop_fills_with_slippage_against_the_closing_side():
    stop = fm.Exit(fm.ExitKind.STOP_LOSS, D(49000))
    assert fm.exit_fill_price(stop, PositionSide.LONG, D(10), D("0.1")) == D(48951)
    assert fm.exit_fill_price(stop, PositionSide.SHORT, D(10), D("0.1")) == D(49049)


def test_liquidation_fills_without_slippage():
    assert fm.exit_fill_price(fm.Exit(fm.ExitKind.LIQUIDATION, D(45250)), PositionSide.LONG, D(10)) == D(45250)


# -- margin and P&L -------------------------------------------------------------------------------------


def test_pnl_of_long_and_short():
    assert fm.pnl(PositionSide.LONG, D(50000), D("0.1"), D(51000)) == D(100)
    assert fm.pnl(PositionSide.SHORT, D(50000), D("0.1"), D(51000)) == D(-100)


def test_initial_margin_is_notional_over_leverage():
    assert fm.initial_margin(D(50000), D("0.1"), 10) == D(500)


def test_average_entry_weights_by_size():
    assert fm.average_entry(D(50000), D("0.1"), D(51000), D("0.3")) == D(50750)


def test_isolated_liquidation_price_of_a_long_at_10x():
    # 50000 * (1 - 0.1 + 0.005)
    assert fm.isolated_liquidation_price(PositionSide.LONG, D(50000), 10, D("0.005")) == D(45250)


def test_isolated_liquidation_price_of_a_short_at_10x():
    # 50000 * (1 + 0.1 - 0.005)
    assert fm.isolated_liquidation_price(PositionSide.SHORT, D(50000), 10, D("0.005")) == D(54750)


def test_isolated_liquidation_from_the_margin_matches_the_leverage_formula():
    price = fm.isolated_liquidation_price_for_margin(PositionSide.LONG, D(50000), D("0.1"), D(500), D("0.005"))
    assert price == D(45250)


def test_cross_liquidation_price_of_one_position_solves_equity_equals_maintenance():
    # cushion = 1000 - 0.005 * 50000 * 0.1 = 975; long: 50000 - 975 / 0.1, short: 50000 + 975 / 0.1
    common = {"cross_balance": D(1000), "other_unrealized": D(0), "maintenance": D(25)}
    assert fm.cross_liquidation_price(PositionSide.LONG, D(50000), D("0.1"), **common) == D(40250)
    assert fm.cross_liquidation_price(PositionSide.SHORT, D(50000), D("0.1"), **common) == D(59750)


def test_cross_long_with_a_large_cushion_has_no_liquidation_price():
    price = fm.cross_liquidation_price(
        PositionSide.LONG, D(50000), D("0.1"), cross_balance=D(10000), other_unrealized=D(0), maintenance=D(25)
    )
    assert price is None
