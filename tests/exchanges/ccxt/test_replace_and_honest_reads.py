"""Bitget and Binance: replacing a position's protection after an add; null reads; Retry-After on 429/418."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime

import pytest
import responses

from riskmgr.core.clock import FixedClock
from riskmgr.core.domain import PositionSide
from riskmgr.core.errors import InvalidOrderError, MalformedResponseError, NotFoundError, RateLimitError
from riskmgr.exchanges.ccxt.binance import BinanceUsdmAdapter
from tests.exchanges.ccxt.helpers import (
    BINANCE,
    BITGET,
    KEY,
    SECRET,
    binance,
    bitget,
    calls_to,
    form,
    json_body,
    query,
    quick,
    route,
)
from tests.exchanges.ccxt.helpers import (
    binance_listing_routes as binance_listing,
)
from tests.exchanges.ccxt.helpers import (
    bitget_listing_routes as bitget_listing,
)

BTC = "BTC/USDT:USDT"
V1 = f"{BINANCE}/fapi/v1"
MIX = f"{BITGET}/api/v2/mix"


# -- Binance: cancel the closePosition stop, place the new one; restore when refused ------------------------------
def test_binance_replace_cancels_the_old_stop_then_places_one_close_position_stop(http, binance_adapter):
    route(http, "GET", f"{BINANCE}/fapi/v2/positionRisk", binance("position_risk_btc"))  # long 0.020
    binance_listing(http)  # algo stop 5001 at 57000 (closePosition) and a resting entry 4001
    route(http, "DELETE", f"{V1}/algoOrder", {"algoId": 5001, "code": "200", "msg": "success"})
    http.add(responses.POST, f"{V1}/algoOrder", json=binance("algo_sl_new"))

    [stop] = binance_adapter.replace_position_protection(BTC, PositionSide.LONG, stop_loss=Decimal("56500"),
                                                         take_profit=None, client_id="rm-add-1")

    (cancelled,) = calls_to(http, "/fapi/v1/algoOrder", "DELETE")
    assert query(cancelled)["algoId"] == "5001"
    assert not calls_to(http, "/fapi/v1/order", "DELETE")  # the entry order is no protection: untouched
    (placed,) = calls_to(http, "/fapi/v1/algoOrder", "POST")
    assert (form(placed)["type"], form(placed)["closePosition"], form(placed)["clientAlgoId"]) == (
        "STOP_MARKET", "true", "rm-add-1-sl")
    assert stop.is_stop_loss and stop.close_position


def test_binance_replace_refused_then_the_old_stop_is_placed_again_and_the_refusal_raised(http, binance_adapter):
    route(http, "GET", f"{BINANCE}/fapi/v2/positionRisk", binance("position_risk_btc"))
    binance_listing(http)
    route(http, "DELETE", f"{V1}/algoOrder", {"algoId": 5001, "code": "200", "msg": "success"})
    http.add(responses.POST, f"{V1}/algoOrder", status=400,
             body=json.dumps({"code": -2021, "msg": "Order would immediately trigger."}))
    http.add(responses.POST, f"{V1}/algoOrder", json=dict(binance("algo_sl_new"), triggerPrice="57000"))

    with pytest.raises(InvalidOrderError, match=r"old protection \(stop 57000.*\) was restored"):
        binance_adapter.replace_position_protection(BTC, PositionSide.LONG, stop_loss=Decimal("58100"),
                                                    take_profit=None, client_id="rm-add-2")

    first, again = calls_to(http, "/fapi/v1/algoOrder", "POST")
    assert (form(first)["triggerPrice"], form(again)["triggerPrice"]) == ("58100", "57000")
    assert form(again)["clientAlgoId"] == "rm-add-2r-sl"


def test_binance_replace_without_the_position_then_not_found_and_nothing_cancelled(http, binance_adapter):
    route(http, "GET", f"{BINANCE}/fapi/v2/positionRisk", binance("position_risk_btc"))
    binance_listing(http)

    with pytest.raises(NotFoundError):
        binance_adapter.replace_position_protection(BTC, PositionSide.SHORT, stop_loss=Decimal("70000"),
                                                    take_profit=None)

    assert not calls_to(http, "/fapi/v1/algoOrder", "DELETE")


# -- Bitget: cancel pos_loss (and pos_profit when a target is given), place new pos_* orders ------------------------
def test_bitget_replace_swaps_pos_loss_and_keeps_pos_profit_when_no_target_is_given(http, bitget_adapter):
    route(http, "GET", f"{MIX}/position/single-position", bitget("single_position_btc"))  # long 0.05
    bitget_listing(http)  # pos_loss 2001 at 58500, pos_profit 2002 at 66000
    route(http, "POST", f"{MIX}/order/cancel-plan-order", bitget("cancel_plan_one"))
    http.add(responses.POST, f"{MIX}/order/place-tpsl-order", json=bitget("place_tpsl_sl"))

    [stop] = bitget_adapter.replace_position_protection(BTC, PositionSide.LONG, stop_loss=Decimal("59000"),
                                                        take_profit=None, client_id="rm-add-3")

    (cancelled,) = calls_to(http, "/api/v2/mix/order/cancel-plan-order")
    assert json_body(cancelled)["orderIdList"] == [{"orderId": "2001"}]
    assert json_body(cancelled)["planType"] == "pos_loss"
    (placed,) = calls_to(http, "/api/v2/mix/order/place-tpsl-order")
    assert (json_body(placed)["planType"], json_body(placed)["triggerPrice"]) == ("pos_loss", "59000")
    assert "size" not in json_body(placed) and stop.close_position


# -- honest reads ------------------------------------------------------------------------------------------------
def test_binance_position_risk_null_then_malformed(http, binance_adapter):
    http.add(responses.GET, f"{BINANCE}/fapi/v2/positionRisk", body="null")

    with pytest.raises(MalformedResponseError):
        binance_adapter.fetch_positions()


def test_bitget_all_position_data_null_then_malformed_not_flat(http, bitget_adapter):
    route(http, "GET", f"{MIX}/position/all-position", {"code": "00000", "msg": "success", "data": None})

    with pytest.raises(MalformedResponseError, match="data"):
        bitget_adapter.fetch_positions()


def test_ccxt_candles_answered_none_then_malformed(monkeypatch, bitget_adapter):
    monkeypatch.setattr(bitget_adapter.client, "fetch_ohlcv", lambda *a, **k: None)

    with pytest.raises(MalformedResponseError, match="expected a list of bars"):
        bitget_adapter.fetch_candles(BTC, "1h", limit=10)


# -- Retry-After -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("status", "wait"), [(429, "5"), (418, "120")])
def test_binance_throttled_with_retry_after_then_the_error_carries_the_wait(http, binance_adapter, status, wait):
    http.add(responses.GET, f"{BINANCE}/fapi/v3/account", status=status, headers={"Retry-After": wait},
             body=json.dumps({"code": -1003, "msg": "Too many requests."}))

    with pytest.raises(RateLimitError) as caught:
        binance_adapter.fetch_balance()

    assert caught.value.retry_after == float(wait)


def test_binance_retry_after_as_an_http_date_is_measured_on_the_adapters_injected_clock(http, binance_markets):
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    adapter = quick(BinanceUsdmAdapter("bn-clock", KEY, SECRET, markets=binance_markets, clock=FixedClock(now)))
    http.add(responses.GET, f"{BINANCE}/fapi/v3/account", status=429,
             headers={"Retry-After": format_datetime(now + timedelta(seconds=42), usegmt=True)},
             body=json.dumps({"code": -1003, "msg": "Too many requests."}))

    with pytest.raises(RateLimitError) as caught:
        adapter.fetch_balance()

    assert caught.value.retry_after == 42.0


def test_bitget_429_without_retry_after_then_no_named_wait(http, bitget_adapter):
    http.add(responses.GET, f"{MIX}/account/accounts", status=429, body="")

    with pytest.raises(RateLimitError) as caught:
        bitget_adapter.fetch_balance()

    assert caught.value.retry_after is None
