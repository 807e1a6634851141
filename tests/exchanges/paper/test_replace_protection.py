"""Paper: after an add, the position's stop (and target) triggers are swapped in one transaction, never closed."""

from decimal import Decimal

import pytest

from riskmgr.core.domain import OrderRequest, OrderSide, OrderType, PositionSide
from riskmgr.core.errors import InvalidOrderError, NotFoundError
from tests.exchanges.conftest import BTC

D = Decimal


def _long_with_protection(paper, qty: str = "0.05"):
    paper.place_order(OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, D(qty)))
    paper.place_position_protection(BTC, PositionSide.LONG, stop_loss=D(49000), take_profit=D(52000), client_id="e1")


def _triggers(paper):
    return sorted((o.type.value, o.trigger_price) for o in paper.fetch_open_orders() if o.is_protective)


def test_placing_a_second_stop_on_a_protected_position_then_refused_as_today(paper):
    _long_with_protection(paper)

    with pytest.raises(InvalidOrderError, match="already has a stop_market trigger"):
        paper.place_position_protection(BTC, PositionSide.LONG, stop_loss=D(49500))


def test_replace_after_an_add_then_one_stop_and_one_target_cover_the_whole_position(paper):
    _long_with_protection(paper)
    paper.place_order(OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, D("0.05")))  # the add

    placed = paper.replace_position_protection(BTC, PositionSide.LONG, stop_loss=D(49200), take_profit=D(51800),
                                               client_id="add1")

    assert _triggers(paper) == [("stop_market", D(49200)), ("take_profit_market", D(51800))]
    assert all(o.close_position for o in placed) and [o.client_id for o in placed] == ["add1-sl", "add1-tp"]
    [position] = paper.fetch_positions()
    assert position.size == D("0.1")


def test_replace_of_the_stop_only_then_the_target_stays(paper):
    _long_with_protection(paper)

    paper.replace_position_protection(BTC, PositionSide.LONG, stop_loss=D(49300), take_profit=None)

    assert _triggers(paper) == [("stop_market", D(49300)), ("take_profit_market", D(52000))]


def test_replace_with_a_stop_beyond_the_mark_then_refused_and_the_old_triggers_stay(paper):
    _long_with_protection(paper)

    with pytest.raises(InvalidOrderError):
        paper.replace_position_protection(BTC, PositionSide.LONG, stop_loss=D(50500), take_profit=None)

    assert _triggers(paper) == [("stop_market", D(49000)), ("take_profit_market", D(52000))]
    assert len(paper.fetch_positions()) == 1


def test_replace_without_a_position_then_not_found(paper):
    with pytest.raises(NotFoundError):
        paper.replace_position_protection(BTC, PositionSide.LONG, stop_loss=D(49000), take_profit=None)
