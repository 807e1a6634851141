"""The paper venue under the contract: real orders on its own SQLite file, prices moved by hand.

Figures are derived by hand from the fixed fees of ``make_paper`` (taker 0.05 %, no slippage) and the prices set.
The paper venue takes no keys, is throttled by nothing and has no wire: where the others can be refused, throttled
or answered with garbage, it can find its database busy or a stored record corrupt, and those are what it declares.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import responses
from sqlalchemy import Engine, create_engine

from riskmgr.core.clock import FixedClock
from riskmgr.core.domain import OrderRequest, OrderSide, OrderType, PositionSide
from riskmgr.exchanges.paper.exchange import PaperExchange
from tests.exchanges.conftest import ETH, FakeMarket
from tests.exchanges.contract.harness import (
    BTC,
    Declared,
    ExpectedBalance,
    ExpectedOrders,
    ExpectedPosition,
    Harness,
)

D = Decimal


class PaperHarness(Harness):
    name = "paper"
    declared = Declared(credentials=False, throttles=False, wire=False, position_ids=True)

    def __init__(self, make_paper: Callable[..., PaperExchange], market: FakeMarket, clock: FixedClock,
                 engine: Engine, db_path: Path, http: responses.RequestsMock):
        self._make, self._market, self._clock, self._http = make_paper, market, clock, http
        self._engine, self._db_path = engine, db_path
        self.adapter = make_paper()
        self._opened: set[str] = set()

    def _buy_btc(self, qty: str = "0.02") -> None:
        """Open (or add to) a BTC long at market: 50000 until the price is moved."""
        self.adapter.place_order(OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, D(qty)))

    def _move_btc(self, price: str) -> None:
        self._clock.advance(1)
        self._market.price(BTC, price)

    # -- reads ------------------------------------------------------------------------------------------
    def given_balance(self) -> ExpectedBalance:
        self._buy_btc("0.1")  # 0.1 at 50000: fee 2.5, isolated margin 5000 at leverage 1
        self._move_btc("51000")  # unrealized 0.1 x 1000 = 100
        return ExpectedBalance(equity=D("10097.5"), wallet=D("9997.5"), available=D("4997.5"), unrealized_pnl=D(100))

    def given_long_position(self) -> ExpectedPosition:
        self._buy_btc()
        self._move_btc("51000")
        return ExpectedPosition(BTC, PositionSide.LONG, D("0.02"), D(50000), D(51000))

    def given_flat(self) -> None:
        self._buy_btc()
        self.adapter.close_position(BTC, PositionSide.LONG)

    def given_protected_position_and_a_resting_order(self) -> ExpectedOrders:
        self._buy_btc()
        stop, target = self.adapter.place_position_protection(
            BTC, PositionSide.LONG, stop_loss=D(48000), take_profit=D(55000)
        )
        resting = self.adapter.place_order(OrderRequest(ETH, OrderSide.BUY, OrderType.LIMIT, D("0.1"), price=D(2500)))
        return ExpectedOrders(stop.id, D(48000), target.id, D(55000), resting.id)

    # -- writes -----------------------------------------------------------------------------------------
    def given_long_to_protect(self) -> None:
        self._buy_btc()

    def stop_sent(self) -> Decimal:
        (stop,) = [o for o in self.adapter.fetch_open_orders() if o.symbol == BTC and o.is_stop_loss]
        assert stop.trigger_price is not None
        return stop.trigger_price

    def given_long_to_close(self) -> Decimal:
        self._buy_btc("0.15")
        return D("0.15")

    def given_resting_order(self) -> tuple[str, str]:
        order = self.adapter.place_order(OrderRequest(ETH, OrderSide.BUY, OrderType.LIMIT, D("0.1"), price=D(2500)))
        self._opened.add(order.id)
        return ETH, order.id

    def cancelled(self) -> list[str]:
        still_open = {o.id for o in self.adapter.fetch_open_orders()}
        return sorted(self._opened - still_open)

    def given_cancels_accepted(self) -> None:
        self._opened |= {o.id for o in self.adapter.fetch_open_orders()}  # the paper venue accepts any cancel

    def given_no_such_order(self) -> tuple[str, str]:
        self.adapter.fetch_balance()  # the account exists, the order does not
        return ETH, "424242"

    # -- the paper venue's own failures -------------------------------------------------------------------
    def busy_store(self) -> tuple[PaperExchange, sqlite3.Connection]:
        """Return an adapter that waits 50 ms for the write lock, and the connection now holding that lock."""
        self.adapter.fetch_balance()  # creates the account
        impatient = self._make(engine=create_engine(f"sqlite:///{self._db_path}", connect_args={"timeout": 0.05}))
        holder = sqlite3.connect(self._db_path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        return impatient, holder

    def network_calls(self) -> int:
        return len(self._http.calls)
