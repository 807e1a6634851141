from datetime import timedelta
from decimal import Decimal

import pytest

from riskmgr.core.domain import MarginMode, OrderRequest, OrderSide, OrderType, PositionSide
from riskmgr.core.errors import MalformedResponseError
from riskmgr.exchanges.fills import FillReason
from tests.exchanges.conftest import BTC, ETH, START

D = Decimal


def buy(paper, qty: str, symbol: str = BTC, **extra):
    return paper.place_order(OrderRequest(symbol, OrderSide.BUY, OrderType.MARKET, D(qty), **extra))


def sell(paper, qty: str, symbol: str = BTC, **extra):
    return paper.place_order(OrderRequest(symbol, OrderSide.SELL, OrderType.MARKET, D(qty), **extra))


def protect_long(paper, stop: int | None = 49000, target: int | None = 52000):
    return paper.place_position_protection(
        BTC, PositionSide.LONG,
        stop_loss=D(stop) if stop is not None else None,
        take_profit=D(target) if target is not None else None,
    )


def then(clock, market, *bar: str, symbol: str = BTC) -> None:
    """One second later the market prints one bar (open, high, low, close) or one tick."""
    clock.advance(1)
    if len(bar) == 1:
        market.price(symbol, bar[0])
    else:
        market.bar(symbol, *bar)


# -- stop-loss and take-profit ------------------------------------------------------------------------------


def test_stop_loss_fires_when_the_path_crosses_it_with_slippage_and_cancels_the_target(
    make_paper, fake_market, paper_clock
):
    paper = make_paper(slippage_bps=D(10))
    buy(paper, "0.1")  # 50000 * 1.001 = 50050, fee 0.1 * 50050 * 0.0005 = 2.5025
    protect_long(paper)
    then(paper_clock, fake_market, "49500")
    then(paper_clock, fake_market, "49500", "49500", "48800", "48900")

    paper.sync()

    # fill 49000 * 0.999 = 48951; realized 0.1 * (48951 - 50050) = -109.9; fee 0.1 * 48951 * 0.0005 = 2.44755
    stop_fill = paper.fills()[0]
    assert (stop_fill.reason, stop_fill.price, stop_fill.realized_pnl) == (FillReason.STOP_LOSS, D(48951), D("-109.9"))
    assert (stop_fill.fee, stop_fill.net_pnl) == (D("2.44755"), D("-114.85005"))
    assert stop_fill.ts == START + timedelta(seconds=2)
    assert (paper.fetch_positions(), paper.fetch_open_orders()) == ([], [])
    assert paper.fetch_balance().wallet == D("9885.14995")


def test_stop_fills_before_the_target_when_one_bar_crosses_both(paper, fake_market, paper_clock):
    buy(paper, "0.1")
    protect_long(paper)
    then(paper_clock, fake_market, "50000", "52500", "48500", "51000")

    last = paper.fills()[0]

    assert (last.reason, last.price, last.realized_pnl) == (FillReason.STOP_LOSS, D(49000), D(-100))
    assert paper.fetch_open_orders() == []


def test_stop_fills_at_the_open_when_the_price_gaps_through_it(paper, fake_market, paper_clock):
    buy(paper, "0.1")
    protect_long(paper, target=None)
    then(paper_clock, fake_market, "48500", "48600", "48400", "48500")

    assert paper.fills()[0].price == D(48500)


def test_take_profit_fires_at_the_target_and_cancels_the_stop(paper, fake_market, paper_clock):
    buy(paper, "0.1")
    protect_long(paper)
    then(paper_clock, fake_market, "50000", "52100", "49900", "52000")

    last = paper.fills()[0]

    assert (last.reason, last.price, last.realized_pnl, last.maker) == (FillReason.TAKE_PROFIT, D(52000), D(200), False)
    assert (paper.fetch_positions(), paper.fetch_open_orders()) == ([], [])


def test_short_stop_fires_when_the_price_rises_to_it(paper, fake_market, paper_clock):
    sell(paper, "0.1")
    paper.place_position_protection(BTC, PositionSide.SHORT, stop_loss=D(51000))
    then(paper_clock, fake_market, "50500", "51200", "50400", "51100")

    last = paper.fills()[0]

    assert (last.side, last.reason, last.price, last.realized_pnl) == (OrderSide.BUY, FillReason.STOP_LOSS, D(51000),
                                                                       D(-100))


def test_a_new_instance_replays_what_the_market_did_while_it_was_away(make_paper, fake_market, paper_clock):
    first = make_paper()
    buy(first, "0.1")
    protect_long(first, target=None)
    then(paper_clock, fake_market, "48900")
    paper_clock.advance(30)

    restarted = make_paper()

    assert restarted.fetch_positions() == []
    assert restarted.fills()[0].ts == START + timedelta(seconds=1)


def test_a_malformed_price_path_is_an_error_not_a_fill(paper, fake_market, paper_clock):
    buy(paper, "0.1")
    protect_long(paper)
    then(paper_clock, fake_market, "nan")

    with pytest.raises(MalformedResponseError, match="price path of BTC/USDT:USDT"):
        paper.sync()
    with pytest.raises(MalformedResponseError):
        paper.fetch_positions()  # nothing is shown until the path can be read


# -- resting limit orders ----------------------------------------------------------------------------------


def test_resting_limit_fills_as_maker_when_the_low_reaches_it(paper, fake_market, paper_clock):
    paper.set_leverage(BTC, 10)
    order = paper.place_order(OrderRequest(BTC, OrderSide.BUY, OrderType.LIMIT, D("0.1"), price=D(49000)))
    then(paper_clock, fake_market, "49500")
    then(paper_clock, fake_market, "49500", "49600", "48900", "49100")

    [position] = paper.fetch_positions()

    # maker fee 0.1 * 49000 * 0.0002 = 0.98
    fill = paper.fills()[0]
    assert (fill.price, fill.fee, fill.maker, fill.order_id) == (D(49000), D("0.98"), True, order.id)
    assert (position.entry_price, position.margin) == (D(49000), D(490))
    balance = paper.fetch_balance()
    assert (balance.wallet, balance.margin_used) == (D("9999.02"), D(490))
    assert paper.fetch_open_orders() == []


def test_resting_limit_fills_at_the_open_when_the_bar_opens_through_it(paper, fake_market, paper_clock):
    paper.place_order(OrderRequest(BTC, OrderSide.SELL, OrderType.LIMIT, D("0.1"), price=D(51000)))
    then(paper_clock, fake_market, "51500", "51600", "51400", "51500")

    assert paper.fills()[0].price == D(51500)


def test_filled_limit_gets_its_attached_stop(paper, fake_market, paper_clock):
    paper.place_order(
        OrderRequest(BTC, OrderSide.BUY, OrderType.LIMIT, D("0.1"), price=D(49000), stop_loss=D(48000), client_id="l")
    )
    then(paper_clock, fake_market, "48990")

    [stop] = paper.fetch_open_orders()

    assert (stop.type, stop.trigger_price, stop.client_id, stop.close_position) == (
        OrderType.STOP_MARKET, D(48000), "l-sl", True
    )


def test_a_filled_limit_add_replaces_the_positions_stop_and_target_so_one_pair_covers_it_all(
    paper, fake_market, paper_clock
):
    buy(paper, "0.1")
    protect_long(paper, stop=48000, target=53000)
    paper.place_order(OrderRequest(BTC, OrderSide.BUY, OrderType.LIMIT, D("0.1"), price=D(49500),
                                   stop_loss=D(48500), take_profit=D(52500), client_id="add"))
    then(paper_clock, fake_market, "49490")

    [position] = paper.fetch_positions()
    triggers = sorted(paper.fetch_open_orders(), key=lambda o: o.type)

    assert position.size == D("0.2")  # added, never closed to make room
    assert [(o.type, o.trigger_price, o.close_position) for o in triggers] == [
        (OrderType.STOP_MARKET, D(48500), True), (OrderType.TAKE_PROFIT_MARKET, D(52500), True),
    ]


def test_resting_reduce_only_is_cancelled_when_the_position_is_gone(paper, fake_market, paper_clock):
    buy(paper, "0.1")
    paper.place_order(OrderRequest(BTC, OrderSide.SELL, OrderType.LIMIT, D("0.1"), price=D(52000), reduce_only=True))

    paper.close_position(BTC, PositionSide.LONG)

    assert paper.fetch_open_orders() == []


def test_resting_reduce_only_fill_is_clipped_to_the_position(paper, fake_market, paper_clock):
    buy(paper, "0.1")
    order = paper.place_order(
        OrderRequest(BTC, OrderSide.SELL, OrderType.LIMIT, D("0.1"), price=D(52000), reduce_only=True)
    )
    sell(paper, "0.04", reduce_only=True)
    then(paper_clock, fake_market, "52000")

    fill = paper.fills()[0]

    assert (fill.order_id, fill.qty, fill.price) == (order.id, D("0.06"), D(52000))
    assert paper.fetch_positions() == []


# -- liquidation -------------------------------------------------------------------------------------------


def test_isolated_long_at_10x_reports_the_liquidation_price(paper):
    paper.set_leverage(BTC, 10)
    buy(paper, "0.1")

    # 50000 * (1 - 1/10 + 0.005)
    assert paper.fetch_positions()[0].liquidation_price == D(45250)


def test_isolated_short_at_10x_reports_the_liquidation_price(paper):
    paper.set_leverage(BTC, 10)
    sell(paper, "0.1")

    # 50000 * (1 + 1/10 - 0.005)
    assert paper.fetch_positions()[0].liquidation_price == D(54750)


def test_isolated_liquidation_loses_exactly_the_margin(paper, fake_market, paper_clock):
    paper.set_leverage(BTC, 10)
    buy(paper, "0.1")
    paper.place_position_protection(BTC, PositionSide.LONG, stop_loss=D(44000))
    then(paper_clock, fake_market, "50000", "50000", "45000", "45100")

    fill = paper.fills()[0]

    # margin 500: realized 0.1 * (45250 - 50000) = -475 plus the forfeited maintenance margin 25
    assert (fill.reason, fill.price, fill.realized_pnl, fill.fee, fill.net_pnl) == (
        FillReason.LIQUIDATION, D(45250), D(-475), D(25), D("-502.5")
    )
    assert (paper.fetch_positions(), paper.fetch_open_orders()) == ([], [])
    assert paper.fetch_balance().wallet == D("9497.5")


def test_cross_equity_available_and_liquidation_price(make_paper, fake_market, paper_clock):
    paper = make_paper(start_balance=D(1000))
    buy(paper, "0.1", leverage=10, margin_mode=MarginMode.CROSS)
    then(paper_clock, fake_market, "49000")

    [position] = paper.fetch_positions()
    balance = paper.fetch_balance()

    # wallet 1000 - 2.5 = 997.5; unrealized -100; liquidation 50000 - (997.5 - 25) / 0.1 = 40275
    assert (balance.wallet, balance.equity, balance.unrealized_pnl) == (D("997.5"), D("897.5"), D(-100))
    assert (balance.margin_used, balance.available) == (D(500), D("397.5"))
    assert (position.margin_mode, position.liquidation_price) == (MarginMode.CROSS, D(40275))


def test_cross_liquidation_when_equity_falls_to_the_maintenance_margin(make_paper, fake_market, paper_clock):
    paper = make_paper(start_balance=D(1000))
    buy(paper, "0.1", leverage=10, margin_mode=MarginMode.CROSS)
    then(paper_clock, fake_market, "49000", "49000", "40000", "40100")

    fill = paper.fills()[0]

    assert (fill.reason, fill.price, fill.realized_pnl, fill.fee) == (FillReason.LIQUIDATION, D(40275), D("-972.5"),
                                                                      D(25))
    assert paper.fetch_positions() == []
    assert paper.fetch_balance().wallet == D(0)


def _two_cross_positions(make_paper):
    paper = make_paper(start_balance=D(1000))
    buy(paper, "0.1", leverage=10, margin_mode=MarginMode.CROSS)  # fee 2.5, maintenance 25
    sell(paper, "1", symbol=ETH, leverage=10, margin_mode=MarginMode.CROSS)  # fee 1.5, maintenance 30
    return paper


def test_cross_liquidation_price_counts_the_other_cross_positions(make_paper, fake_market, paper_clock):
    paper = _two_cross_positions(make_paper)
    then(paper_clock, fake_market, "3100", symbol=ETH)

    btc, eth = paper.fetch_positions()

    # wallet 996; BTC: 50000 - (996 - 100 - 55) / 0.1 = 41590; ETH: 3000 + (996 + 0 - 55) / 1 = 3941
    assert (btc.liquidation_price, eth.liquidation_price) == (D(41590), D(3941))


def test_cross_liquidation_closes_every_cross_position_and_leaves_the_cross_part_at_zero(
    make_paper, fake_market, paper_clock
):
    paper = _two_cross_positions(make_paper)
    then(paper_clock, fake_market, "3800", symbol=ETH)  # ETH short now -800: BTC liquidates at 48590
    then(paper_clock, fake_market, "48500")  # gaps below 48590

    eth_fill, btc_fill = paper.fills()[:2]

    # BTC at 48500 would lose 150, leaving the cross part at -9: the gap is the insurance fund's, loss capped at 141
    assert (btc_fill.symbol, btc_fill.price, btc_fill.realized_pnl, btc_fill.fee) == (BTC, D(48500), D(-141), D(25))
    assert (eth_fill.symbol, eth_fill.price, eth_fill.realized_pnl, eth_fill.fee) == (ETH, D(3800), D(-800), D(30))
    assert paper.fetch_positions() == []
    assert paper.fetch_balance().wallet == D(0)


def test_isolated_margin_is_kept_out_of_a_cross_liquidation(make_paper, fake_market, paper_clock):
    paper = make_paper(start_balance=D(1000))
    buy(paper, "0.1", symbol=ETH, leverage=10)  # isolated: margin 30, fee 0.15
    buy(paper, "0.1", leverage=10, margin_mode=MarginMode.CROSS)  # cross: fee 2.5
    then(paper_clock, fake_market, "30000")

    assert [p.symbol for p in paper.fetch_positions()] == [ETH]
    # cross part 1000 - 0.15 - 2.5 - 30 is lost; the isolated margin of 30 stays
    assert paper.fetch_balance().wallet == D(30)


def test_take_profit_fills_at_the_open_when_the_bar_opens_above_it_even_if_the_low_reaches_the_stop(
    paper, fake_market, paper_clock
):
    buy(paper, "0.1")
    protect_long(paper)
    then(paper_clock, fake_market, "52500", "52600", "48500", "48800")

    [fill] = paper.fills()[:1]

    assert (fill.reason, fill.price, fill.realized_pnl) == (FillReason.TAKE_PROFIT, D(52500), D(250))
    assert (paper.fetch_positions(), paper.fetch_open_orders()) == ([], [])
