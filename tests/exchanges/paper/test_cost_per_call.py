"""The paper venue's cost per call: the statements one close (or cancel-all) sends, and proof that reading the
account's rows once per call (instead of once per helper) changes no fill, price, fee, funding or liquidation."""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.orm import Session

from riskmgr.core.clock import FixedClock
from riskmgr.core.domain import MarginMode, OrderRequest, OrderSide, OrderType, PositionSide
from riskmgr.core.errors import ExchangeError
from riskmgr.exchanges.paper import exchange as paper_exchange
from riskmgr.exchanges.paper.exchange import PaperExchange
from riskmgr.exchanges.paper.ledger import Ledger
from riskmgr.exchanges.paper.models import (
    PaperAccount,
    PaperFill,
    PaperFunding,
    PaperLiquidation,
    PaperOrder,
    PaperPosition,
)
from tests.exchanges.conftest import BTC, ETH, START, FakeMarket

D = Decimal


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """Collect the SQL statements sent through ``engine`` inside the block (BEGIN and the like excluded)."""
    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.split()[0].upper() in ("SELECT", "INSERT", "UPDATE", "DELETE"):
            sent.append(statement.split()[0].upper())

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _book(paper, fake_market, paper_clock) -> None:
    """A long on BTC with a stop-loss and a target, a short on ETH, a resting limit; then one quiet second."""
    paper.place_order(OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, D("0.1")))
    paper.place_position_protection(BTC, PositionSide.LONG, stop_loss=D(45000), take_profit=D(56000))
    paper.place_order(OrderRequest(ETH, OrderSide.SELL, OrderType.MARKET, D("1")))
    paper.place_order(OrderRequest(ETH, OrderSide.BUY, OrderType.LIMIT, D("0.5"), price=D(2500)))
    paper_clock.advance(1)
    fake_market.price(BTC, "50100")  # the call replays this second: the books are read, nothing fires


def test_a_close_reads_the_account_rows_once_and_writes_each_change_once(paper, fake_market, paper_clock, paper_engine):
    _book(paper, fake_market, paper_clock)

    with statements(paper_engine) as sent:
        paper.close_position(BTC, PositionSide.LONG)

    # account, positions, open orders: one SELECT each for the whole call, the replay included (it was six)
    assert sent.count("SELECT") == 3
    # the close order (inserted filled, not inserted then updated), its fill, the wallet and matched-up-to time in
    # one UPDATE, the two triggers cancelled, the position deleted; thirteen statements in all before
    assert sorted(sent[3:]) == ["DELETE", "INSERT", "INSERT", "UPDATE", "UPDATE"]
    assert paper.fetch_positions()[0].symbol == ETH
    assert [o.type for o in paper.fetch_open_orders()] == [OrderType.LIMIT]


def test_cancel_all_cancels_every_open_order_with_one_update(paper, fake_market, paper_clock, paper_engine):
    _book(paper, fake_market, paper_clock)

    with statements(paper_engine) as sent:
        cancelled = paper.cancel_all_orders()

    assert len(cancelled) == 3
    assert sent.count("SELECT") == 3
    assert sent.count("UPDATE") == 2  # the account's matched-up-to time, then the three orders in one statement
    assert paper.fetch_open_orders() == []
    assert paper.fetch_balance().margin_used == sum((p.margin for p in paper.fetch_positions()), D(0))


def test_reads_cost_the_lock_the_replay_and_two_selects(paper, fake_market, paper_clock, paper_engine):
    _book(paper, fake_market, paper_clock)

    with statements(paper_engine) as sent:
        paper.fetch_positions()
        paper.fetch_open_orders()

    # the first call: account, positions, orders, the matched-up-to time; the second has nothing to replay
    assert sent == ["SELECT", "SELECT", "SELECT", "UPDATE", "SELECT", "SELECT"]


# -- the same books as with a read per helper ---------------------------------------------------------------


class _RereadingLedger(Ledger):
    """The ledger as it was: every read of positions or open orders is a query of its own."""

    def _position_map(self):
        self._positions = None
        return super()._position_map()

    def _order_list(self):
        self._orders = None
        return super()._order_list()


def _random_step(rng: random.Random, paper, fake_market, paper_clock) -> object:
    symbol = rng.choice([BTC, ETH])
    base = D(50000) if symbol == BTC else D(3000)
    kind = rng.randrange(8)
    if kind == 0:
        side = rng.choice(list(OrderSide))
        qty = D(rng.choice(["0.01", "0.05", "0.2"])) if symbol == BTC else D(rng.choice(["0.5", "2", "5"]))
        stop = {"stop_loss": base * D("0.9")} if rng.random() < 0.3 and side is OrderSide.BUY else {}
        return paper.place_order(OrderRequest(symbol, side, OrderType.MARKET, qty, leverage=rng.choice([1, 10, 40]),
                                              margin_mode=rng.choice(list(MarginMode)), **stop))
    if kind == 1:
        side = rng.choice(list(OrderSide))
        price = (base * D(rng.uniform(0.95, 1.05))).quantize(D("0.1"))
        qty = D("0.05") if symbol == BTC else D(1)
        reduce_only, attached = rng.random() < 0.2, {}
        if not reduce_only and rng.random() < 0.6:  # a fill during a replay places triggers later bars can fire
            low, high = (price * D("0.98")).quantize(D("0.1")), (price * D("1.02")).quantize(D("0.1"))
            stop, target = (low, high) if side is OrderSide.BUY else (high, low)
            attached = {"stop_loss": stop, "take_profit": target}
        return paper.place_order(OrderRequest(symbol, side, OrderType.LIMIT, qty, price=price,
                                              reduce_only=reduce_only, **attached))
    if kind == 2:
        positions = [p for p in paper.fetch_positions() if p.symbol == symbol]
        if positions:
            side = positions[0].side
            below, above = (base * D("0.97")).quantize(D(1)), (base * D("1.03")).quantize(D(1))
            stop, target = (below, above) if side is PositionSide.LONG else (above, below)
            return paper.place_position_protection(symbol, side, stop_loss=stop, take_profit=target)
        return None
    if kind == 3:
        return [paper.close_position(p.symbol, p.side) for p in paper.fetch_positions() if p.symbol == symbol]
    if kind == 4:
        return paper.cancel_all_orders(rng.choice([None, symbol]), include_protective=rng.random() < 0.5)
    if kind == 5:
        paper_clock.advance(rng.choice([3600, 4 * 3600]))  # across funding instants now and then
    for _ in range(rng.randrange(1, 5)):
        paper_clock.advance(rng.randrange(1, 30))
        drift = D(rng.uniform(0.9, 1.1))
        o, c = base * D(rng.uniform(0.97, 1.03)), base * drift
        high, low = max(o, c) * D("1.01"), min(o, c) * D("0.99")
        fake_market.bar(symbol, *(str(x.quantize(D("0.1"))) for x in (o, high, low, c)))
    return paper.fetch_balance()


def _outcome(paper, rng, fake_market, paper_clock) -> object:
    try:
        return _random_step(rng, paper, fake_market, paper_clock)
    except ExchangeError as exc:
        return type(exc).__name__, str(exc)


def _rows(engine: Engine) -> dict[str, list[tuple]]:
    """Every row the paper books hold, minus the random position identities."""
    tables = {"account": PaperAccount, "fill": PaperFill, "funding": PaperFunding, "liquidation": PaperLiquidation,
              "order": PaperOrder, "position": PaperPosition}
    skip = {"uid", "position_uid"}
    with Session(engine) as session:
        return {
            name: [tuple(getattr(row, c.key) for c in model.__table__.columns if c.key not in skip)
                   for row in session.scalars(select(model).order_by(model.id))]
            for name, model in tables.items()
        }


@pytest.mark.parametrize("seed", [2, 4, 5, 6])
def test_reading_once_per_call_gives_the_very_books_a_read_per_helper_gave(seed, paper_db_path, tmp_path, monkeypatch):
    books = []
    for name in ("once", "rereading"):
        path = tmp_path / f"{name}.db"
        shutil.copyfile(paper_db_path, path)
        engine = create_engine(f"sqlite:///{path}")
        clock = FixedClock(START)
        market = FakeMarket(clock, {BTC: D(50000), ETH: D(3000)})
        paper = PaperExchange("paper", engine, market, clock, start_balance=D(10000), taker_fee=D("0.0005"),
                              maker_fee=D("0.0002"), slippage_bps=D(3), funding_rate=D("0.0005"))
        books.append((paper, market, clock, engine, random.Random(seed)))
    (paper, market, clock, engine, rng), (other, other_market, other_clock, other_engine, other_rng) = books
    for _ in range(150):
        outcome = _outcome(paper, rng, market, clock)
        with monkeypatch.context() as patch:
            patch.setattr(paper_exchange, "Ledger", _RereadingLedger)
            assert _outcome(other, other_rng, other_market, other_clock) == outcome
    rows = _rows(engine)
    assert rows == _rows(other_engine)
    reasons = {fill.reason for fill in other.fills(limit=1000)}
    # the sequence traded, a trigger fired, a position was liquidated and funding was paid
    assert {"order", "liquidation"} <= {r.value for r in reasons} and {"stop_loss", "take_profit"} & reasons, reasons
    assert len(rows["fill"]) > 20 and rows["funding"] and rows["liquidation"]
    for e in (engine, other_engine):
        e.dispose()


def test_a_call_with_no_new_bar_since_the_last_reads_no_start_prices(paper, fake_market, paper_clock, monkeypatch):
    _book(paper, fake_market, paper_clock)
    paper.sync()
    paper_clock.advance(1)  # a second later, without a bar: the replay has nothing to act on
    asked = []
    ticker = fake_market.ticker
    monkeypatch.setattr(fake_market, "ticker", lambda symbol, at=None: asked.append((symbol, at)) or ticker(symbol, at))

    paper.close_position(BTC, PositionSide.LONG)

    assert asked == [(BTC, paper_clock.now())]  # the close's own price; no mark at the last replay's end
    assert paper.fills()[0].price == D(50100)
