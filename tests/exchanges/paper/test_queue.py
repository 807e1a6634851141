"""Threads of one process queue on a paper account's SQLite file in the adapter, not in SQLite's busy handler."""

import threading
from decimal import Decimal

from sqlalchemy import create_engine

from riskmgr.core.domain import OrderRequest, OrderSide, OrderType
from tests.exchanges.conftest import BTC

THREADS, ORDERS = 8, 5


def test_threads_writing_one_account_at_once_queue_and_never_find_the_database_busy(make_paper, paper_db_path):
    # no busy wait at all: a writer that found SQLite's write lock taken would fail at once ("database is locked")
    engine = create_engine(f"sqlite:///{paper_db_path}", connect_args={"timeout": 0, "check_same_thread": False})
    paper = make_paper(engine=engine)
    paper.fetch_balance()  # creates the account
    start = threading.Barrier(THREADS, timeout=10)
    errors: list[BaseException] = []

    def trade() -> None:
        start.wait()
        try:
            for _ in range(ORDERS):
                paper.place_order(OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, Decimal("0.004")))
                paper.fetch_positions()
        except BaseException as exc:  # handed to the main thread, which fails the test with it
            errors.append(exc)

    threads = [threading.Thread(target=trade) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    engine.dispose()

    assert errors == []
    [position] = paper.fetch_positions()
    assert position.size == Decimal("0.004") * THREADS * ORDERS
