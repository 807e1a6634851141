"""GET /api/liveness (the heartbeat; a stopped poller alerted once) and the liveness banners on every page."""

from __future__ import annotations

from riskmgr.accounts.monitor import poll_cycle
from tests.accounts.test_liveness import AUTH
from tests.conftest import login
from tests.support import liveness as liveness_fixtures

# the liveness fixtures (one app with one read-only account), shared with the other liveness tests
app = liveness_fixtures.app
emitted = liveness_fixtures.emitted
rt = liveness_fixtures.rt


def test_liveness_api_reports_the_heartbeat_and_alerts_a_stopped_poller(app, rt, clock, emitted):
    poll_cycle(rt)
    client = app.test_client()
    body = client.get("/api/liveness", headers=AUTH).get_json()
    assert body["poller"]["state"] == "running" and body["stale_after_seconds"] == 30
    clock.advance(600)
    body = client.get("/api/liveness", headers=AUTH).get_json()
    assert body["poller"]["state"] == "stopped" and [e.kind for e in emitted] == ["poller.stopped"]


def test_liveness_api_needs_a_login(app):
    assert app.test_client().get("/api/liveness").status_code == 401


def test_every_page_carries_the_liveness_banners_and_limits(app, rt):
    client = app.test_client()
    login(client)
    for path in ("/", "/accounts", "/trade", "/risk"):
        page = client.get(path).get_data(as_text=True)
        assert 'id="connection-banner"' in page and 'id="poller-banner"' in page, path
        assert 'data-stale-after="30"' in page and "js/liveness.js" in page, path
        assert page.index('id="emergency-button"') < page.index('id="nav"'), f"{path}: kill switch in the menu"
