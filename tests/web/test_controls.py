"""The JSON API of the controls: validation names the field, denials are 409 with verdicts, CSRF on the session."""

from __future__ import annotations

from decimal import Decimal

import pytest

from riskmgr.core.domain import PositionSide
from tests.conftest import csrf_from, login
from tests.controls.helpers import BTC, open_position, position, stops

D = Decimal
WHERE = {"account": "paper", "symbol": BTC, "side": "long"}
ETH_SYMBOL = "ETH/USDT:USDT"


def test_post_protection_moves_the_stop_and_answers_old_and_new_levels(runtime, api):
    p = open_position(runtime)
    new_stop = str((p.mark_price * D("0.99")).quantize(D("0.1")))

    res = api.post("/api/positions/protection", json=WHERE | {"stop_loss": new_stop})

    assert res.status_code == 200, res.get_json()
    body = res.get_json()
    assert body["accepted"] and body["new_stop"] == new_stop and body["old_stop"] != new_stop
    assert [str(o.trigger_price.normalize()) for o in stops(runtime)] == [new_stop]


def test_post_protection_break_even_too_early_is_a_400_naming_break_even(runtime, api):
    open_position(runtime)

    res = api.post("/api/positions/protection", json=WHERE | {"break_even": True})

    assert res.status_code == 400 and res.get_json()["detail"]["field"] == "break_even"


def test_post_protection_widening_past_the_limit_is_a_409_with_the_denying_rule(runtime, api):
    p = open_position(runtime, qty="0.03", stop_pct="1", target_pct="3")
    runtime.limits_store.update({"risk_per_trade_pct": "0.2"}, "test")

    res = api.post("/api/positions/protection", json=WHERE | {"stop_loss": str(p.entry_price * D("0.97"))})

    assert res.status_code == 409
    assert [v["rule"] for v in res.get_json()["verdicts"] if not v["allowed"]] == ["risk_per_trade"]


@pytest.mark.parametrize(("body", "field"), [
    ({"stop_loss": "-1"}, "stop_loss"), ({"stop_loss": "abc"}, "stop_loss"), ({"side": "up", "stop_loss": "1"}, "side"),
    ({"account": "nope", "stop_loss": "1"}, "account"), ({"stopp": "1"}, "stopp"), ({}, "stop_loss"),
])
def test_post_protection_bad_input_is_a_400_naming_the_field(runtime, api, body, field):
    open_position(runtime)

    res = api.post("/api/positions/protection", json=WHERE | body)

    assert res.status_code == 400 and res.get_json()["detail"]["field"] == field


def test_partial_close_by_percent_answers_fill_and_realized_pnl(runtime, api, clock):
    open_position(runtime, qty="0.004")
    clock.advance(seconds=5)

    res = api.post("/api/positions/partial-close", json=WHERE | {"percent": 25})

    assert res.status_code == 201, res.get_json()
    body = res.get_json()
    assert body["closed_qty"] == "0.001" and body["remaining_qty"] == "0.003"
    assert body["fill_price"] and body["realized_pnl"] is not None
    assert position(runtime).size == D("0.003")


@pytest.mark.parametrize(("body", "field"), [({"percent": 0}, "percent"), ({"percent": 101}, "percent"),
                                             ({"qty": "0"}, "qty"), ({"percent": 10, "qty": "0.001"}, "percent")])
def test_partial_close_out_of_range_is_a_400_naming_the_field(runtime, api, body, field):
    open_position(runtime)

    res = api.post("/api/positions/partial-close", json=WHERE | body)

    assert res.status_code == 400 and res.get_json()["detail"]["field"] == field
    assert position(runtime).size == D("0.003")


def test_delete_order_refuses_the_last_stop_with_409_and_cancels_a_target(runtime, api):
    open_position(runtime)
    orders = runtime.accounts["paper"].fetch_open_orders()
    stop = next(o for o in orders if o.is_stop_loss)
    target = next(o for o in orders if o.is_take_profit)

    refused = api.delete(f"/api/orders/{stop.id}?account=paper")
    done = api.delete(f"/api/orders/{target.id}?account=paper")

    assert refused.status_code == 409 and "last stop-loss" in refused.get_json()["detail"]
    assert done.status_code == 200 and done.get_json()["accepted"]
    assert [o.id for o in runtime.accounts["paper"].fetch_open_orders()] == [stop.id]


def test_close_answers_its_fill_price_and_realized_pnl(runtime, api, clock):
    open_position(runtime)
    clock.advance(seconds=5)

    res = api.post("/api/positions/close", json=WHERE)

    assert res.status_code == 201
    body = res.get_json()
    assert body["accepted"] and body["fill_price"] and body["realized_pnl"] is not None
    assert "realized P&L" in body["message"] and position(runtime) is None


def test_pause_entries_then_an_order_is_409_naming_the_pause_and_resume_allows_it(runtime, api):
    open_position(runtime)
    paused = api.post("/api/accounts/paper/entries", json={"paused": True, "reason": "news"})
    ticket = {"account": "paper", "symbol": BTC, "side": "buy", "type": "market", "qty": "0.002", "leverage": 3}
    mark = runtime.accounts["paper"].fetch_tickers()[BTC].mark
    ticket |= {"stop_loss": str((mark * D("0.97")).quantize(D("0.1"))),
               "take_profit": str((mark * D("1.08")).quantize(D("0.1")))}

    denied = api.post("/api/orders", json=ticket)
    api.post("/api/accounts/paper/entries", json={"paused": False})
    allowed = api.post("/api/orders", json=ticket | {"intent_id": "second"})

    assert paused.status_code == 200 and paused.get_json()["entries_paused"] is True
    assert denied.status_code == 409
    rules = [v["rule"] for v in denied.get_json()["entry"]["verdicts"] if not v["allowed"]]
    assert rules == ["entries_paused"]
    assert allowed.status_code == 201, allowed.get_json()


def test_entries_switch_needs_paused_and_auto_trading_needs_on_off_or_default(api):
    assert api.post("/api/accounts/paper/entries", json={}).get_json()["detail"]["field"] == "paused"
    res = api.post("/api/accounts/paper/auto-trading", json={"enabled": "maybe"})
    assert res.status_code == 400 and res.get_json()["detail"]["field"] == "enabled"
    assert api.post("/api/accounts/nope/entries", json={"paused": True}).status_code == 400


def test_auto_trading_switch_answers_the_policy_in_force(api):
    res = api.post("/api/accounts/paper/auto-trading", json={"enabled": "off", "reason": "testing"})

    body = res.get_json()
    assert res.status_code == 200 and body["auto_trading"] is False and "testing" in body["auto_trading_reason"]
    assert api.get("/api/accounts/controls").get_json()["notes"] == ["auto-trading OFF on paper"]


def test_session_writes_need_the_csrf_token(runtime, client):
    login(client)

    without = client.post("/api/accounts/paper/entries", json={"paused": True})
    token = csrf_from(client)
    with_token = client.post("/api/accounts/paper/entries", json={"paused": True}, headers={"X-CSRFToken": token})

    assert without.status_code == 400 and without.get_json()["error"] == "csrf"
    assert with_token.status_code == 200


def test_the_banner_on_every_page_names_a_paused_account(runtime, client, api):
    login(client)
    api.post("/api/accounts/paper/entries", json={"paused": True})

    for path in ("/", "/trade", "/risk"):
        page = client.get(path).get_data(as_text=True)
        assert "new entries PAUSED on paper" in page, path
    assert position(runtime, BTC, PositionSide.LONG) is None


def test_the_receipt_of_a_paused_account_shows_the_pause_as_the_gate_will_decide(runtime, api):
    open_position(runtime)
    api.post("/api/accounts/paper/entries", json={"paused": True, "reason": "news"})
    mark = runtime.accounts["paper"].fetch_tickers()[BTC].mark
    ticket = {"account": "paper", "symbol": BTC, "side": "buy", "type": "market", "qty": "0.002", "leverage": 3,
              "stop_loss": str((mark * D("0.97")).quantize(D("0.1"))),
              "take_profit": str((mark * D("1.08")).quantize(D("0.1")))}

    receipt = api.post("/api/orders/preview", json=ticket).get_json()
    closing = api.post("/api/orders/preview", json=ticket | {"side": "sell", "reduce_only": True}).get_json()

    assert receipt["allowed"] is False and [v["rule"] for v in receipt["denials"]] == ["entries_paused"]
    assert closing["allowed"] is True


def test_pausing_cancels_the_resting_entry_orders_and_keeps_the_stops(runtime, api):
    from riskmgr.core.domain import OrderRequest, OrderSide, OrderType

    open_position(runtime)
    mark = runtime.accounts["paper"].fetch_tickers()[ETH_SYMBOL].mark
    far = (mark * D("0.8")).quantize(D("0.01"))
    entry = runtime.gateway.submit("paper", OrderRequest(ETH_SYMBOL, OrderSide.BUY, OrderType.LIMIT, D("0.05"),
                                                         price=far, leverage=2, stop_loss=far * D("0.97"),
                                                         take_profit=far * D("1.08")), actor="test", intent_id="rest")
    assert entry.accepted, entry.message

    res = api.post("/api/accounts/paper/entries", json={"paused": True, "reason": "news"})

    body = res.get_json()
    assert res.status_code == 200 and [c["id"] for c in body["entries_cancelled"]["cancelled"]] == [entry.order.id]
    open_ids = [o.id for o in runtime.accounts["paper"].fetch_open_orders()]
    assert entry.order.id not in open_ids and stops(runtime)  # the position keeps its stop
    assert any(e["kind"] == "order.entries_cancelled" and "paused" in e["message"] for e in runtime.audit.query())
