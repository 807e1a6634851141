from decimal import Decimal

import pytest

from riskmgr.accounts.monitor import poll_cycle


def test_snapshot_lists_the_paper_account_with_real_figures_after_a_poll(api, runtime):
    poll_cycle(runtime)
    body = api.get("/api/snapshot").get_json()
    account = body["accounts"][0]
    assert account["name"] == "paper" and account["mode"] == "paper" and account["status"] == "ok"
    assert Decimal(account["equity"]) == Decimal(10000)
    assert body["market"] == {"source": "simulated", "simulated": True}
    assert body["trading_state"]["state"] == "ACTIVE"


def test_snapshot_before_any_poll_shows_no_figures(api):
    account = api.get("/api/snapshot").get_json()["accounts"][0]
    assert account["equity"] is None
    assert account["error"] == "not polled yet"


@pytest.mark.parametrize(
    ("query", "field"),
    [("since=yesterday", "since"), ("account=nope", "account")],
)
def test_equity_bad_input_is_a_400_naming_the_field(api, query, field):
    response = api.get(f"/api/equity?{query}")
    assert response.status_code == 400
    assert response.get_json()["detail"]["field"] == field


def test_equity_history_returns_points_since_the_given_time(api, runtime, clock):
    poll_cycle(runtime)
    clock.advance(5)
    poll_cycle(runtime)
    body = api.get("/api/equity?account=paper&since=2026-11-20T11:00:00Z").get_json()
    assert [p["equity"] for p in body["series"]["paper"]] == ["10000", "10000"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "account"),
        ({"account": "paper"}, "symbol"),
        ({"account": "paper", "symbol": "BTC/USDT:USDT"}, "type"),
        ({"account": "paper", "symbol": "BTC/USDT:USDT", "type": "market"}, "side"),
        ({"account": "paper", "symbol": "BTC/USDT:USDT", "type": "market", "side": "buy"}, "qty"),
        ({"account": "paper", "symbol": "BTC/USDT:USDT", "type": "market", "side": "buy", "qty": "-1"}, "qty"),
        ({"account": "paper", "symbol": "BTC/USDT:USDT", "type": "limit", "side": "buy", "qty": "0.01"}, "price"),
        ({"account": "paper", "symbol": "NOPE", "type": "market", "side": "buy", "qty": "1"}, "symbol"),
        ({"account": "paper", "symbol": "BTC/USDT:USDT", "type": "market", "side": "buy", "qty": "0.01",
          "leverage": "500"}, "leverage"),
    ],
)
def test_order_with_bad_input_is_a_400_naming_the_field(api, body, field):
    response = api.post("/api/orders", json=body)
    assert response.status_code == 400
    assert response.get_json()["detail"]["field"] == field


def test_order_body_must_be_a_json_object(api):
    response = api.post("/api/orders", data="not json", content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["detail"]["field"] == "body"


def test_markets_list_specs_and_marks_of_the_simulated_market(api):
    body = api.get("/api/markets").get_json()
    btc = next(m for m in body["markets"] if m["symbol"] == "BTC/USDT:USDT")
    assert body["simulated"] is True
    assert Decimal(btc["mark"]) > 0 and btc["min_notional"] == "5"


def test_unknown_api_route_is_a_json_404(api):
    response = api.get("/api/does-not-exist")
    assert response.status_code == 404
    assert response.get_json()["error"] == "not found"
