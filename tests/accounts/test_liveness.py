"""The poller's heartbeat from the poll-run records, and a stopped poller as one alert per outage (GET /api/liveness
and the banners are in tests/web/test_liveness.py, ``flask poller status`` in tests/app/cli/test_liveness.py)."""

from datetime import UTC, datetime

from riskmgr.accounts import liveness
from riskmgr.accounts.monitor import poll_cycle
from riskmgr.alerts.feature import AlertsFeature
from riskmgr.app import features
from tests.conftest import API_TOKEN
from tests.support import liveness as liveness_fixtures

# the liveness fixtures (one app with one read-only account), shared with the other liveness tests
app = liveness_fixtures.app
emitted = liveness_fixtures.emitted
rt = liveness_fixtures.rt

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


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
