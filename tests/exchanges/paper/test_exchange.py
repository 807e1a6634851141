import sqlite3
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import create_engine

from riskmgr.core.domain import MarginMode, OrderRequest, OrderSide, OrderStatus, OrderType, PositionSide
from riskmgr.core.errors import TemporaryError
from riskmgr.exchanges.fills import FillReason
from riskmgr.exchanges.paper.exchange import PaperExchange
from riskmgr.risk.context import ClosedTrade
from tests.conftest import sqlite_only
from tests.exchanges.conftest import BTC, ETH, START

D = Decimal


def market_order(symbol: str, side: OrderSide, qty: str, **extra) -> OrderRequest:
    return OrderRequest(symbol, side, OrderType.MARKET, D(qty), **extra)


def test_adapter_identifies_itself_as_simulated_paper(paper):
    assert (paper.exchange, paper.mode, paper.simulated) == ("paper", "paper", True)


def test_new_account_starts_at_the_start_balance(paper):
    balance = paper.fetch_balance()

    assert (balance.wallet, balance.equity, balance.available, balance.margin_used) == (D(10000),) * 3 + (D(0),)


def test_open_long_pays_the_taker_fee(paper):
    order = paper.place_order(market_order(BTC, OrderSide.BUY, "0.1", client_id="c1"))

    # 0.1 * 50000 * 0.0005 = 2.5
    assert order.status is OrderStatus.FILLED
    assert (order.fee, order.avg_fill_price, order.filled_qty, order.client_id) == (D("2.5"), D(50000), D("0.1"), "c1")
    [position] = paper.fetch_positions()
    assert (position.side, position.size, position.entry_price) == (PositionSide.LONG, D("0.1"), D(50000))
    assert (position.leverage, position.margin_mode, position.margin) == (D(1), MarginMode.ISOLATED, D(5000))
    balance = paper.fetch_balance()
    assert (balance.wallet, balance.margin_used, balance.available) == (D("9997.5"), D(5000), D("4997.5"))


def test_close_long_at_a_higher_price_realizes_the_move_minus_fees(paper, fake_market, paper_clock):
    paper.place_order(market_order(BTC, OrderSide.BUY, "0.1"))
    paper_clock.advance(1)
    fake_market.price(BTC, "51000")

    order = paper.close_position(BTC, PositionSide.LONG)

    # realized 0.1 * (51000 - 50000) = 100; close fee 0.1 * 51000 * 0.0005 = 2.55; net 100 - 2.5 - 2.55 = 94.95
    assert (order.reduce_only, order.avg_fill_price, order.fee) == (True, D(51000), D("2.55"))
    close_fill, open_fill = paper.fills()
    assert (close_fill.closes, close_fill.realized_pnl, close_fill.fee, close_fill.net_pnl) == (
        True, D(100), D("2.55"), D("94.95")
    )
    assert (open_fill.closes, open_fill.net_pnl) == (False, None)
    assert paper.fetch_positions() == []
    assert paper.fetch_balance().wallet == D("10094.95")


def test_close_short_at_a_lower_price_realizes_the_move_minus_fees(paper, fake_market, paper_clock):
    paper.place_order(market_order(BTC, OrderSide.SELL, "0.1"))
    paper_clock.advance(1)
    fake_market.price(BTC, "49000")

    paper.close_position(BTC, PositionSide.SHORT)

    # realized 0.1 * (50000 - 49000) = 100; fees 2.5 + 0.1 * 49000 * 0.0005 = 2.5 + 2.45; net 95.05
    last = paper.fills()[0]
    assert (last.side, last.realized_pnl, last.fee, last.net_pnl) == (OrderSide.BUY, D(100), D("2.45"), D("95.05"))
    assert paper.fetch_balance().wallet == D("10095.05")


def test_unrealized_pnl_and_equity_follow_the_mark(paper, fake_market, paper_clock):
    paper.place_order(market_order(BTC, OrderSide.SELL, "0.1"))
    paper_clock.advance(1)
    fake_market.price(BTC, "50500")

    [position] = paper.fetch_positions()
    balance = paper.fetch_balance()

    assert (position.mark_price, position.unrealized_pnl) == (D(50500), D(-50))
    assert (balance.unrealized_pnl, balance.equity) == (D(-50), D("9947.5"))


def test_market_buy_pays_the_slippage(make_paper):
    paper = make_paper(slippage_bps=D(2))

    order = paper.place_order(market_order(BTC, OrderSide.BUY, "0.1"))

    # 50000 * 1.0002 = 50010; fee 0.1 * 50010 * 0.0005 = 2.5005
    assert (order.avg_fill_price, order.fee) == (D(50010), D("2.5005"))


def test_adding_to_a_long_averages_the_entry(paper, fake_market, paper_clock):
    paper.set_leverage(BTC, 10)
    paper.place_order(market_order(BTC, OrderSide.BUY, "0.1"))
    paper_clock.advance(1)
    fake_market.price(BTC, "51000")

    paper.place_order(market_order(BTC, OrderSide.BUY, "0.1"))

    [position] = paper.fetch_positions()
    assert (position.size, position.entry_price, position.margin) == (D("0.2"), D(50500), D(1010))


def test_market_order_larger_than_the_opposite_position_flips_it(paper):
    paper.set_leverage(BTC, 10)
    paper.place_order(market_order(BTC, OrderSide.BUY, "0.1"))

    paper.place_order(market_order(BTC, OrderSide.SELL, "0.3"))

    [position] = paper.fetch_positions()
    assert (position.side, position.size) == (PositionSide.SHORT, D("0.2"))
    opened, closed = paper.fills()[:2]
    assert (closed.closes, closed.qty, opened.closes, opened.qty) == (True, D("0.1"), False, D("0.2"))


def test_trade_history_is_newest_first_and_filters_by_symbol(paper, paper_clock):
    paper.place_order(market_order(BTC, OrderSide.BUY, "0.01"))
    paper_clock.advance(1)
    paper.place_order(market_order(ETH, OrderSide.BUY, "0.1"))

    assert [f.symbol for f in paper.fills()] == [ETH, BTC]
    assert [f.symbol for f in paper.fills(symbol=BTC)] == [BTC]
    assert paper.fills()[0].reason is FillReason.ORDER


def test_state_survives_a_new_instance_on_the_same_engine(paper, make_paper):
    paper.set_leverage(BTC, 5)
    paper.place_order(market_order(BTC, OrderSide.BUY, "0.1", client_id="keep"))

    restarted = make_paper()

    [position] = restarted.fetch_positions()
    assert (position.size, position.leverage, position.margin) == (D("0.1"), D(5), D(1000))
    assert restarted.fetch_balance().wallet == D("9997.5")
    assert restarted.fills()[0].order_id == paper.fills()[0].order_id


def test_accounts_on_one_engine_are_separate(paper, make_paper):
    paper.place_order(market_order(BTC, OrderSide.BUY, "0.1"))

    other = make_paper(account="other")

    assert other.fetch_positions() == []
    assert other.fetch_balance().wallet == D(10000)


def test_reset_wipes_everything_and_restarts_at_the_start_balance(paper):
    paper.set_leverage(BTC, 10)
    paper.place_order(market_order(BTC, OrderSide.BUY, "0.1"))
    paper.place_order(OrderRequest(BTC, OrderSide.BUY, OrderType.LIMIT, D("0.1"), price=D(40000)))

    paper.reset()

    assert (paper.fetch_positions(), paper.fetch_open_orders(), paper.fills()) == ([], [], [])
    assert paper.fetch_balance().wallet == D(10000)
    paper.place_order(market_order(BTC, OrderSide.BUY, "0.1"))
    assert paper.fetch_positions()[0].leverage == D(1)


def test_market_data_is_delegated_to_the_market(paper, fake_market, paper_clock):
    paper_clock.advance(60)
    fake_market.bar(BTC, "50000", "50100", "49900", "50050")

    assert paper.fetch_markets()[BTC].price_tick == D("0.1")
    assert paper.fetch_tickers()[BTC].last == D(50050)
    [candle] = paper.fetch_candles(BTC, "1m", since=START)
    assert (candle.open, candle.high, candle.low, candle.close) == (50000.0, 50100.0, 49900.0, 50050.0)


def test_two_threads_trading_one_account_keep_the_books_consistent(make_paper):
    setup = make_paper()
    setup.set_leverage(BTC, 10)
    traders = [make_paper(), make_paper()]
    errors: list[BaseException] = []

    def trade(exchange: PaperExchange) -> None:
        try:
            for _ in range(10):
                exchange.place_order(market_order(BTC, OrderSide.BUY, "0.01"))
        except BaseException as exc:  # handed to the main thread, which fails the test with it
            errors.append(exc)

    threads = [threading.Thread(target=trade, args=(t,)) for t in traders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # 20 fills of 0.01 at 50000: fee 0.25 each, margin 50 each at 10x
    assert errors == []
    [position] = setup.fetch_positions()
    balance = setup.fetch_balance()
    assert (position.size, position.margin) == (D("0.2"), D(1000))
    assert (balance.wallet, len(setup.fills())) == (D(9995), 20)


@sqlite_only("holds SQLite's database-wide write lock from a second connection")
def test_operation_waits_for_the_write_lock_and_reports_a_busy_database(paper, make_paper, paper_db_path):
    paper.fetch_balance()  # creates the account
    impatient = make_paper(engine=create_engine(f"sqlite:///{paper_db_path}", connect_args={"timeout": 0.05}))
    holder = sqlite3.connect(paper_db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(TemporaryError, match="paper database unavailable or busy") as caught:
            impatient.fetch_balance()
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert (caught.value.account, caught.value.operation) == ("paper", "fetch_balance")


def test_closed_trades_name_the_symbol_and_the_side_of_each_closed_position(paper, fake_market, paper_clock):
    paper.place_order(market_order(BTC, OrderSide.BUY, "0.1"))
    paper.place_order(market_order(ETH, OrderSide.SELL, "1"))
    paper_clock.advance(1)
    fake_market.price(BTC, "51000")
    paper.place_order(market_order(BTC, OrderSide.SELL, "0.04", reduce_only=True))
    paper_clock.advance(1)
    fake_market.price(ETH, "2900")
    paper.close_position(ETH, PositionSide.SHORT)

    trades = paper.fetch_closed_trades(START)

    # BTC: 0.04 x 1000 - fee 1.02 - 40 % of the 2.5 opening fee = 37.98; ETH: 100 - 1.45 - 1.5 = 97.05
    assert trades == [
        ClosedTrade(START + timedelta(seconds=2), D("97.05"), ETH, PositionSide.SHORT),
        ClosedTrade(START + timedelta(seconds=1), D("37.98"), BTC, PositionSide.LONG),
    ]
