"""The paper venue's answer to "malformed reply": it has no wire, so its unreadable answer is a corrupt stored record.

The contract suite declares the paper venue wire-less (test_errors.py); here is the guard it does have: a stored fill
that closes a position but cannot say its result, or a stored side, type or margin mode that names no member, is a
MalformedResponseError naming what it found, never a P&L guessed or left out and never a bare ValueError.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import Engine, text

from riskmgr.core.domain import OrderRequest, OrderSide, OrderType, PositionSide
from riskmgr.core.errors import MalformedResponseError
from riskmgr.exchanges.paper.exchange import PaperExchange
from tests.exchanges.conftest import BTC, START


@pytest.fixture
def closed_paper(paper: PaperExchange) -> PaperExchange:
    """A paper account that opened and closed one BTC long."""
    paper.place_order(OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, Decimal("0.02")))
    paper.close_position(BTC, PositionSide.LONG)
    return paper


def _corrupt_the_closing_fill(engine: Engine, statement: str) -> None:
    with engine.begin() as connection:
        changed = connection.execute(text(statement))
        assert changed.rowcount == 1


def test_a_stored_close_without_its_net_pnl_is_a_malformed_response_error(closed_paper, paper_engine):
    _corrupt_the_closing_fill(paper_engine, "UPDATE paper_fill SET net_pnl = NULL WHERE closes")

    with pytest.raises(MalformedResponseError, match="no net P&L") as caught:
        closed_paper.fetch_closed_trades(START)

    assert (caught.value.account, caught.value.operation) == ("paper", "fetch_closed_trades")


def test_a_stored_close_of_no_known_side_is_a_malformed_response_error(closed_paper, paper_engine):
    _corrupt_the_closing_fill(paper_engine, "UPDATE paper_fill SET side = 'sideways' WHERE closes")

    with pytest.raises(MalformedResponseError, match="holds 'sideways' as its OrderSide, which is one of buy, sell"):
        closed_paper.fetch_closed_trades(START)


def test_the_same_close_read_intact_names_its_symbol_side_and_net_pnl(closed_paper):
    (trade,) = closed_paper.fetch_closed_trades(START)

    # 0.02 BTC bought and sold at 50000: no move, fees 0.02 x 50000 x 0.0005 twice = 1
    assert (trade.symbol, trade.side, trade.realized_pnl) == (BTC, PositionSide.LONG, Decimal(-1))


@pytest.mark.parametrize(("statement", "read", "named"), [
    ("UPDATE paper_position SET side = 'up'", "fetch_positions", "'up' as its PositionSide, which is one of long"),
    ("UPDATE paper_position SET margin_mode = 'portfolio'", "fetch_positions", "'portfolio' as its MarginMode"),
    ("UPDATE paper_order SET side = 'up'", "fetch_open_orders", "'up' as its OrderSide"),
    ("UPDATE paper_order SET type = 'iceberg'", "fetch_open_orders", "'iceberg' as its OrderType"),
])
def test_a_stored_enum_that_names_no_member_is_a_malformed_response_error_naming_the_value(
    paper: PaperExchange, paper_engine, statement, read, named
):
    paper.place_order(OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, Decimal("0.02")))
    paper.place_order(OrderRequest(BTC, OrderSide.BUY, OrderType.LIMIT, Decimal("0.02"), price=Decimal(40000)))
    with paper_engine.begin() as connection:
        assert connection.execute(text(statement)).rowcount >= 1

    with pytest.raises(MalformedResponseError, match=named) as caught:
        getattr(paper, read)()

    assert "the database is damaged" in str(caught.value)
