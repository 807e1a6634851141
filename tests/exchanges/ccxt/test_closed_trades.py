"""Closed trades: Binance income history (REALIZED_PNL less commission) and Bitget history-position."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from riskmgr.core.clock import to_ms
from riskmgr.core.domain import PositionSide
from riskmgr.core.errors import AuthError, MalformedResponseError
from riskmgr.risk.context import ClosedTrade
from tests.exchanges.ccxt.helpers import BINANCE, BITGET, calls_to, query, route

SINCE = datetime(2024, 3, 1, tzinfo=UTC)
T1, T2 = SINCE + timedelta(hours=1), SINCE + timedelta(hours=5)
INCOME = f"{BINANCE}/fapi/v1/income"
HISTORY = f"{BITGET}/api/v2/mix/position/history-position"
BTC, ETH, DOGE = "BTC/USDT:USDT", "ETH/USDT:USDT", "DOGE/USDT:USDT"


def _income(kind: str, income: str, when: datetime, tran: int, trade: str, symbol: str = "BTCUSDT",
            asset: str = "USDT") -> dict:
    """One /fapi/v1/income row in the documented shape."""
    return {"symbol": symbol, "incomeType": kind, "income": income, "asset": asset, "info": kind,
            "time": to_ms(when), "tranId": tran, "tradeId": trade}


def _binance_income(http, realized: list[dict], commission: list[dict]) -> None:
    def answer(request):
        rows = realized if query(request)["incomeType"] == "REALIZED_PNL" else commission
        return 200, {}, json.dumps(rows)

    http.add_callback("GET", INCOME, callback=answer)


# -- Binance ----------------------------------------------------------------------------------------------
def test_binance_fills_of_one_close_add_up_and_pay_their_commission(http, binance_adapter):
    realized = [
        _income("REALIZED_PNL", "-12.50", T1, 1, "901"),  # one market close filled in two trades
        _income("REALIZED_PNL", "-2.50", T1, 2, "902"),
        _income("REALIZED_PNL", "30.00", T2, 3, "903"),
        _income("REALIZED_PNL", "5", T2, 4, "904", symbol="BTCUSDC", asset="USDC"),  # not a USDT contract
    ]
    commission = [
        _income("COMMISSION", "-0.40", T1, 11, "901"), _income("COMMISSION", "-0.10", T1, 12, "902"),
        _income("COMMISSION", "-0.60", T2, 13, "903"), _income("COMMISSION", "-0.25", SINCE, 14, "800"),  # an entry
    ]
    _binance_income(http, realized, commission)

    trades = binance_adapter.fetch_closed_trades(SINCE)

    assert trades == [ClosedTrade(T2, Decimal("29.40"), BTC), ClosedTrade(T1, Decimal("-15.50"), BTC)]
    sent = [query(r) for r in calls_to(http, "/fapi/v1/income")]
    assert [(q["incomeType"], q["startTime"], q["limit"]) for q in sent] == [
        ("REALIZED_PNL", str(to_ms(SINCE)), "1000"), ("COMMISSION", str(to_ms(SINCE)), "1000"),
    ]


def test_binance_closes_are_named_by_the_markets_and_unknown_contracts_stay_unnamed(http, binance_adapter):
    realized = [
        _income("REALIZED_PNL", "4", T1, 1, "901", symbol="ETHUSDT"),
        _income("REALIZED_PNL", "-6", T1, 2, "902", symbol="DOGEUSDT"),  # same time, another contract: its own close
        _income("REALIZED_PNL", "-1", T2, 3, "903", symbol="DOTUSDT"),  # delisted or never loaded: no name guessed
    ]
    _binance_income(http, realized, [])

    trades = binance_adapter.fetch_closed_trades(SINCE)

    assert sorted(trades, key=lambda t: (t.closed_at, t.realized_pnl)) == [
        ClosedTrade(T1, Decimal(-6), DOGE), ClosedTrade(T1, Decimal(4), ETH), ClosedTrade(T2, Decimal(-1), None),
    ]
    assert all(t.side is None for t in trades)  # income rows do not say which position side closed
    assert calls_to(http, "/fapi/v1/exchangeInfo") == []  # an unknown id does not reload the markets


def test_binance_without_realized_pnl_asks_for_no_commissions(http, binance_adapter):
    route(http, "GET", INCOME, [])

    assert binance_adapter.fetch_closed_trades(SINCE) == []
    assert len(calls_to(http, "/fapi/v1/income")) == 1


def test_binance_full_pages_continue_from_the_last_time_without_repeats(http, binance_adapter):
    page = [_income("REALIZED_PNL", "1", SINCE + timedelta(seconds=i), i, str(i)) for i in range(1000)]
    second = [page[-1], _income("REALIZED_PNL", "-7", T2, 5000, "5000")]  # the last row comes again
    pages = iter([page, second, [], []])
    http.add_callback("GET", INCOME, callback=lambda request: (200, {}, json.dumps(next(pages))))

    trades = binance_adapter.fetch_closed_trades(SINCE)

    assert len(trades) == 1001 and trades[0] == ClosedTrade(T2, Decimal(-7), BTC)
    starts = [query(r)["startTime"] for r in calls_to(http, "/fapi/v1/income")][:2]
    assert starts == [str(to_ms(SINCE)), str(to_ms(SINCE + timedelta(seconds=999)))]


def test_binance_rejected_keys_are_an_auth_error(http, binance_adapter):
    route(http, "GET", INCOME, {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}, 401)

    with pytest.raises(AuthError):
        binance_adapter.fetch_closed_trades(SINCE)


# -- Bitget -----------------------------------------------------------------------------------------------
def _position(pid: str, closed: datetime, net: str, coin: str = "USDT", symbol: str = "BTCUSDT",
              side: str = "long") -> dict:
    """One history-position row in the documented shape (strings everywhere)."""
    return {"positionId": pid, "marginCoin": coin, "symbol": symbol, "holdSide": side,
            "openAvgPrice": "32000", "closeAvgPrice": "32500", "marginMode": "isolated", "openTotalPos": "0.01",
            "closeTotalPos": "0.01", "pnl": "14.1", "netProfit": net, "totalFunding": "0.1", "openFee": "0.01",
            "closeFee": "0.01", "cTime": str(to_ms(closed - timedelta(hours=1))), "uTime": str(to_ms(closed))}


def _envelope(rows: list[dict], end_id: str | None) -> dict:
    return {"code": "00000", "msg": "success", "requestTime": 1, "data": {"list": rows, "endId": end_id}}


def test_bitget_net_profit_newest_first_since_only_with_symbol_and_side(http, bitget_adapter):
    rows = [_position("1", T1, "12.1"), _position("2", T2, "-3.5", symbol="ETHUSDT", side="short"),
            _position("3", SINCE - timedelta(hours=1), "9")]
    route(http, "GET", HISTORY, _envelope(rows, "3"))

    trades = bitget_adapter.fetch_closed_trades(SINCE)

    assert trades == [ClosedTrade(T2, Decimal("-3.5"), ETH, PositionSide.SHORT),
                      ClosedTrade(T1, Decimal("12.1"), BTC, PositionSide.LONG)]
    sent = query(calls_to(http, "/api/v2/mix/position/history-position")[0])
    assert sent == {"productType": "USDT-FUTURES", "startTime": str(to_ms(SINCE - timedelta(days=30))),
                    "limit": "100"}


def test_bitget_pages_follow_end_id(http, bitget_adapter):
    first = [_position(str(i), SINCE + timedelta(minutes=i), "1") for i in range(100)]
    http.add("GET", HISTORY, json=_envelope(first, "99"))
    http.add("GET", HISTORY, json=_envelope([_position("x", T2, "-2")], "x"))

    trades = bitget_adapter.fetch_closed_trades(SINCE)

    assert len(trades) == 101 and trades[0] == ClosedTrade(T2, Decimal(-2), BTC, PositionSide.LONG)
    assert query(calls_to(http, "/api/v2/mix/position/history-position")[1])["idLessThan"] == "99"


def test_bitget_row_without_net_profit_is_malformed(http, bitget_adapter):
    row = _position("1", T1, "1")
    del row["netProfit"]
    route(http, "GET", HISTORY, _envelope([row], None))

    with pytest.raises(MalformedResponseError, match="netProfit"):
        bitget_adapter.fetch_closed_trades(SINCE)


def test_bitget_unknown_contract_keeps_its_pnl_without_a_symbol_and_no_markets_reload(http, bitget_adapter):
    route(http, "GET", HISTORY, _envelope([_position("1", T1, "-4", symbol="DOTUSDT")], None))

    trades = bitget_adapter.fetch_closed_trades(SINCE)

    assert trades == [ClosedTrade(T1, Decimal(-4), None, PositionSide.LONG)]
    assert calls_to(http, "/api/v2/mix/market/contracts") == []


def test_bitget_row_with_an_unknown_hold_side_is_malformed(http, bitget_adapter):
    route(http, "GET", HISTORY, _envelope([_position("1", T1, "1", side="net")], None))

    with pytest.raises(MalformedResponseError, match="holdSide"):
        bitget_adapter.fetch_closed_trades(SINCE)


def test_bitget_row_without_a_symbol_is_malformed(http, bitget_adapter):
    row = _position("1", T1, "1")
    del row["symbol"]
    route(http, "GET", HISTORY, _envelope([row], None))

    with pytest.raises(MalformedResponseError, match="symbol"):
        bitget_adapter.fetch_closed_trades(SINCE)


def test_bitget_row_without_a_hold_side_leaves_the_side_unknown(http, bitget_adapter):
    row = _position("1", T1, "2.5")
    del row["holdSide"]
    route(http, "GET", HISTORY, _envelope([row], None))

    assert bitget_adapter.fetch_closed_trades(SINCE) == [ClosedTrade(T1, Decimal("2.5"), BTC, None)]
