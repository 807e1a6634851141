"""The fast step's fill arithmetic must give exactly what the fill model gives, or the engine drifts from the loop."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from riskmgr.backtest.fastfill import FillPlan, at_or_above, at_or_below, bar_exit, liquidation_met, position_exit
from riskmgr.core.domain import OrderSide, PositionSide
from riskmgr.exchanges import fills as fm

D = Decimal
T = datetime(2024, 1, 1, tzinfo=UTC)
PRICES = [D(98), D(100), D(102)]
LEVELS = [None, D(97), D("98"), D("99"), D("99.95"), D(100), D("100.05"), D(101), D(102), D(103)]


def _bars() -> list[fm.Bar]:
    bars = []
    for o, c in itertools.product(PRICES, PRICES):
        for low in (p for p in [*PRICES, D(96)] if p <= min(o, c)):
            for high in (p for p in [*PRICES, D(104)] if p >= max(o, c)):
                bars.append(fm.Bar(T, o, high, low, c))
    return bars


@pytest.mark.parametrize("side", [PositionSide.LONG, PositionSide.SHORT])
def test_the_exit_of_every_small_bar_and_level_set_is_the_fill_models_exit(side):
    checked = exits = 0
    for bar in _bars():
        for stop, liquidation, target in itertools.product(LEVELS, LEVELS, LEVELS):
            expected = fm.position_exit(side, bar, stop=stop, liquidation=liquidation, take_profit=target)
            found = position_exit(side is PositionSide.LONG, (bar.open, bar.high, bar.low), stop, liquidation, target)
            assert found == (None if expected is None else (expected.kind, expected.price)), (bar, stop, liquidation,
                                                                                                target)
            checked += 1
            exits += expected is not None
    assert checked > 20_000 and 0 < exits < checked  # both outcomes, every order of levels, gaps and ties included


@pytest.mark.parametrize("bps", [D(0), D("0.5"), D(2), D("7.25"), D(100)])
@pytest.mark.parametrize("tick", [D("0.1"), D("0.01"), D("0.5"), D(1)])
def test_slipped_prices_are_the_fill_models_on_the_tick(bps, tick):
    plan = FillPlan.of(bps, tick)
    assert plan is not None
    for price in (D("40000.1"), D("39999.9"), D("0.3"), D("123.45"), D(100), D("65432.7")):
        assert plan.slipped(price, True) == fm.slipped_price(price, OrderSide.BUY, bps, tick)
        assert plan.slipped(price, False) == fm.slipped_price(price, OrderSide.SELL, bps, tick)
        for kind in fm.ExitKind:
            for side in PositionSide:
                exit_ = fm.Exit(kind, price)
                assert plan.exit_price(kind, price, side is PositionSide.LONG) == \
                    fm.exit_fill_price(exit_, side, bps, tick)


@pytest.mark.parametrize("tick", [D(0), D(-1), D("NaN"), D("Infinity")])
def test_a_tick_the_fill_model_rejects_gives_no_plan_so_the_full_path_raises_there(tick):
    assert FillPlan.of(D(2), tick) is None


def test_without_a_plan_the_engine_fills_through_the_fill_model_and_still_equals_the_loop(monkeypatch):
    from riskmgr.backtest import account
    from riskmgr.backtest.engine import run_events
    from tests.backtest.helpers import bar_by_bar
    from tests.backtest.test_fastpath import _same, conservative

    inp, sig = conservative(4000, 11, rearm=True)
    with_plan = run_events(inp, sig)
    monkeypatch.setattr(account.FillPlan, "of", classmethod(lambda cls, bps, tick: None))

    without = run_events(inp, sig)

    assert len(without.trades) > 20
    _same(without, with_plan)
    _same(without, bar_by_bar(inp, sig))


@pytest.mark.parametrize("leverage", [1, 3, 7, 100])
@pytest.mark.parametrize("side", [PositionSide.LONG, PositionSide.SHORT])
def test_an_opened_position_has_the_fill_models_margin_and_liquidation_price(leverage, side):
    from riskmgr.backtest.account import PendingEntry, SimAccount
    from riskmgr.backtest.engine import build_series
    from tests.backtest.test_fastpath import conservative

    inp, _ = conservative(200, 1, rearm=False, leverage=leverage)
    acct = SimAccount(build_series(inp), inp.spec, inp.config, 0)
    price, qty = D("40123.4"), D("0.013")

    acct._open(5, PendingEntry(side, qty, D(39000), D(42000), None, 6), price, D("0.26"), 5)

    h = acct.held()
    assert h.margin == fm.initial_margin(price, qty, leverage)
    assert h.liquidation == fm.isolated_liquidation_price(side, price, leverage, acct.mmr)


def _float_exit(side: PositionSide, bar: fm.Bar, stop, liquidation, target, target_on: bool = True):
    floats = tuple(float("inf") if x is None else float(x) for x in (stop, liquidation, target))
    prices = (float(bar.open), float(bar.high), float(bar.low))
    long = side is PositionSide.LONG
    if liquidation_met(long, prices, liquidation, floats[1]):
        return "full"
    found = bar_exit(long, prices, stop, target if target_on else None, floats)
    if found is None:
        return None
    kind, price = found
    return kind, bar.open if price is None else price


@pytest.mark.parametrize("side", [PositionSide.LONG, PositionSide.SHORT])
def test_the_float_first_exit_of_every_small_bar_and_level_set_is_the_fill_models_exit(side):
    # levels a hair off a price (their float is the price's float, the Decimal is not) take the exact comparison
    hair = [D("99.99999999999999999"), D("100.00000000000000001"), D("102.000000000000000001")]
    checked = full = 0
    for bar in _bars():
        for stop, liquidation, target in itertools.product([*LEVELS, *hair], [None, D(96), D("99.95"), *hair],
                                                            [*LEVELS, *hair]):
            expected = fm.position_exit(side, bar, stop=stop, liquidation=liquidation, take_profit=target)
            found = _float_exit(side, bar, stop, liquidation, target)
            if found == "full":  # the liquidation is met: the caller runs the Decimal search
                full += 1
                reached = bar.low <= liquidation if side is PositionSide.LONG else bar.high >= liquidation
                assert reached, (bar, liquidation)
                continue
            assert found == (None if expected is None else (expected.kind, expected.price)), (bar, stop, liquidation,
                                                                                                target)
            checked += 1
    assert checked > 15_000 and full > 1_000


def test_a_target_that_may_not_fill_in_this_bar_is_left_out_of_the_float_first_exit():
    bar = fm.Bar(T, D(100), D(103), D(99), D(102))

    assert _float_exit(PositionSide.LONG, bar, D(97), None, D(102), target_on=False) is None
    assert _float_exit(PositionSide.LONG, bar, D(97), None, D(102)) == (fm.ExitKind.TAKE_PROFIT, D(102))


@pytest.mark.parametrize("value", [100.0, 99.99, 0.1, 40000.1, 1e-7, 123456.789])
def test_exact_float_comparison_with_a_decimal_level_equals_the_decimal_comparison(value):
    price = D(repr(value))
    for level in (price, price + D("1E-20"), price - D("1E-20"), price * 2, price / 2):
        assert at_or_below(value, level, float(level)) == (price <= level)
        assert at_or_above(value, level, float(level)) == (price >= level)


@pytest.mark.parametrize("bps", [D(0), D("0.5"), D("7.25")])
@pytest.mark.parametrize("tick", [D("0.1"), D("0.01"), D(1)])
def test_exit_prices_are_the_fill_models_to_the_last_digit(bps, tick):
    plan = FillPlan.of(bps, tick)
    assert plan is not None
    for price in (D("40000.1"), D("39999.90"), D("0.3"), D(100), D("1E+2"), D("65432.7")):
        for kind in fm.ExitKind:
            for side in PositionSide:
                found = plan.exit_price(kind, price, side is PositionSide.LONG)
                expected = fm.exit_fill_price(fm.Exit(kind, price), side, bps, tick)
                assert str(found) == str(expected), (kind, side, price)
