"""Prometheus /metrics: parses with prometheus_client's own parsers, real figures only, shared counters."""

from __future__ import annotations

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from riskmgr import create_app
from riskmgr.accounts.monitor import poll_cycle
from riskmgr.alerts.feature import AlertsFeature
from riskmgr.alerts.settings import AlertSettings
from riskmgr.core.domain import TradingState
from riskmgr.core.errors import MalformedResponseError
from riskmgr.metrics.prometheus import MetricsFeature
from riskmgr.persistence.extensions import db
from tests.conftest import API_TOKEN, login, make_settings
from tests.fakes import ReadOnlyFake, long_btc

BEARER = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture
def build(tmp_path, clock):
    """Return a factory of apps on one shared database file (like several gunicorn workers)."""
    made = []

    def make(adapters=None):
        extra = {"clock": clock, **({"adapters": adapters} if adapters else {})}
        features = {"alerts": AlertSettings()}
        app = create_app(make_settings(tmp_path, extra=extra, feature_settings=features))
        with app.app_context():
            db.create_all()
        made.append(app)
        return app

    yield make
    for app in made:
        settle(app)
        with app.app_context():
            db.engine.dispose()


def settle(app):
    """Wait until the app's background writers have stored every event seen so far."""
    runtime = app.extensions["riskmgr"]
    assert runtime.feature(MetricsFeature).queue.drain(10)
    assert runtime.feature(AlertsFeature).dispatcher.queue.drain(10)


def scrape(app) -> dict[tuple[str, tuple], float]:
    """GET /metrics with the token and return {(sample name, sorted labels): value}."""
    settle(app)
    response = app.test_client().get("/metrics", headers=BEARER)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def emit(app, kind, message, account=None, data=None):
    app.extensions["riskmgr"].events.emit(kind, message, account=account, data=data)


def test_after_a_poll_the_paper_account_exports_its_real_figures(build):
    app = build()
    poll_cycle(app.extensions["riskmgr"])
    samples = scrape(app)
    assert value(samples, "riskmgr_account_up", account="paper", exchange="paper", mode="paper") == 1.0
    assert value(samples, "riskmgr_account_equity_usdt", account="paper") == 10000.0
    assert value(samples, "riskmgr_account_day_pnl_usdt", account="paper") == 0.0
    assert value(samples, "riskmgr_account_drawdown_percent", account="paper") == 0.0
    assert value(samples, "riskmgr_open_positions", account="paper") == 0.0
    assert value(samples, "riskmgr_account_last_success_timestamp_seconds", account="paper") == 1795176000.0
    assert value(samples, "riskmgr_trading_state", state="ACTIVE") == 1.0
    assert value(samples, "riskmgr_trading_state", state="HALTED") == 0.0
    assert value(samples, "riskmgr_poll_cycle_seconds_count") == 1.0


def test_account_never_read_exports_up_0_and_no_figures_at_all(build):
    samples = scrape(build())
    assert value(samples, "riskmgr_account_up", account="paper", exchange="paper", mode="paper") == 0.0
    for name in ("riskmgr_account_equity_usdt", "riskmgr_account_last_success_timestamp_seconds",
                 "riskmgr_account_day_pnl_usdt", "riskmgr_open_positions"):
        assert value(samples, name, account="paper") is None


def test_stale_account_exports_its_last_success_but_no_old_figure_as_current(build, clock):
    fakes = {"good": ReadOnlyFake("good", "2500"), "flaky": ReadOnlyFake("flaky", "400")}
    app = build(adapters=fakes)
    runtime = app.extensions["riskmgr"]
    poll_cycle(runtime)
    last_good = clock.now().timestamp()
    clock.advance(30)
    fakes["flaky"].fail_with = MalformedResponseError("unreadable answer")
    poll_cycle(runtime)
    samples = scrape(app)
    assert value(samples, "riskmgr_account_up", account="flaky", exchange="fake", mode="live") == 0.0
    assert value(samples, "riskmgr_account_last_success_timestamp_seconds", account="flaky") == last_good
    assert value(samples, "riskmgr_account_equity_usdt", account="flaky") is None
    assert value(samples, "riskmgr_open_positions", account="flaky") is None
    assert value(samples, "riskmgr_account_equity_usdt", account="good") == 2500.0


def test_position_without_a_stop_loss_counts_as_unprotected(build):
    fake = ReadOnlyFake("acct")
    fake.positions = [long_btc()]
    app = build(adapters={"acct": fake})
    poll_cycle(app.extensions["riskmgr"])
    samples = scrape(app)
    assert value(samples, "riskmgr_open_positions", account="acct") == 1.0
    assert value(samples, "riskmgr_unprotected_positions", account="acct") == 1.0


def test_exchange_errors_are_counted_by_account_and_class(build):
    app = build()
    for account, cls in (("a", "TemporaryError"), ("a", "TemporaryError"), ("a", "AuthError"), ("b", "TemporaryError")):
        emit(app, "exchange.error", f"{account}: failed", account=account, data={"error_class": cls})
    samples = scrape(app)
    assert value(samples, "riskmgr_exchange_errors_total", account="a", error_class="TemporaryError") == 2.0
    assert value(samples, "riskmgr_exchange_errors_total", account="a", error_class="AuthError") == 1.0
    assert value(samples, "riskmgr_exchange_errors_total", account="b", error_class="TemporaryError") == 1.0


def test_protection_emergency_signal_and_backtest_events_are_counted(build):
    app = build()
    assert value(scrape(app), "riskmgr_signals_taken_total") == 0.0  # a real zero before any event
    for kind, account in (("protection.missing", "paper"), ("protection.restored", "paper"),
                          ("protection.restored", "paper"), ("protection.failed", "paper"),
                          ("emergency.started", None), ("emergency.left_open", None), ("signal.produced", None),
                          ("signal.produced", None), ("signal.executed", None), ("backtest.finished", None),
                          ("risk.drawdown", "paper"), ("position.closed_by_monitor", "paper")):
        emit(app, kind, f"{kind} happened", account=account)
    samples = scrape(app)
    assert value(samples, "riskmgr_unprotected_positions_found_total", account="paper") == 1.0
    assert value(samples, "riskmgr_stops_restored_total", account="paper") == 2.0
    assert value(samples, "riskmgr_stops_failed_total", account="paper") == 1.0
    assert value(samples, "riskmgr_emergency_stops_total", outcome="started") == 1.0
    assert value(samples, "riskmgr_emergency_stops_total", outcome="left_open") == 1.0
    assert value(samples, "riskmgr_emergency_stops_total", outcome="finished_flat") == 0.0
    assert value(samples, "riskmgr_signals_produced_total") == 2.0
    assert value(samples, "riskmgr_signals_taken_total") == 1.0
    assert value(samples, "riskmgr_backtests_run_total") == 1.0
    assert value(samples, "riskmgr_risk_limit_hits_total", limit="drawdown") == 1.0
    assert value(samples, "riskmgr_positions_closed_by_monitor_total", account="paper") == 1.0


def test_trading_state_and_its_changes_follow_the_persisted_state(build):
    app = build()
    app.extensions["riskmgr"].trading.escalate(TradingState.HALTED, "emergency stop", "operator")
    samples = scrape(app)
    assert value(samples, "riskmgr_trading_state", state="HALTED") == 1.0
    assert value(samples, "riskmgr_trading_state", state="ACTIVE") == 0.0
    assert value(samples, "riskmgr_trading_state_severity") == 2.0
    assert value(samples, "riskmgr_trading_state_changes_total", to="HALTED") == 1.0
    assert value(samples, "riskmgr_alerts_total", status="logged") == 1.0  # the state change was alerted


def test_poll_cycle_durations_fill_the_histogram_buckets(build):
    app = build()
    for duration in (0.03, 0.7, 0.7, 100.0):
        emit(app, "poll.cycle", "poll", data={"duration_s": duration})
    emit(app, "poll.cycle", "poll without a duration")  # not counted rather than counted as zero
    samples = scrape(app)
    assert value(samples, "riskmgr_poll_cycle_seconds_bucket", le="0.05") == 1.0
    assert value(samples, "riskmgr_poll_cycle_seconds_bucket", le="0.5") == 1.0
    assert value(samples, "riskmgr_poll_cycle_seconds_bucket", le="1.0") == 3.0
    assert value(samples, "riskmgr_poll_cycle_seconds_bucket", le="60.0") == 3.0
    assert value(samples, "riskmgr_poll_cycle_seconds_bucket", le="+Inf") == 4.0
    assert value(samples, "riskmgr_poll_cycle_seconds_count") == 4.0
    assert value(samples, "riskmgr_poll_cycle_seconds_sum") == pytest.approx(101.43)


def test_every_worker_answers_the_same_counters_whichever_saw_the_event(build):
    poller, other = build(), build()  # two apps on one database, like two gunicorn workers
    emit(poller, "protection.failed", "no stop", account="paper")
    emit(poller, "poll.cycle", "poll", data={"duration_s": 0.2})
    settle(poller)
    samples = scrape(other)
    assert value(samples, "riskmgr_stops_failed_total", account="paper") == 1.0
    assert value(samples, "riskmgr_poll_cycle_seconds_count") == 1.0


def test_metrics_need_the_token_or_a_login(build):
    client = build().test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong-token-000000000000000"}).status_code == 401
    login(client)
    assert client.get("/metrics").status_code == 200


def test_openmetrics_is_answered_when_the_scraper_asks_for_it(build):
    app = build()
    poll_cycle(app.extensions["riskmgr"])
    settle(app)
    response = app.test_client().get("/metrics", headers={**BEARER, "Accept": "application/openmetrics-text"})
    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    names = {s.name for f in parse_openmetrics(response.get_data(as_text=True)) for s in f.samples}
    assert {"riskmgr_account_equity_usdt", "riskmgr_poll_cycle_seconds_count"} <= names
