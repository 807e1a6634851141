"""The write contract, run against every venue adapter: placing a stop, closing a position, cancelling an order."""

from __future__ import annotations

from decimal import Decimal

import pytest

from riskmgr.core.domain import OrderSide, OrderType, PositionSide
from riskmgr.core.errors import NotFoundError
from tests.exchanges.contract.harness import BTC, Harness

STOP = Decimal(45000)


# -- stops --------------------------------------------------------------------------------------------------------
def test_placing_a_stop_returns_a_stop_loss_that_closes_the_whole_position(venue: Harness):
    venue.given_long_to_protect()

    (stop,) = venue.adapter.place_position_protection(BTC, PositionSide.LONG, stop_loss=STOP)

    assert (stop.symbol, stop.type, stop.side, stop.trigger_price) == (BTC, OrderType.STOP_MARKET, OrderSide.SELL, STOP)
    assert stop.is_stop_loss and stop.close_position and stop.qty is None
    assert stop.status.is_open and stop.position_side is PositionSide.LONG


def test_placing_a_stop_hands_the_venue_that_trigger_price(venue: Harness):
    venue.given_long_to_protect()

    venue.adapter.place_position_protection(BTC, PositionSide.LONG, stop_loss=STOP)

    assert venue.stop_sent() == STOP


def test_a_stop_for_a_position_that_is_not_open_is_not_found(venue: Harness):
    venue.given_flat()

    with pytest.raises(NotFoundError) as caught:
        venue.adapter.place_position_protection(BTC, PositionSide.LONG, stop_loss=STOP)

    assert (caught.value.account, caught.value.operation) == (venue.adapter.account, "place_position_protection")


# -- closing ------------------------------------------------------------------------------------------------------
def test_closing_a_position_is_a_reduce_only_market_order_for_its_whole_size(venue: Harness):
    size = venue.given_long_to_close()

    order = venue.adapter.close_position(BTC, PositionSide.LONG)

    assert (order.symbol, order.type, order.side, order.qty) == (BTC, OrderType.MARKET, OrderSide.SELL, size)
    assert order.reduce_only and order.id


def test_closing_a_position_that_is_not_open_is_not_found(venue: Harness):
    venue.given_flat()

    with pytest.raises(NotFoundError) as caught:
        venue.adapter.close_position(BTC, PositionSide.LONG)

    assert (caught.value.account, caught.value.operation) == (venue.adapter.account, "close_position")


# -- cancelling ---------------------------------------------------------------------------------------------------
def test_cancelling_an_open_order_cancels_that_order_and_returns_nothing(venue: Harness):
    symbol, order_id = venue.given_resting_order()

    assert venue.adapter.cancel_order(symbol, order_id) is None

    assert venue.cancelled() == [order_id]


def test_cancelling_an_order_that_is_not_open_is_not_found(venue: Harness):
    symbol, order_id = venue.given_no_such_order()

    with pytest.raises(NotFoundError) as caught:
        venue.adapter.cancel_order(symbol, order_id)

    assert (caught.value.account, caught.value.operation) == (venue.adapter.account, "cancel_order")
    assert order_id in str(caught.value)


def test_cancelling_all_but_protection_leaves_the_stop_and_the_target_standing(venue: Harness):
    expected = venue.given_protected_position_and_a_resting_order()
    venue.given_cancels_accepted()

    cancelled = venue.adapter.cancel_all_orders(include_protective=False)

    assert expected.plain_id in cancelled
    assert not {expected.stop_id, expected.target_id} & set(cancelled)
    assert not {expected.stop_id, expected.target_id} & set(venue.cancelled())


def test_cancelling_a_stop_by_the_id_the_listing_gave_cancels_that_stop(venue: Harness):
    expected = venue.given_protected_position_and_a_resting_order()
    venue.given_cancels_accepted()
    stop = next(o for o in venue.adapter.fetch_open_orders() if o.id == expected.stop_id)

    venue.adapter.cancel_order(stop.symbol, stop.id)

    assert venue.cancelled() == [venue.venue_order_id(stop.id)]
    paired = venue.venue_order_id(expected.target_id) == venue.venue_order_id(stop.id)
    assert paired is venue.declared.paired_protection  # paired legs: the target goes with the stop (Bitunix)
