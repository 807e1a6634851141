"""The emergency stop's web surfaces: POST/GET /api/emergency-stop, the /emergency panel and the red button on every
page (``flask risk emergency-stop`` is in tests/app/cli/test_risk.py)."""

from __future__ import annotations

import pytest

from riskmgr.core.domain import TradingState
from riskmgr.risk.emergency.feature import service
from tests.conftest import API_TOKEN, login
from tests.risk.emergency.test_sequence import ACCOUNTS, SYMBOLS, _dispose, build_world

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture
def world(tmp_path, clock):
    w = build_world(tmp_path, clock, rate=0.0)
    yield w
    _dispose(w)


@pytest.fixture
def client(world):
    return world.apps[0].test_client()


def test_post_without_a_reason_is_refused_naming_the_field_and_starts_nothing(world, client):
    for body in ({}, {"reason": "   "}, {"reason": 42}):
        answer = client.post("/api/emergency-stop", json=body, headers=AUTH)
        assert answer.status_code == 400
        assert answer.get_json()["detail"]["field"] == "reason"
    assert client.get("/api/emergency-stop", headers=AUTH).get_json()["status"] == "none"
    assert world.rt.trading.current().state is TradingState.ACTIVE


def test_a_too_long_reason_is_refused_with_the_allowed_range(client):
    answer = client.post("/api/emergency-stop", json={"reason": "x" * 501}, headers=AUTH)

    assert answer.status_code == 400
    assert answer.get_json()["detail"] == {"field": "reason", "message": "is 501 characters long; allowed 1–500"}


def test_post_answers_202_with_the_id_and_get_shows_steps_orders_and_nothing_left(world, client):
    answer = client.post("/api/emergency-stop", json={"reason": "api drill"}, headers=AUTH)

    assert answer.status_code == 202
    body = answer.get_json()
    assert body["already_running"] is False
    service(world.rt).wait(body["id"], timeout=60)
    view = client.get("/api/emergency-stop", headers=AUTH).get_json()
    assert view["id"] == body["id"] and view["status"] == "flat" and view["running"] is False
    assert view["trigger"] == "api" and view["actor"] == "api-token" and view["reason"] == "api drill"
    assert [s["number"] for s in view["steps"]] == [1, 2, 3, 4, 5, 6]
    assert all(s["started_at"] and s["finished_at"] for s in view["steps"])
    assert len([o for o in view["orders"] if o["action"] == "close" and o["ok"]]) == len(ACCOUNTS) * len(SYMBOLS)
    assert view["left_open"] == [] and view["history"][0]["id"] == body["id"]


def test_post_while_a_sequence_runs_joins_it(world, client):
    running = service(world.rt).begin("first trigger", actor="tester", trigger="test")

    answer = client.post("/api/emergency-stop", json={"reason": "second trigger"}, headers=AUTH)

    assert answer.status_code == 202
    assert answer.get_json()["id"] == running.id and answer.get_json()["already_running"] is True
    assert service(world.rt).run(running.id) == "flat"


def test_a_past_sequence_can_be_read_by_id_and_an_unknown_id_is_404(world, client):
    svc = service(world.rt)
    first = svc.start("first", actor="tester", trigger="test").id
    svc.wait(first, timeout=60)
    svc.wait(svc.start("second", actor="tester", trigger="test").id, timeout=60)

    assert client.get(f"/api/emergency-stop/{first}", headers=AUTH).get_json()["reason"] == "first"
    assert client.get("/api/emergency-stop/9999", headers=AUTH).status_code == 404


def test_a_session_post_needs_the_csrf_token(world, client):
    login(client)
    token = client.get("/emergency").get_data(as_text=True).split('name="csrf-token" content="')[1].split('"')[0]

    refused = client.post("/api/emergency-stop", json={"reason": "no token"})
    accepted = client.post("/api/emergency-stop", json={"reason": "button"}, headers={"X-CSRFToken": token})

    assert refused.status_code == 400
    assert accepted.status_code == 202
    view = service(world.rt).wait(accepted.get_json()["id"], timeout=60)
    assert view["trigger"] == "manual" and view["actor"] == "operator"


def test_the_panel_page_and_the_red_button_with_its_dialog_are_on_every_page(client):
    login(client)

    panel = client.get("/emergency").get_data(as_text=True)
    dashboard = client.get("/").get_data(as_text=True)

    assert 'id="emergency-panel"' in panel and 'href="/emergency"' in panel
    for page in (panel, dashboard):
        assert 'id="emergency-button"' in page and "js/emergency.js" in page
        assert "alpha, beta, gamma" in page
        assert "stays <strong>HALTED</strong> until you re-arm it" in page
        assert 'id="emergency-reason"' in page


def test_pages_need_a_login(client):
    assert client.get("/emergency").status_code == 302
    assert client.get("/api/emergency-stop").status_code == 401
