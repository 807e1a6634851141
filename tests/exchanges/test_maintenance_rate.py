"""The maintenance margin rate an adapter reports by default (its spec's), and a paper market that lacks one."""

from dataclasses import replace
from decimal import Decimal

import pytest

from riskmgr.core.domain import OrderRequest, OrderSide, OrderType
from riskmgr.core.errors import InvalidOrderError, NotSupportedError
from tests.exchanges.conftest import BTC, ETH, SPECS

D = Decimal


@pytest.fixture
def unrated_btc(fake_market):
    """The fake market with BTC listed without a maintenance margin rate."""
    fake_market.specs = lambda: {BTC: replace(SPECS[BTC], maintenance_margin_rate=None), ETH: SPECS[ETH]}
    return fake_market


def test_the_default_rate_is_the_one_in_the_symbols_spec(paper):
    rates = paper.fetch_maintenance_margin_rate(BTC), paper.fetch_maintenance_margin_rate(ETH)

    assert rates == (D("0.005"), D("0.01"))


def test_a_symbol_the_venue_does_not_list_is_an_invalid_order(paper):
    with pytest.raises(InvalidOrderError, match="'SOL/USDT:USDT' is not a USDT perpetual on paper"):
        paper.fetch_maintenance_margin_rate("SOL/USDT:USDT")


def test_a_spec_without_a_rate_is_reported_as_unreadable_not_filled_in(unrated_btc, paper):
    with pytest.raises(NotSupportedError, match="cannot read the maintenance margin rate of BTC/USDT:USDT"):
        paper.fetch_maintenance_margin_rate(BTC)


def test_the_paper_exchange_refuses_an_order_it_could_only_margin_by_a_guessed_rate(unrated_btc, paper):
    with pytest.raises(NotSupportedError, match="no maintenance margin rate for BTC/USDT:USDT: it cannot be simulated"):
        paper.place_order(OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, D("0.1")))

    assert paper.fetch_positions() == [] and paper.fetch_balance().wallet == D(10000)
