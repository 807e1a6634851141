"""The poller's heartbeat from the poll-run records, and a stopped poller as one alert per outage."""

from datetime import UTC, datetime

import pytest

from riskmgr import create_app
from riskmgr.accounts import liveness
from riskmgr.accounts.monitor import poll_cycle
from riskmgr.alerts.feature import AlertsFeature
from riskmgr.app import features
from riskmgr.persistence.extensions import db
from riskmgr.web.auth import ensure_admin_credentials
from tests.conftest import API_TOKEN, make_settings
from tests.fakes import ReadOnlyFake

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture
def app(tmp_path, clock):
    fakes = {"a": ReadOnlyFake("a", "1000")}
    app = create_app(make_settings(tmp_path, extra={"clock": clock, "adapters": fakes}))
    with app.app_context():
        db.create_all()
    ensure_admin_credentials(app)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def rt(app):
    return app.extensions["riskmgr"]


@pytest.fixture
def emitted(rt):
    seen = []
    rt.events.subscribe(lambda e: seen.append(e) if e.kind.startswith("poller.") else None)
    return seen


def test_heartbeat_before_any_cycle_says_never(rt):
    beat = liveness.heartbeat(rt)
    assert beat["state"] == "never" and beat["last_started_at"] is None


def test_heartbeat_shows_the_last_cycle_start_end_and_accounts(rt, clock):
    poll_cycle(rt)
    started = clock.now()
    clock.advance(4)
    beat = liveness.heartbeat(rt)
    assert beat["state"] == "running" and beat["last_started_at"] == started.isoformat()
    assert beat["last_finished_at"] is not None and beat["accounts_ok"] == 1 and beat["age_seconds"] == 4


def test_poller_counts_as_stopped_after_n_intervals_plus_the_fetch_timeout(rt, clock):
    poll_cycle(rt)
    limit = liveness.stopped_after_seconds(rt)
    assert limit == 3 * rt.settings.poll_seconds + rt.settings.fetch_timeout_seconds
    clock.advance(limit)
    assert liveness.heartbeat(rt)["state"] == "running"
    clock.advance(1)
    beat = liveness.heartbeat(rt)
    assert beat["state"] == "stopped" and "no poll cycle since 12:00:00 UTC" in beat["message"]


def test_stopped_poller_alerts_and_audits_once_per_outage(rt, clock, emitted):
    poll_cycle(rt)
    clock.advance(liveness.stopped_after_seconds(rt) + 1)
    liveness.check(rt)
    clock.advance(30)
    liveness.check(rt)  # still the same outage: no second alert
    assert [e.kind for e in emitted] == ["poller.stopped"]
    assert [e["kind"] for e in rt.audit.query(kind="poller.stopped")] == ["poller.stopped"]


def test_first_cycle_after_an_outage_announces_the_recovery_once(rt, clock, emitted):
    poll_cycle(rt)
    clock.advance(liveness.stopped_after_seconds(rt) + 1)
    liveness.check(rt)
    poll_cycle(rt, features.poll_hooks())
    clock.advance(5)
    poll_cycle(rt, features.poll_hooks())
    assert [e.kind for e in emitted] == ["poller.stopped", "poller.recovered"]


def test_a_running_poller_never_alerts(rt, clock, emitted):
    for _ in range(5):
        poll_cycle(rt, features.poll_hooks())
        liveness.check(rt)
        clock.advance(rt.settings.poll_seconds)
    assert emitted == []


def test_the_date_is_named_when_the_last_cycle_was_not_today(rt, clock):
    clock.set(datetime(2026, 11, 20, 23, 59, 0, tzinfo=UTC))
    poll_cycle(rt)
    clock.set(datetime(2026, 11, 21, 0, 10, 0, tzinfo=UTC))
    assert "no poll cycle since 2026-11-20 23:59:00 UTC" in liveness.heartbeat(rt)["message"]


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


def test_cli_poller_status_fails_when_the_poller_is_stopped(app, rt, clock):
    runner = app.test_cli_runner()
    poll_cycle(rt)
    ok = runner.invoke(args=["poller", "status"])
    assert ok.exit_code == 0 and ok.output.startswith("running:")
    clock.advance(600)
    stopped = runner.invoke(args=["poller", "status"])
    assert stopped.exit_code != 0 and "poller stopped" in stopped.output


def test_every_page_carries_the_liveness_banners_and_limits(app, rt):
    from tests.conftest import login

    client = app.test_client()
    login(client)
    for path in ("/", "/accounts", "/trade", "/risk"):
        page = client.get(path).get_data(as_text=True)
        assert 'id="connection-banner"' in page and 'id="poller-banner"' in page, path
        assert 'data-stale-after="30"' in page and "js/liveness.js" in page, path
        assert page.index('id="emergency-button"') < page.index('id="nav"'), f"{path}: kill switch in the menu"


def test_stopped_poller_reaches_the_alert_channels_once(rt, clock):
    dispatcher = rt.feature(AlertsFeature).dispatcher
    poll_cycle(rt)
    clock.advance(liveness.stopped_after_seconds(rt) + 1)
    liveness.check(rt)
    clock.advance(60)
    liveness.check(rt)
    assert dispatcher.queue.drain(10)
    sent = [a for a in dispatcher.history() if a["kind"] == "poller.stopped"]
    assert len(sent) == 1 and "no poll cycle since" in sent[0]["message"]
