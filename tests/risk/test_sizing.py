import json
from dataclasses import replace
from decimal import Decimal

import pytest

from riskmgr.core.domain import PositionSide
from riskmgr.core.errors import ValidationError
from riskmgr.risk.config import RiskLimits
from riskmgr.risk.sizing import (
    SizingInput,
    assess_position,
    fmt_money,
    fmt_number,
    fmt_pct,
    liquidation_beyond_stop,
    liquidation_price,
    qty_for_risk,
    reward_risk,
    risk_usdt,
    round_down_to_step,
    size_position,
    stop_target_from_atr,
    stop_target_from_pct,
)
from tests.risk.builders import BTC, NO_COSTS

D = Decimal
LONG, SHORT = PositionSide.LONG, PositionSide.SHORT
ROOMY = RiskLimits().with_changes(max_position_notional="10000000")


def order(**changes) -> SizingInput:
    fields = {
        "side": LONG,
        "entry_price": D(60000),
        "stop_loss": D(59100),
        "take_profit": D(61800),
        "leverage": 5,
        "equity": D(10000),
        "costs": NO_COSTS,  # plain price arithmetic here; costs and adds: test_costs.py
    }
    fields.update(changes)
    return SizingInput(**fields)


def test_qty_for_risk_is_equity_times_risk_over_stop_distance():
    assert qty_for_risk(D(10000), D("1.5"), D(100), D("98.5"), D("0.01")) == D(100)


def test_qty_for_risk_rounds_down_to_the_step():
    # 10000 * 1.5 % = 150 USDT over a 900 distance = 0.1666... BTC
    assert qty_for_risk(D(10000), D("1.5"), D(60000), D(59100), D("0.001")) == D("0.166")


def test_round_down_never_rounds_up():
    assert round_down_to_step(D("0.0169999"), D("0.001")) == D("0.016")
    assert round_down_to_step(D("0.017"), D("0.001")) == D("0.017")
    assert round_down_to_step(D(49), D(10)) == D(40)


def test_qty_for_risk_refuses_a_stop_on_the_entry():
    with pytest.raises(ValidationError) as caught:
        qty_for_risk(D(10000), D("1.5"), D(60000), D(60000), D("0.001"))

    assert caught.value.field == "stop_loss"


def test_risk_in_usdt_is_qty_times_stop_distance():
    assert risk_usdt(D("0.166"), D(60000), D(59100)) == D("149.4")


def test_size_position_without_caps_gives_size_risk_margin_and_receipt_figures():
    result = size_position(order(), BTC, ROOMY)

    assert result.qty == D("0.166")
    assert result.notional == D(9960)
    assert result.margin == D(1992)
    assert result.risk_usdt == D("149.4")
    assert result.risk_pct == D("1.494")
    assert result.risk_budget == D(150)
    assert result.stop_distance == D(900)
    assert result.reward_risk == D(2)
    assert result.caps == ()
    assert result.sized is True


def test_size_position_is_capped_by_max_position_notional_with_the_reason():
    result = size_position(order(), BTC, RiskLimits())

    # 1000 USDT / 60000 = 0.01666 -> 0.016 BTC instead of the 0.166 BTC the risk budget gives
    assert result.qty == D("0.016")
    assert result.notional == D(960)
    assert result.risk_usdt == D("14.4")
    assert [cap.name for cap in result.caps] == ["max_position_notional"]
    assert "quantity capped at 0.016 BTC (risk budget gives 0.166 BTC)" in result.caps[0].reason


def test_the_position_cap_counts_the_notional_already_in_the_position():
    result = size_position(order(position_notional=D(400)), BTC, RiskLimits())

    assert result.qty == D("0.01")  # 600 USDT of room / 60000
    assert result.caps[0].max_notional == D(600)


def test_size_position_is_capped_by_equity_times_max_leverage():
    # a 0.1 % stop: 150 USDT / 60 = 2.5 BTC = 150000 USDT, but 10000 * 5x = 50000 USDT
    result = size_position(order(stop_loss=D(59940), take_profit=None), BTC, ROOMY)

    assert result.qty == D("0.833")
    assert [cap.name for cap in result.caps] == ["max_leverage"]
    assert "leverage cap 5x equity 10000.00 USDT" in result.caps[0].reason


def test_the_leverage_cap_counts_notional_already_open_on_the_account():
    result = size_position(order(stop_loss=D(59940), open_notional=D(20000)), BTC, ROOMY)

    assert result.qty == D("0.5")  # 30000 USDT of room / 60000
    assert result.caps[0].max_notional == D(30000)


def test_when_both_caps_apply_both_are_reported_and_the_tighter_wins():
    limits = RiskLimits().with_changes(max_position_notional="60000")

    result = size_position(order(stop_loss=D(59940)), BTC, limits)

    assert [cap.name for cap in result.caps] == ["max_position_notional", "max_leverage"]
    assert result.qty == D("0.833")


def test_a_full_position_leaves_zero_quantity():
    result = size_position(order(position_notional=D(1000)), BTC, RiskLimits())

    assert result.qty == D(0)


def test_assess_position_rounds_the_callers_qty_down_and_applies_no_caps():
    result = assess_position(order(), D("0.0169"), BTC, RiskLimits())

    assert result.qty == D("0.016")
    assert result.raw_qty == D("0.0169")
    assert result.caps == ()
    assert result.sized is False


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"equity": D(0)}, "equity"),
        ({"stop_loss": D(60000)}, "stop_loss"),
        ({"stop_loss": D(60100)}, "stop_loss"),
        ({"side": SHORT}, "stop_loss"),
        ({"leverage": 0}, "leverage"),
        ({"entry_price": D(-1)}, "entry_price"),
    ],
)
def test_size_position_refuses_impossible_input_naming_the_field(changes, field):
    with pytest.raises(ValidationError) as caught:
        size_position(order(**changes), BTC, RiskLimits())

    assert caught.value.field == field


def test_stop_and_target_from_percent_for_long_and_short():
    assert stop_target_from_pct(LONG, D(60000), D("1.5"), D(3)) == (D(59100), D(61800))
    assert stop_target_from_pct(SHORT, D(60000), D("1.5"), D(3)) == (D(60900), D(58200))


def test_tick_rounding_moves_the_stop_towards_entry_and_the_target_away():
    # long: stop 98.52955 -> 98.53, target 103.0309 -> 103.04; short: stop 101.53045 -> 101.53, target 97.0291 -> 97.02
    assert stop_target_from_pct(LONG, D("100.03"), D("1.5"), D(3), D("0.01")) == (D("98.53"), D("103.04"))
    assert stop_target_from_pct(SHORT, D("100.03"), D("1.5"), D(3), D("0.01")) == (D("101.53"), D("97.02"))


def test_stop_and_target_from_atr_multiples():
    assert stop_target_from_atr(LONG, D(2000), D(25), D("1.5"), D(3)) == (D("1962.5"), D(2075))
    assert stop_target_from_atr(SHORT, D(2000), D(25), D("1.5"), D(3)) == (D("2037.5"), D(1925))


def test_a_long_stop_at_or_below_zero_is_refused():
    with pytest.raises(ValidationError):
        stop_target_from_pct(LONG, D(100), D(100), D(3))


def test_reward_risk_is_reward_over_risk_and_negative_for_a_target_on_the_wrong_side():
    assert reward_risk(LONG, D(100), D(98), D(104)) == D(2)
    assert reward_risk(SHORT, D(100), D(102), D(97)) == D("1.5")
    assert reward_risk(LONG, D(100), D(98), D(99)) == D("-0.5")


def test_liquidation_price_takes_the_most_cautious_isolated_formula():
    # Bitget's (taker fee 0.06 % added to the rate): long 60000 * 0.9 / 0.9944, short 60000 * 1.1 / 1.0056
    assert round(liquidation_price(LONG, D(60000), 10, D("0.005")), 2) == D("54304.10")
    assert round(liquidation_price(SHORT, D(60000), 10, D("0.005")), 2) == D("65632.46")


def test_liquidation_distance_beyond_the_stop_is_positive_when_the_stop_fires_first():
    assert liquidation_beyond_stop(LONG, D(59100), D(54300)) == D(4800)
    assert liquidation_beyond_stop(SHORT, D(60900), D(65700)) == D(4800)
    assert liquidation_beyond_stop(LONG, D(54000), D(54300)) == D(-300)


def test_the_sizing_result_carries_liquidation_figures_and_is_json_safe():
    result = size_position(order(leverage=10), BTC, ROOMY)

    assert round(result.liquidation_price, 2) == D("54304.10")
    assert round(result.liquidation_beyond_stop, 2) == D("4795.90")
    data = json.loads(json.dumps(result.as_dict()))
    assert data["qty"] == "0.166"
    assert data["side"] == "long"


@pytest.mark.parametrize("size", [lambda spec: size_position(order(), spec, ROOMY),
                                  lambda spec: assess_position(order(), D("0.01"), spec, ROOMY)])
def test_an_unknown_maintenance_rate_leaves_no_liquidation_figure_to_show(size):
    unknown = replace(BTC, maintenance_margin_rate=None)

    with pytest.raises(ValidationError) as caught:
        size(unknown)

    assert (caught.value.field, caught.value.message) == (
        "maintenance_margin_rate", "is unknown for BTC/USDT:USDT: the liquidation price cannot be estimated"
    )


def test_formatting_keeps_digits_that_matter_at_a_limit():
    assert fmt_money(D("3.2")) == "3.20"
    assert fmt_money(D("4.996")) == "4.996"
    assert fmt_number(D("1E+3")) == "1000"
    assert fmt_number(D("0.00310")) == "0.0031"
    assert fmt_pct(D("1.494")) == "1.494"
    assert fmt_pct(D("1.4925373134")) == "1.4925"
