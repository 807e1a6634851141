"""A paper account on prices the test sets, with every gate rule on: trades are opened and closed for real."""

from __future__ import annotations

from decimal import Decimal

import pytest

from riskmgr.accounts.monitor import poll_cycle
from riskmgr.core.domain import OrderRequest, OrderSide, OrderType, PositionSide
from tests.exchanges.conftest import BTC, ETH, FakeMarket
from tests.support.apps import app_on

D = Decimal


@pytest.fixture
def market(clock):
    return FakeMarket(clock, {BTC: D(50000), ETH: D(3000)})


@pytest.fixture
def jrt(tmp_path, clock, market):
    """The app's runtime on ``market``: no slippage, so every fill is at the price the test set."""
    with app_on(tmp_path, clock, market=market, operator=True, paper_slippage_bps=D(0)) as app:
        runtime = app.extensions["riskmgr"]
        runtime.app = app
        yield runtime


def open_long(rt, market, clock, symbol: str, price: str, qty: str, intent: str, *,
              stop: str | None = None, target: str | None = None) -> None:
    """Open a long through the gate at ``price`` (stop 2 % below, target 4 % above unless given)."""
    market.price(symbol, price)
    poll_cycle(rt)
    p = D(price)
    stop_loss = D(stop) if stop else p * D("0.98")
    take_profit = D(target) if target else p * D("1.04")
    request = OrderRequest(symbol, OrderSide.BUY, OrderType.MARKET, D(qty), leverage=2, stop_loss=stop_loss,
                           take_profit=take_profit)
    result = rt.gateway.submit("paper", request, actor="tester", intent_id=intent)
    assert result.accepted, result.message
    clock.advance(60)


def close_long(rt, market, clock, symbol: str, price: str, intent: str, purpose: str = "close") -> str:
    """Close the long at ``price`` through the gate; return the close's client id."""
    market.price(symbol, price)
    result = rt.gateway.close_position("paper", symbol, PositionSide.LONG, actor="tester", intent_id=intent,
                                       purpose=purpose)
    assert result.accepted, result.message
    clock.advance(60)
    return result.client_id
