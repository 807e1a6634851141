"""The Accounts page and its API: each account, the sum, the watchdog, and the self-test button's API."""

from __future__ import annotations

import pytest

from tests.accounts.test_registry import STEPS
from tests.conftest import login


def test_selftest_api_on_a_fresh_app_passes_every_rule_and_answers_each_step(api):
    res = api.post("/api/accounts/paper/selftest")

    assert res.status_code == 200
    body = res.get_json()
    assert body["ok"] is True, body
    assert [s["name"] for s in body["steps"]] == STEPS and all("ms" in s for s in body["steps"])


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/accounts/nosuch/selftest", None, "account"),
    ("/api/accounts/paper/selftest", {"symbol": "btcusdt"}, "symbol"),
])
def test_selftest_api_refuses_bad_input_naming_the_field(api, path, body, field):
    res = api.post(path, json=body) if body is not None else api.post(path)

    assert res.status_code == 400
    assert res.get_json()["detail"]["field"] == field


def test_accounts_api_lists_each_account_the_sum_and_the_watchdog(api):
    body = api.get("/api/accounts").get_json()

    [paper] = body["accounts"]
    assert (paper["name"], paper["exchange"], paper["mode"], paper["status"]) == ("paper", "paper", "paper", "error")
    assert paper["data_age_seconds"] is None and paper["error"] == "not polled yet"
    assert body["totals"]["accounts_included"] == 0
    assert body["unprotected"] == []
    assert set(body["watchdog"]["counts"]) == {"detected", "placed", "restored", "failed", "escalated",
                                               "wrong_side", "deferred"}


def test_accounts_page_is_in_the_navigation_and_loads_its_script(client):
    login(client)

    page = client.get("/accounts").get_data(as_text=True)

    assert 'href="/accounts"' in page and "js/accounts.js" in page
    assert "Run the self-test?" in page and "buy limit order" in page
