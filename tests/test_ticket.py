"""The order ticket: optional quantity ("size for me"), the preview endpoint, and placing what the receipt shows."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from riskmgr.domain import OrderStatus, TradingState
from riskmgr.models import OrderIntent
from riskmgr.monitor import poll_cycle
from riskmgr.ticket import parse_ticket

D = Decimal
BTC = "BTC/USDT:USDT"


def ticket(**changes):
    # the simulated BTC mark at T0 is 32019.1: a limit buy at 30000 rests on the book
    body = {"account": "paper", "symbol": BTC, "type": "limit", "side": "buy", "price": "30000",
            "stop_loss": "29000", "take_profit": "32000", "leverage": "3"}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


@pytest.fixture
def polled_api(api, runtime):
    poll_cycle(runtime)
    return api


def intents(runtime) -> int:
    with Session(runtime.engine) as session:
        return session.scalar(select(func.count()).select_from(OrderIntent))


# -- parsing -----------------------------------------------------------------------------------------------------
def test_quantity_may_be_left_out_when_a_stop_is_given(runtime):
    parsed = parse_ticket(ticket(), runtime)

    assert parsed.qty is None and parsed.request().qty == 0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"stop_loss": None}, "is required for an order without a stop-loss to size it from (size for me needs a "
                              "stop-loss)"),
        ({"reduce_only": True}, "is required for a reduce-only order (size for me needs a stop-loss)"),
    ],
)
def test_quantity_is_required_when_it_cannot_be_sized(runtime, changes, message):
    from riskmgr.errors import ValidationError

    with pytest.raises(ValidationError) as caught:
        parse_ticket(ticket(**changes), runtime)

    assert (caught.value.field, caught.value.message) == ("qty", message)


# -- preview -----------------------------------------------------------------------------------------------------
def test_preview_answers_the_receipt_and_sends_nothing(polled_api, runtime):
    response = polled_api.post("/api/orders/preview", json=ticket())

    body = response.get_json()
    # budget 150 USDT over a 1000 stop = 0.15 BTC; the 1000 USDT notional cap at 30000 allows 0.033 BTC
    assert response.status_code == 200
    assert (body["qty"], body["figures"]["risk"]["usdt"], body["allowed"]) == ("0.033", "33", True)
    assert runtime.accounts["paper"].fetch_open_orders() == [] and intents(runtime) == 0


def test_preview_shows_every_denial_with_its_reason(polled_api, runtime):
    runtime.trading.escalate(TradingState.HALTED, "emergency stop", "test")

    body = polled_api.post("/api/orders/preview", json=ticket(qty="0.01", leverage="10")).get_json()

    assert body["allowed"] is False
    assert [(v["rule"], v["reason"]) for v in body["denials"]] == [
        ("trading_state", "trading is HALTED: only cancels and reduce-only closes are admitted until an operator "
                          "re-arms"),
        ("max_leverage", "leverage 10x is above the limit 5x"),
    ]


def test_preview_with_bad_input_is_a_400_naming_the_field(polled_api):
    response = polled_api.post("/api/orders/preview", json=ticket(stop_loss="31000"))

    assert response.status_code == 400
    assert response.get_json()["detail"] == {"field": "stop_loss",
                                             "message": "31000 must be below the entry price 30000 for a buy"}


# -- submit ------------------------------------------------------------------------------------------------------
def test_order_without_quantity_is_placed_at_the_size_the_receipt_computes(polled_api, runtime):
    response = polled_api.post("/api/orders", json=ticket())

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["receipt"]["qty"] == "0.033"
    [order] = runtime.accounts["paper"].fetch_open_orders()
    assert (order.qty, order.price, order.status) == (D("0.033"), D(30000), OrderStatus.NEW)


def test_order_that_cannot_be_sized_is_a_409_sends_nothing_and_is_audited(polled_api, runtime):
    runtime.limits_store.update({"risk_per_trade_pct": "0.01"}, "test")

    response = polled_api.post("/api/orders", json=ticket(stop_loss="25000", take_profit="40000"))

    # budget 1 USDT over a 5000 stop = 0.0002 BTC, rounded down to 0
    assert response.status_code == 409
    denials = [v for v in response.get_json()["entry"]["verdicts"] if not v["allowed"]]
    assert [v["rule"] for v in denials] == ["risk_per_trade"]
    assert runtime.accounts["paper"].fetch_open_orders() == [] and intents(runtime) == 0
    [event] = runtime.audit.query(kind="order.denied")
    assert "(size for me) denied — risk_per_trade: quantity 0 BTC is below the minimum 0.001 BTC" in event["message"]


def test_denied_order_changes_no_leverage_on_the_exchange(polled_api, runtime):
    polled_api.post("/api/orders", json=ticket(qty="0.01", leverage="10"))

    assert runtime.audit.query(kind="order.leverage") == []
    assert [e["kind"] for e in runtime.audit.query()] == ["order.denied"]


def test_same_intent_id_posted_twice_places_one_order(polled_api, runtime):
    first = polled_api.post("/api/orders", json=ticket(qty="0.01", intent_id="abc"))
    second = polled_api.post("/api/orders", json=ticket(qty="0.01", intent_id="abc"))

    assert (first.status_code, second.status_code) == (201, 201)
    assert second.get_json()["entry"]["duplicate"] is True
    assert len(runtime.accounts["paper"].fetch_open_orders()) == 1
