"""The simulated account's own shortcuts build exactly what the plain constructors build."""

from __future__ import annotations

from decimal import Decimal

from riskmgr.backtest.account import closed_trade
from riskmgr.core.clock import from_ms
from riskmgr.risk.context import ClosedTrade


def test_a_closed_trade_built_by_the_account_equals_the_constructors_in_every_field():
    at = from_ms(1_704_067_200_000)

    fast, plain = closed_trade(at, Decimal("-12.3456")), ClosedTrade(at, Decimal("-12.3456"))

    assert type(fast) is ClosedTrade
    assert fast == plain and hash(fast) == hash(plain) and repr(fast) == repr(plain)
    assert vars(fast) == vars(plain)
