"""Rendered page shells come from the cache only while their whole context is unchanged."""

from __future__ import annotations

from riskmgr.core.domain import TradingState
from tests.conftest import login


def _dashboard(client) -> str:
    response = client.get("/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_same_page_for_the_same_context_is_rendered_once(app, client):
    login(client)
    cache = app.extensions["page_cache"]
    first = _dashboard(client)
    misses = cache.misses
    second = _dashboard(client)
    assert second == first
    assert cache.misses == misses and cache.hits >= 1


def test_a_trading_state_change_shows_on_the_very_next_page(app, client, runtime):
    login(client)
    assert "Trading ACTIVE" in _dashboard(client)
    runtime.trading.escalate(TradingState.HALTED, "operator test", by="test")
    page = _dashboard(client)
    assert "Trading HALTED" in page and "operator test" in page


def test_each_session_gets_its_own_csrf_token(app):
    a, b = app.test_client(), app.test_client()
    login(a)
    login(b)
    import re

    token = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
    assert token.search(_dashboard(a)).group(1) != token.search(_dashboard(b)).group(1)


def test_the_cached_token_still_passes_the_csrf_check(app, client):
    login(client)
    _dashboard(client)
    import re

    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', _dashboard(client)).group(1)
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code in (302, 303)


def test_a_page_with_a_flashed_message_is_rendered_and_shows_it(app, client):
    login(client)
    _dashboard(client)

    with client.session_transaction() as session:
        session["_flashes"] = [("warning", "something to say")]
    assert "something to say" in _dashboard(client)
    assert "something to say" not in _dashboard(client)  # shown once, then gone


def test_entries_expire(app, client, monkeypatch):
    login(client)
    cache = app.extensions["page_cache"]
    _dashboard(client)
    misses = cache.misses
    monkeypatch.setattr(cache, "_ttl", 0.0)
    _dashboard(client)
    assert cache.misses == misses + 1


def test_links_follow_the_script_root(app):
    client = app.test_client()
    login(client)
    page = client.get("/", environ_overrides={"SCRIPT_NAME": "/desk"}).get_data(as_text=True)
    assert 'href="/desk/static/css/app.css' in page
    plain = client.get("/").get_data(as_text=True)
    assert 'href="/static/css/app.css' in plain
