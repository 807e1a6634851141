"""Bitunix closed positions carry the detail the trade journal shows: open time, entry and close price, size, fee."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from tests.exchanges.bitunix.conftest import ok
from tests.exchanges.bitunix.test_closed_trades import HISTORY, SINCE, _row


def test_a_closed_position_reports_its_open_time_prices_size_fee_and_position_id(api, adapter):
    api.get(HISTORY, json=ok({"positionList": [_row("77", SINCE + timedelta(hours=3), "500", "1.5")], "total": 1}))

    [trade] = adapter.fetch_closed_trades(SINCE)

    assert (trade.opened_at, trade.entry_price, trade.exit_price, trade.qty, trade.trading_fees, trade.venue_id) == (
        SINCE + timedelta(hours=1), Decimal(60000), Decimal(61000), Decimal("0.5"), Decimal("1.5"), "77")
    assert trade.realized_pnl == Decimal("498.5")  # unchanged: realized P&L less the fee
