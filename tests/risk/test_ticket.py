"""The order ticket: optional quantity ("size for me"), the preview endpoint, and placing what the receipt shows."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from riskmgr.accounts.monitor import poll_cycle
from riskmgr.core.domain import OrderStatus, TradingState
from riskmgr.persistence.models import OrderIntent
from riskmgr.risk.ticket import parse_ticket

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
    from riskmgr.core.errors import ValidationError

    with pytest.raises(ValidationError) as caught:
        parse_ticket(ticket(**changes), runtime)

    assert (caught.value.field, caught.value.message) == ("qty", message)


# -- preview -----------------------------------------------------------------------------------------------------
def test_preview_answers_the_receipt_and_sends_nothing(polled_api, runtime):
    response = polled_api.post("/api/orders/preview", json=ticket())

    body = response.get_json()
    # the 1000 USDT notional cap at 30000 allows 0.033 BTC; if stopped it loses 0.033 * (1000 + slippage 59000 *
    # 0.0002 + 2 * 0.1 = 12 + fees 59012 * 0.0005 = 29.506) = 34.369698 USDT, fees and slippage included
    assert response.status_code == 200
    assert (body["qty"], body["figures"]["risk"]["usdt"], body["allowed"]) == ("0.033", "34.369698", True)
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
    assert "(size for me) denied — Risk per trade: quantity 0 BTC is below the minimum 0.001 BTC" in event["message"]


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


# -- the mark moved between preview and submit: say which rule, offer re-centred levels ----------------------------
# The preview saw the mark at 31700 and set stop 1.5 % below (31224.5) and target 3.75 % above (32888.7, tick
# down). At submit the mark is 32019.1: the stop is 794.6 below it and the target only 869.6 above, 1.09:1.
def moved(**changes):
    fields = {"type": "market", "price": None, "qty": "0.01", "stop_loss": "31224.5", "take_profit": "32888.7",
              "reference_price": "31700"}
    return ticket(**(fields | changes))


def test_a_market_order_the_mark_moved_under_is_a_409_naming_the_rule_and_offering_recentred_levels(
    polled_api, runtime
):
    response = polled_api.post("/api/orders", json=moved())

    body = response.get_json()
    assert response.status_code == 409
    assert body["denied_by"] == ["reward_risk"]
    offer = body["recentred"]
    # same distances from the mark 32019.1: stop 475.5 below, target 1188.7 above (2.5:1)
    assert (offer["entry"], offer["stop_loss"], offer["take_profit"]) == ("32019.1", "31543.6", "33207.8")
    assert (offer["applied"], offer["denied_by"], offer["allowed"], offer["denials"]) == (
        False, ["reward_risk"], True, [])
    assert offer["message"] == "re-centred on mark 32019.1: stop 31224.5 → 31543.6, target 32888.7 → 33207.8"
    assert runtime.accounts["paper"].fetch_positions() == []


def test_recentre_true_moves_stop_and_target_to_the_mark_before_sending_and_says_so(polled_api, runtime):
    response = polled_api.post("/api/orders", json=moved(recentre=True))

    body = response.get_json()
    assert response.status_code == 201, body
    assert body["recentred"]["applied"] is True
    assert body["recentred"]["message"] == (
        "re-centred on mark 32019.1: stop 31224.5 → 31543.6, target 32888.7 → 33207.8")
    (stop,) = [o for o in runtime.accounts["paper"].fetch_open_orders() if o.is_stop_loss]
    assert stop.trigger_price == D("31543.6")


def test_an_unsized_market_order_is_sized_on_the_recentred_stop(polled_api, runtime):
    response = polled_api.post("/api/orders", json=moved(qty=None, recentre=True))

    body = response.get_json()
    assert response.status_code == 201, body
    assert (body["receipt"]["stop_loss"], body["receipt"]["take_profit"]) == ("31543.6", "33207.8")
    assert body["receipt"]["allowed"] is True


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"recentre": "yes"}, "recentre"),
        ({"recentre": 1}, "recentre"),
        ({"recentre": True, "reference_price": None}, "reference_price"),
        ({"recentre": True, "type": "limit", "price": "30000"}, "recentre"),
        ({"reference_price": "-5"}, "reference_price"),
    ],
)
def test_bad_recentring_input_is_a_400_naming_the_field(polled_api, runtime, changes, field):
    response = polled_api.post("/api/orders", json={**moved(), **changes})

    assert response.status_code == 400
    assert response.get_json()["detail"]["field"] == field
    assert intents(runtime) == 0
