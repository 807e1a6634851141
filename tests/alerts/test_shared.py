"""Alert state shared by every process through the database: stale episodes, de-duplication, the rate limit.

Each test builds two apps on one database — two web workers, two machines, or two Celery workers — and shows
that what one of them did counts for the other.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from riskmgr import create_app
from riskmgr.accounts.monitor import poll_cycle
from riskmgr.alerts import feature as alerts
from riskmgr.alerts.channels import Alert
from riskmgr.alerts.feature import AlertsFeature
from riskmgr.alerts.settings import AlertSettings
from riskmgr.core.errors import MalformedResponseError
from riskmgr.persistence.extensions import db
from tests.conftest import make_settings
from tests.fakes import ReadOnlyFake


@pytest.fixture
def two(tmp_path, clock):
    """Return a factory of two apps (processes) on one database with the given alert settings and adapters."""
    made = []

    def make(alert_settings: AlertSettings, adapters=None):
        pair = []
        for _ in range(2):
            extra = {"clock": clock, **({"adapters": adapters} if adapters else {})}
            features = {"alerts": alert_settings}
            app = create_app(make_settings(tmp_path, extra=extra, feature_settings=features))
            with app.app_context():
                db.create_all()
            made.append(app)
            pair.append(app)
        return pair

    yield make
    for app in made:
        _dispatcher(app).queue.drain(10)
        with app.app_context():
            db.engine.dispose()


def _dispatcher(app):
    return app.extensions["riskmgr"].feature(AlertsFeature).dispatcher


def _statuses(app) -> list[tuple[str, str]]:
    return [(h["kind"], h["status"]) for h in reversed(_dispatcher(app).history())]


def test_a_stale_episode_begun_in_one_process_is_continued_and_alerted_once_by_another(two, clock):
    fake = ReadOnlyFake("acct")
    a, b = two(AlertSettings(stale_seconds=30), adapters={"acct": fake})
    ra, rb = a.extensions["riskmgr"], b.extensions["riskmgr"]
    poll_cycle(ra, [alerts.poll_hook])
    fake.fail_with = MalformedResponseError("unreadable answer")
    for runtime in (ra, rb, ra, rb):  # the polls alternate between the two processes: 10, 20, 30, 40 s
        clock.advance(10)
        poll_cycle(runtime, [alerts.poll_hook])
    for app in (a, b):
        assert _dispatcher(app).queue.drain(10)
    stale = [s for s in _statuses(a) if s[0] == "account.stale"]  # the history is the shared table
    assert len(stale) == 1  # one episode, one alert, whichever process saw the 30 s pass


def test_an_identical_alert_sent_by_another_process_within_the_window_is_held_back(two, clock):
    a, b = two(AlertSettings(dedup_seconds=300))
    alert = Alert("signal.executed", "acct: BTC long opened", clock.now(), "acct")
    _dispatcher(a).deliver(alert)
    _dispatcher(b).deliver(Alert(alert.kind, alert.message, clock.now() + timedelta(seconds=60), "acct"))
    assert len(_dispatcher(a).history()) == 1  # only the first went out
    clock.advance(400)
    _dispatcher(b).deliver(Alert(alert.kind, alert.message, clock.now(), "acct"))
    [latest, first] = _dispatcher(a).history()
    assert latest["repeats"] == 1 and first["repeats"] == 0  # the held copy is counted on the next one


def test_the_rate_limit_counts_the_alerts_every_process_sent(two, clock):
    a, b = two(AlertSettings(rate_limit=3, rate_window_seconds=60, dedup_seconds=0))
    for i in range(3):
        _dispatcher(a).deliver(Alert("signal.executed", f"a{i}", clock.now(), "acct"))
    _dispatcher(b).deliver(Alert("signal.executed", "b0", clock.now(), "acct"))
    assert [s for _, s in _statuses(b)][-1] == "rate_limited"
    clock.advance(61)
    _dispatcher(b).deliver(Alert("signal.executed", "b1", clock.now(), "acct"))
    assert [s for _, s in _statuses(b)][-1] == "logged"
