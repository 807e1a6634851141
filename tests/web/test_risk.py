"""The Risk page and API (limits, headroom, re-arm) and the audit log page and API (``flask risk status|rearm``
are in tests/app/cli/test_risk.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from riskmgr import create_app
from riskmgr.accounts.monitor import poll_cycle
from riskmgr.core.domain import TradingState
from riskmgr.persistence.extensions import db
from riskmgr.risk.config import RiskLimits
from tests.conftest import API_TOKEN, csrf_from, login, make_settings
from tests.fakes import balance, long_btc
from tests.risk.test_pretrade import FakeWithTrades

D = Decimal
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def rows(view: dict, account: str) -> dict:
    [entry] = [a for a in view["accounts"] if a["account"] == account]
    return {r["rule"]: r for r in entry["rules"]}


# -- GET /api/risk -----------------------------------------------------------------------------------------------
def test_risk_view_lists_every_limit_with_unit_range_help_and_value(api):
    body = api.get("/api/risk").get_json()

    leverage = next(f for f in body["fields"] if f["name"] == "max_leverage")
    assert (leverage["value"], leverage["unit"], leverage["allowed"], leverage["changed"]) == (5, "x", "1–125 x", False)
    assert leverage["help"] == "Leverage setting and account notional / equity."
    assert len(body["fields"]) == len(RiskLimits().to_dict()) and body["limits"]["risk_per_trade_pct"] == "1.5"
    assert body["trading_state"]["state"] == "ACTIVE" and body["trading_state"]["reason"] == "initial state"


def test_risk_view_before_any_read_marks_every_rule_unknown_or_breached(api):
    [account] = api.get("/api/risk").get_json()["accounts"]

    assert {r["rule"]: r["status"] for r in account["rules"]} == {
        "data_fresh": "breached", "daily_loss": "unknown", "drawdown": "unknown", "max_open_positions": "unknown",
        "max_leverage": "unknown", "consecutive_losses": "ok",
    }
    assert account["error"] == "not polled yet"


def test_risk_view_gives_the_headroom_of_a_fresh_account(api, runtime):
    poll_cycle(runtime)

    r = rows(api.get("/api/risk").get_json(), "paper")

    assert (r["daily_loss"]["status"], r["daily_loss"]["used"], r["daily_loss"]["headroom"]) == ("ok", "0", "300")
    assert (r["drawdown"]["headroom"], r["drawdown"]["headroom_unit"]) == ("400", "USDT to REDUCING")
    assert (r["max_open_positions"]["used"], r["max_open_positions"]["limit"]) == ("0", "5")
    assert (r["data_fresh"]["status"], r["data_fresh"]["used"]) == ("ok", "0")
    assert (r["consecutive_losses"]["used"], r["consecutive_losses"]["limit"]) == ("0", "3")


@pytest.fixture
def fake():
    return FakeWithTrades("a", "1000")


@pytest.fixture
def fake_app(tmp_path, clock, fake):
    app = create_app(make_settings(tmp_path, extra={"clock": clock, "adapters": {"a": fake}}))
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.engine.dispose()


def test_risk_view_shows_the_daily_loss_reached_and_the_drawdown_tier(fake_app, fake, clock):
    rt = fake_app.extensions["riskmgr"]
    poll_cycle(rt)
    fake.balance = balance("965")
    fake.positions = [long_btc(size="0.01", mark="48250")]
    clock.advance(5)
    poll_cycle(rt)

    r = rows(fake_app.test_client().get("/api/risk", headers=AUTH).get_json(), "a")

    # 1000 -> 965: 3.5 % down on the day (limit 3 %: 30 USDT allowed, 5 beyond)
    # and from the peak (warn 3 %, REDUCING 4 % at 960: 5 USDT left)
    assert (r["daily_loss"]["status"], r["daily_loss"]["used"]) == ("breached", "3.5")
    assert r["daily_loss"]["headroom"] == "-5"
    assert r["daily_loss"]["detail"].endswith("new risk resumes at 2026-11-21 00:00:00 UTC")
    assert (r["drawdown"]["status"], r["drawdown"]["used"], r["drawdown"]["headroom"]) == ("warn", "3.5", "5")
    assert (r["max_leverage"]["used"], r["max_leverage"]["headroom"]) == ("0.5", "4342.5")
    assert r["max_open_positions"]["used"] == "1"


def test_risk_view_shows_a_failed_read_as_stale(fake_app, fake, clock):
    from riskmgr.core.errors import TemporaryError

    rt = fake_app.extensions["riskmgr"]
    poll_cycle(rt)
    fake.fail_with = TemporaryError("timeout", account="a", operation="fetch_balance")
    clock.advance(5)
    poll_cycle(rt)

    fresh = rows(fake_app.test_client().get("/api/risk", headers=AUTH).get_json(), "a")["data_fresh"]

    assert fresh["status"] == "breached" and fresh["detail"] == "stale: fetch_balance: timeout"


# -- PUT /api/risk/limits ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"max_leverage": 200}, "max_leverage", "200 is out of range; allowed 1–125 x"),
        ({"risk_per_trade_pct": "abc"}, "risk_per_trade_pct", "'abc' is not a number; allowed 0.01–10 %"),
        ({"partial_tp_enabled": "maybe"}, "partial_tp_enabled", "'maybe' is not a boolean; allowed true or false"),
        ({"daily_loss_limit_pct": "6"}, "daily_loss_limit_pct",
         "daily loss limit 6 % must be below the max drawdown 5 %"),
        ({"max_drawdown_pct": "3.5"}, "drawdown_reducing_pct",
         "REDUCING tier 4 % must be below the max drawdown 3.5 % (HALTED)"),
        ({"no_such_limit": 1}, "no_such_limit", None),
        ({}, "limits", "no change given"),
    ],
)
def test_limits_put_with_bad_input_is_a_400_naming_the_field_and_range(api, runtime, changes, field, message):
    response = api.put("/api/risk/limits", json=changes)

    assert response.status_code == 400
    detail = response.get_json()["detail"]
    assert detail["field"] == field
    if message is not None:
        assert detail["message"] == message
    assert runtime.limits() == RiskLimits() and runtime.audit.query(kind="limits.change") == []


def test_limits_put_body_must_be_a_json_object(api):
    response = api.put("/api/risk/limits", json=[1, 2])

    assert response.status_code == 400 and response.get_json()["detail"]["field"] == "body"


def test_limits_put_applies_validated_changes_and_audits_old_and_new(api, runtime):
    response = api.put("/api/risk/limits", json={"max_leverage": 3, "risk_per_trade_pct": "1"})

    assert response.status_code == 200
    assert response.get_json()["changed"] == {"risk_per_trade_pct": {"old": "1.5", "new": "1"},
                                              "max_leverage": {"old": 5, "new": 3}}
    assert (runtime.limits().max_leverage, runtime.limits().risk_per_trade_pct) == (3, D(1))
    [event] = runtime.audit.query(kind="limits.change")
    assert event["actor"] == "api-token"
    assert event["data"]["changes"]["max_leverage"] == {"old": 5, "new": 3}


def test_limit_changes_persist_across_a_new_app_on_the_same_database(api, settings):
    api.put("/api/risk/limits", json={"max_open_positions": 2})

    second = create_app(settings)

    assert second.extensions["riskmgr"].limits().max_open_positions == 2
    row = next(f for f in second.test_client().get("/api/risk", headers=AUTH).get_json()["fields"]
               if f["name"] == "max_open_positions")
    assert (row["value"], row["environment"], row["changed"]) == (2, 5, True)


def test_a_stored_change_that_no_longer_fits_the_environment_is_shown_and_can_be_repaired(api, tmp_path, clock):
    api.put("/api/risk/limits", json={"drawdown_reducing_pct": "4.5"})
    stricter = RiskLimits(max_drawdown_pct=D("4.2"))
    app = create_app(make_settings(tmp_path, risk_limits=stricter, extra={"clock": clock}))
    client = app.test_client()

    broken = client.get("/api/risk", headers=AUTH).get_json()
    repaired = client.put("/api/risk/limits", json={"drawdown_reducing_pct": "4"}, headers=AUTH)

    assert "drawdown_reducing_pct" in broken["limits_error"] and broken["limits"] is None
    assert repaired.status_code == 200
    assert app.extensions["riskmgr"].limits().drawdown_reducing_pct == D(4)


def test_changed_limits_take_effect_in_the_gate_at_once(api, runtime):
    poll_cycle(runtime)
    api.put("/api/risk/limits", json={"max_leverage": 2})
    body = {"account": "paper", "symbol": "BTC/USDT:USDT", "type": "limit", "side": "buy", "price": "30000",
            "qty": "0.01", "stop_loss": "29000", "take_profit": "32000", "leverage": "3"}

    response = api.post("/api/orders", json=body)

    assert response.status_code == 409
    assert {"allowed": False, "rule": "max_leverage", "label": "Maximum leverage",
            "reason": "leverage 3x is above the limit 2x"} in (
        response.get_json()["entry"]["verdicts"])


# -- POST /api/rearm ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("body", [{}, {"reason": "   "}, {"reason": 7}])
def test_rearm_without_a_reason_is_a_400_and_changes_nothing(api, runtime, body):
    runtime.trading.escalate(TradingState.HALTED, "daily loss", "engine")

    response = api.post("/api/rearm", json=body)

    assert response.status_code == 400 and response.get_json()["detail"]["field"] == "reason"
    assert runtime.trading.current().state is TradingState.HALTED


def test_rearm_returns_to_active_audits_the_reason_and_emits_the_state_change(api, runtime):
    runtime.trading.escalate(TradingState.HALTED, "daily loss", "engine")
    seen = []
    runtime.events.subscribe(seen.append)

    response = api.post("/api/rearm", json={"reason": "checked the positions"})

    assert response.status_code == 200
    assert response.get_json()["previous"] == "HALTED" and response.get_json()["trading_state"]["state"] == "ACTIVE"
    [event] = runtime.audit.query(kind="state.rearm")
    assert (event["actor"], event["data"]["reason"]) == ("api-token", "checked the positions")
    assert [(e.kind, e.data["to"]) for e in seen] == [("state.changed", "ACTIVE")]


def test_rearm_when_already_active_is_a_400(api):
    response = api.post("/api/rearm", json={"reason": "x"})

    assert response.status_code == 400 and response.get_json()["detail"]["field"] == "state"


def test_rearm_from_the_page_session_needs_the_csrf_token(client, runtime):
    runtime.trading.escalate(TradingState.REDUCING, "drawdown", "engine")
    login(client)
    token = csrf_from(client, "/risk")

    refused = client.post("/api/rearm", json={"reason": "ok"})
    accepted = client.post("/api/rearm", json={"reason": "ok"}, headers={"X-CSRFToken": token})

    assert refused.status_code == 400 and refused.get_json()["error"] == "csrf"
    assert accepted.status_code == 200
    assert runtime.audit.query(kind="state.rearm")[0]["actor"] == "operator"


# -- pages -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "script"), [("/risk", "js/risk.js"), ("/audit", "js/audit.js")])
def test_pages_render_for_the_operator_with_their_script_and_nav(client, path, script):
    login(client)

    page = client.get(path).get_data(as_text=True)

    assert script in page and 'href="/risk">Risk</a>' in page and 'href="/audit">Audit</a>' in page


def test_pages_require_a_login(client):
    assert client.get("/risk").status_code == 302 and client.get("/audit").status_code == 302


# -- GET /api/audit ----------------------------------------------------------------------------------------------
@pytest.fixture
def events(runtime, clock):
    """Five events a minute apart: two limit changes, a denied order on paper, a state change, a sent order."""
    for kind, account in (("limits.change", None), ("order.denied", "paper"), ("state.change", None),
                          ("order.sent", "paper"), ("limits.change", None)):
        runtime.audit.record(kind, "t", f"{kind} at {clock.now():%H:%M}", account=account)
        clock.advance(60)
    return runtime


def messages(response) -> list[str]:
    return [e["message"] for e in response.get_json()["events"]]


def test_audit_lists_events_newest_first(api, events):
    assert messages(api.get("/api/audit")) == [
        "limits.change at 12:04", "order.sent at 12:03", "state.change at 12:02", "order.denied at 12:01",
        "limits.change at 12:00",
    ]


def test_audit_filters_by_kind_prefix_account_and_time(api, events):
    assert messages(api.get("/api/audit?kind=order")) == ["order.sent at 12:03", "order.denied at 12:01"]
    assert messages(api.get("/api/audit?account=paper&kind=order.denied")) == ["order.denied at 12:01"]
    since, until = "2026-11-20T12:01:00Z", "2026-11-20T13:02:00%2B01:00"
    assert messages(api.get(f"/api/audit?since={since}&until={until}")) == [
        "state.change at 12:02", "order.denied at 12:01"]


def test_audit_pages_with_the_id_cursor(api, events):
    first = api.get("/api/audit?limit=2").get_json()
    second = api.get(f"/api/audit?limit=2&before={first['next_before']}").get_json()
    last = api.get(f"/api/audit?limit=2&before={second['next_before']}").get_json()

    assert [len(p["events"]) for p in (first, second, last)] == [2, 2, 1]
    assert (first["more"], second["more"], last["more"], last["next_before"]) == (True, True, False, None)
    assert last["events"][0]["message"] == "limits.change at 12:00"


@pytest.mark.parametrize(
    ("query", "field"),
    [("since=yesterday", "since"), ("until=soon", "until"), ("limit=0", "limit"), ("limit=5000", "limit"),
     ("limit=ten", "limit"), ("before=-1", "before"),
     ("since=2026-11-20T13:00:00Z&until=2026-11-20T12:00:00Z", "until")],
)
def test_audit_with_bad_input_is_a_400_naming_the_field(api, query, field):
    response = api.get(f"/api/audit?{query}")

    assert response.status_code == 400 and response.get_json()["detail"]["field"] == field


def test_audit_lists_the_kinds_recorded(api, events):
    assert api.get("/api/audit").get_json()["kinds"] == ["limits.change", "order.denied", "order.sent", "state.change"]
