"""Bitget history positions carry the detail the trade journal shows: open time, average prices, closed size."""

from __future__ import annotations

from decimal import Decimal

from tests.exchanges.ccxt.helpers import route
from tests.exchanges.ccxt.test_closed_trades import HISTORY, SINCE, T1, _envelope, _position


def test_a_bitget_close_reports_its_open_time_average_prices_size_and_position_id(http, bitget_adapter):
    route(http, "GET", HISTORY, _envelope([_position("41", T1, "12.1")], None))

    [trade] = bitget_adapter.fetch_closed_trades(SINCE)

    assert (trade.opened_at, trade.entry_price, trade.exit_price, trade.qty, trade.venue_id) == (
        SINCE, Decimal(32000), Decimal(32500), Decimal("0.01"), "41")
    assert trade.trading_fees is None  # netProfit includes them, but the docs leave the fee fields' sign open
