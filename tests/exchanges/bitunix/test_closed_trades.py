"""Bitunix closed trades from get_history_positions (documented reply shape, numbers as strings)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest

from riskmgr.core.clock import to_ms
from riskmgr.core.domain import PositionSide
from riskmgr.core.errors import MalformedResponseError, ValidationError
from riskmgr.risk.context import ClosedTrade
from tests.exchanges.bitunix.conftest import BASE, ok

HISTORY = f"{BASE}/api/v1/futures/position/get_history_positions"
SINCE = datetime(2023, 11, 14, 0, 0, tzinfo=UTC)
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
LONG, SHORT = PositionSide.LONG, PositionSide.SHORT


def _row(position_id: str, mtime: datetime, realized: str, fee: str, symbol: str = "BTCUSDT",
         side: str = "LONG") -> dict:
    """One positionList row as the docs show it (strings for amounts, int64 times)."""
    return {
        "positionId": position_id, "symbol": symbol, "maxQty": "0.5", "entryPrice": "60000",
        "closePrice": "61000", "liqQty": "0", "side": side, "positionMode": "HEDGE", "marginMode": "ISOLATION",
        "leverage": 100, "fee": fee, "funding": "-0.2", "realizedPNL": realized, "liqPrice": "22209",
        "ctime": to_ms(mtime - timedelta(hours=2)), "mtime": to_ms(mtime),
    }


def test_closed_trades_are_newest_first_net_of_fees_and_only_since_with_symbol_and_side(api, adapter):
    rows = [
        _row("1", SINCE + timedelta(hours=1), "102.9", "0.1"),
        _row("2", SINCE + timedelta(hours=3), "-20", "0.5", symbol="ETHUSDT", side="SHORT"),
        _row("3", SINCE - timedelta(minutes=1), "50", "0.1"),  # closed before ``since``
    ]
    api.get(HISTORY, json=ok({"positionList": rows, "total": 3}))

    trades = adapter.fetch_closed_trades(SINCE)

    assert trades == [
        ClosedTrade(SINCE + timedelta(hours=3), Decimal("-20.5"), ETH, SHORT),
        ClosedTrade(SINCE + timedelta(hours=1), Decimal("102.8"), BTC, LONG),
    ]
    sent = dict(parse_qsl(urlsplit(api.calls[0].request.url).query))
    assert sent == {"startTime": str(to_ms(SINCE - timedelta(days=30))), "skip": "0", "limit": "100"}


def test_closed_trades_follow_the_pages_until_the_total(api, adapter):
    first = [_row(str(i), SINCE + timedelta(minutes=i), "1", "0") for i in range(100)]
    api.get(HISTORY, json=ok({"positionList": first, "total": 101}))
    api.get(HISTORY, json=ok({"positionList": [_row("x", SINCE + timedelta(days=1), "-3", "1")], "total": 101}))

    trades = adapter.fetch_closed_trades(SINCE)

    assert len(trades) == 101 and trades[0] == ClosedTrade(SINCE + timedelta(days=1), Decimal(-4), BTC, LONG)
    skips = [dict(parse_qsl(urlsplit(c.request.url).query))["skip"] for c in api.calls]
    assert skips == ["0", "100"]


def test_closed_trades_with_no_history_are_empty(api, adapter):
    api.get(HISTORY, json=ok({"positionList": [], "total": 0}))

    assert adapter.fetch_closed_trades(SINCE) == []


def test_the_side_seen_live_as_buy_or_sell_is_the_position_side(api, adapter):
    rows = [_row("1", SINCE + timedelta(hours=1), "1", "0", side="SELL"),
            _row("2", SINCE + timedelta(hours=2), "2", "0", side="BUY")]
    api.get(HISTORY, json=ok({"positionList": rows, "total": 2}))

    assert [t.side for t in adapter.fetch_closed_trades(SINCE)] == [LONG, SHORT]


def test_a_row_without_a_side_keeps_its_symbol_and_leaves_the_side_unknown(api, adapter):
    row = _row("1", SINCE + timedelta(hours=1), "5", "1")
    del row["side"]
    api.get(HISTORY, json=ok({"positionList": [row], "total": 1}))

    assert adapter.fetch_closed_trades(SINCE) == [ClosedTrade(SINCE + timedelta(hours=1), Decimal(4), BTC, None)]


def test_a_contract_outside_usdt_keeps_its_pnl_without_a_symbol(api, adapter):
    api.get(HISTORY, json=ok({"positionList": [_row("1", SINCE + timedelta(hours=1), "-3", "1", symbol="BTCUSDC")],
                              "total": 1}))

    assert adapter.fetch_closed_trades(SINCE) == [ClosedTrade(SINCE + timedelta(hours=1), Decimal(-4), None, LONG)]


def test_an_unknown_side_is_malformed_not_guessed(api, adapter):
    api.get(HISTORY, json=ok({"positionList": [_row("1", SINCE + timedelta(hours=1), "1", "0", side="BOTH")],
                              "total": 1}))

    with pytest.raises(MalformedResponseError, match="'side'"):
        adapter.fetch_closed_trades(SINCE)


def test_a_row_without_a_symbol_is_malformed(api, adapter):
    row = _row("1", SINCE + timedelta(hours=1), "1", "0")
    del row["symbol"]
    api.get(HISTORY, json=ok({"positionList": [row], "total": 1}))

    with pytest.raises(MalformedResponseError, match="'symbol'"):
        adapter.fetch_closed_trades(SINCE)


def test_a_row_without_realized_pnl_is_malformed_not_zero(api, adapter):
    row = _row("1", SINCE + timedelta(hours=1), "1", "0")
    del row["realizedPNL"]
    api.get(HISTORY, json=ok({"positionList": [row], "total": 1}))

    with pytest.raises(MalformedResponseError, match="realizedPNL"):
        adapter.fetch_closed_trades(SINCE)


def test_a_naive_since_is_refused(adapter):
    with pytest.raises(ValidationError, match="since"):
        adapter.fetch_closed_trades(datetime(2024, 1, 1))  # naive on purpose
