"""Alerts: Telegram and e-mail delivery, failures recorded, de-duplication, rate limit, toggles, page, API, CLI."""

from __future__ import annotations

import json
import re
import smtplib
import threading
from typing import ClassVar

import pytest
import requests
import responses
from sqlalchemy import select
from sqlalchemy.orm import Session

from riskmgr import create_app
from riskmgr.accounts.monitor import poll_cycle
from riskmgr.alerts import channels as alerts_channels
from riskmgr.alerts import feature as alerts
from riskmgr.alerts.channels import LogChannel, TelegramChannel
from riskmgr.alerts.feature import AlertsFeature
from riskmgr.alerts.queue import BackgroundQueue
from riskmgr.alerts.settings import DEFAULT_ON, AlertSettings, settings_from_env
from riskmgr.core.domain import TradingState
from riskmgr.core.errors import ConfigError, MalformedResponseError
from riskmgr.persistence.extensions import db
from riskmgr.persistence.models import AuditEvent
from riskmgr.web.auth import ensure_admin_credentials
from tests.conftest import API_TOKEN, csrf_from, login, make_settings
from tests.fakes import ReadOnlyFake

TOKEN = "123456789:AAH-test_token_abcdefghijklmnopqrstuv"
URL = f"https://api.telegram.org/bot{TOKEN}/sendMessage"
BEARER = {"Authorization": f"Bearer {API_TOKEN}"}
OK_BODY = {"ok": True, "result": {"message_id": 1}}


def telegram(**changes) -> AlertSettings:
    base = AlertSettings(telegram_bot_token=TOKEN, telegram_chat_ids=("-1001",))
    return AlertSettings(**{**base.__dict__, **changes})


@pytest.fixture
def tg():
    """Mock the Telegram API (and refuse any other HTTP call) until the apps' queues are drained."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def build(tmp_path, clock, tg):
    """Return a factory of apps with the given alert settings (and optional fake adapters)."""
    made = []

    def make(alert_settings: AlertSettings | None = None, adapters=None):
        extra = {"clock": clock, **({"adapters": adapters} if adapters else {})}
        settings = make_settings(tmp_path, extra=extra,
                                 feature_settings={"alerts": alert_settings or AlertSettings()})
        app = create_app(settings)
        with app.app_context():
            db.create_all()
        ensure_admin_credentials(app)
        made.append(app)
        return app

    yield make
    for app in made:
        dispatcher(app).queue.drain(10)
        with app.app_context():
            db.engine.dispose()


def dispatcher(app):
    return app.extensions["riskmgr"].feature(AlertsFeature).dispatcher


def fast_retries(app):
    """Replace the Telegram channel by one that retries without waiting (same token and chats)."""
    d = dispatcher(app)
    d.channels = [LogChannel(), TelegramChannel(TOKEN, d.settings.telegram_chat_ids, 2, backoff_seconds=0)]
    return d


def emit(app, kind, message, account=None, data=None):
    app.extensions["riskmgr"].events.emit(kind, message, account=account, data=data)


def delivered(app):
    assert dispatcher(app).queue.drain(10)
    return list(reversed(dispatcher(app).history()))


def sent_texts(tg):
    return [json.loads(call.request.body)["text"] for call in tg.calls]


# --- Telegram -------------------------------------------------------------------------------------------
def test_state_change_reaches_every_chat_with_its_reason_and_is_recorded_as_sent(build, tg):
    app = build(telegram(telegram_chat_ids=("-1001", "@desk_alerts")))
    tg.post(URL, json=OK_BODY)
    app.extensions["riskmgr"].trading.escalate(TradingState.HALTED, "daily loss limit reached", "risk-engine")
    history = delivered(app)
    assert [json.loads(c.request.body)["chat_id"] for c in tg.calls] == ["-1001", "@desk_alerts"]
    assert all("daily loss limit reached" in t and "state.changed" in t for t in sent_texts(tg))
    assert [(h["kind"], h["status"]) for h in history] == [("state.changed", "sent")]
    assert history[0]["channels"]["telegram"] == {"ok": True, "error": None}


def test_telegram_500_is_retried_once_then_recorded_as_failed_and_shown_in_the_status(build, tg, api):
    app = build(telegram())
    fast_retries(app)
    tg.post(URL, status=500, json={"ok": False, "description": "Internal Server Error"})
    emit(app, "protection.failed", "BTC stop could not be placed", account="paper")
    history = delivered(app)
    assert len(tg.calls) == 2
    assert history[0]["status"] == "failed"
    assert "HTTP 500" in history[0]["error"]
    status = app.test_client().get("/api/alerts/status", headers=BEARER).get_json()
    assert status["healthy"] is False
    assert status["last_failure"]["kind"] == "protection.failed"
    assert "HTTP 500" in status["last_failure"]["error"]


def test_telegram_timeout_is_recorded_as_failed_without_the_bot_token(build, tg, caplog):
    app = build(telegram())
    fast_retries(app)
    tg.post(URL, body=requests.exceptions.ReadTimeout(f"read timed out for {URL}"))
    emit(app, "emergency.started", "emergency stop started by operator")
    history = delivered(app)
    assert history[0]["status"] == "failed"
    assert "did not answer within 2 s" in history[0]["error"]
    assert TOKEN not in json.dumps(history) and TOKEN not in caplog.text


def test_connection_error_is_described_by_class_only_because_its_text_names_the_url(build, tg, caplog):
    app = build(telegram())
    fast_retries(app)
    tg.post(URL, body=requests.exceptions.ConnectionError(f"Max retries exceeded with url: /bot{TOKEN}/sendMessage"))
    emit(app, "emergency.left_open", "1 position still open on paper")
    history = delivered(app)
    assert history[0]["error"] == "telegram: chat -1001: Telegram unreachable (ConnectionError)"
    assert TOKEN not in caplog.text


def test_refused_chat_is_not_retried_and_its_description_is_recorded(build, tg):
    app = build(telegram())
    fast_retries(app)
    tg.post(URL, status=400, json={"ok": False, "error_code": 400, "description": "Bad Request: chat not found"})
    emit(app, "protection.missing", "ETH short has no stop-loss", account="paper")
    history = delivered(app)
    assert len(tg.calls) == 1
    assert "Bad Request: chat not found" in history[0]["error"]


def test_one_failing_chat_of_two_makes_the_alert_failed_with_that_chat_named(build, tg):
    app = build(telegram(telegram_chat_ids=("-1001", "-1002")))
    fast_retries(app)
    tg.post(URL, json=OK_BODY, match=[responses.matchers.json_params_matcher({"chat_id": "-1001"}, strict_match=False)])
    tg.post(URL, status=403, json={"ok": False, "description": "Forbidden: bot was blocked by the user"},
            match=[responses.matchers.json_params_matcher({"chat_id": "-1002"}, strict_match=False)])
    emit(app, "risk.drawdown", "drawdown 4.1 % reached the warning tier", account="paper")
    history = delivered(app)
    assert history[0]["status"] == "failed"
    assert "chat -1002" in history[0]["error"] and "chat -1001" not in history[0]["error"]


def test_slow_telegram_never_blocks_the_poll_cycle(build, tg):
    fake = ReadOnlyFake("acct")
    fake.fail_with = MalformedResponseError("unreadable answer")
    app = build(telegram(stale_seconds=5), adapters={"acct": fake})
    runtime = app.extensions["riskmgr"]
    started, release = threading.Event(), threading.Event()

    def slow(request):
        started.set()
        release.wait(10)
        return 200, {}, json.dumps(OK_BODY)

    tg.add_callback(responses.POST, URL, callback=slow)
    runtime.trading.escalate(TradingState.REDUCING, "drawdown tier 2", "risk-engine")
    try:
        assert started.wait(10)
        poll_cycle(runtime, [alerts.poll_hook])
        runtime.clock.advance(10)
        poll_cycle(runtime, [alerts.poll_hook])  # the account is now stale for 10 s: an alert is queued, not sent
        # Both polls returned while the first delivery was stuck: nothing recorded yet, three alerts in hand
        # (state change in flight; exchange.error, switched off by default, and account.stale waiting).
        assert dispatcher(app).history() == []
        assert dispatcher(app).queue.stats()["pending"] == 3
    finally:
        release.set()
    assert [(h["kind"], h["status"]) for h in delivered(app)] == [("state.changed", "sent"), ("account.stale", "sent")]


def test_log_notifier_writes_every_alert_even_without_an_external_channel(build, caplog):
    app = build()
    emit(app, "protection.restored", "BTC stop-loss placed again at 48500", account="paper")
    history = delivered(app)
    assert [(h["status"], h["channels"]) for h in history] == [("logged", {"log": {"ok": True, "error": None}})]
    logged = [r for r in caplog.records if r.name == "riskmgr.alerts.feature"]
    assert len(logged) == 1 and logged[0].levelname == "WARNING"
    assert "protection.restored [paper] | BTC stop-loss placed again at 48500" in logged[0].getMessage()


def test_alert_is_still_sent_when_the_switches_cannot_be_read(build, tg):
    from riskmgr.alerts.models import AlertToggle

    app = build(telegram())
    tg.post(URL, json=OK_BODY)
    AlertToggle.__table__.drop(app.extensions["riskmgr"].engine)
    emit(app, "emergency.started", "emergency stop started")
    assert [h["status"] for h in delivered(app)] == ["sent"]


# --- de-duplication, rate limit, queue ---------------------------------------------------------------------
def test_identical_alerts_within_the_window_are_sent_once_and_the_next_says_how_many_were_held(build, tg):
    app = build(telegram(dedup_seconds=600))
    tg.post(URL, json=OK_BODY)
    for _ in range(3):
        emit(app, "protection.missing", "BTC long has no stop-loss", account="paper")
    assert len(delivered(app)) == 1
    app.extensions["riskmgr"].clock.advance(601)
    emit(app, "protection.missing", "BTC long has no stop-loss", account="paper")
    history = delivered(app)
    assert [h["repeats"] for h in history] == [0, 2]
    assert "also occurred 2 more time(s)" in sent_texts(tg)[-1]


def test_alerts_that_differ_are_not_folded_together(build, tg):
    app = build(telegram())
    tg.post(URL, json=OK_BODY)
    emit(app, "protection.missing", "BTC long has no stop-loss", account="paper")
    emit(app, "protection.missing", "BTC long has no stop-loss", account="other")
    emit(app, "protection.missing", "ETH long has no stop-loss", account="paper")
    assert len(delivered(app)) == 3


def test_rate_limit_holds_back_alerts_beyond_the_limit_but_never_critical_ones(build, tg):
    app = build(telegram(rate_limit=2, rate_window_seconds=60))
    tg.post(URL, json=OK_BODY)
    for symbol in ("BTC", "ETH", "SOL"):
        emit(app, "protection.missing", f"{symbol} long has no stop-loss", account="paper")
    emit(app, "emergency.started", "emergency stop started")
    history = delivered(app)
    assert [h["status"] for h in history] == ["sent", "sent", "rate_limited", "sent"]
    assert "more than 2 alerts within 60 s" in history[2]["error"]
    app.extensions["riskmgr"].clock.advance(61)
    emit(app, "protection.missing", "ADA long has no stop-loss", account="paper")
    assert delivered(app)[-1]["status"] == "sent"


def test_full_queue_drops_are_counted_and_recorded_once_delivery_resumes(build, tg):
    app = build(telegram(queue_size=10))
    started, release = threading.Event(), threading.Event()

    def slow(request):
        started.set()
        release.wait(10)
        return 200, {}, json.dumps(OK_BODY)

    tg.add_callback(responses.POST, URL, callback=slow)
    emit(app, "emergency.started", "first")
    try:
        assert started.wait(10)
        for n in range(11):  # ten fit in the queue, the eleventh does not
            emit(app, "emergency.started", f"alert {n}")
        assert dispatcher(app).queue.stats()["dropped"] == 1
    finally:
        release.set()
    dropped = [h for h in delivered(app) if h["status"] == "dropped"]
    assert [h["message"] for h in dropped] == ["1 alert(s) were dropped because the delivery queue was full"]


def test_a_failing_item_does_not_stop_the_queue_worker():
    seen = []

    def handle(item):
        if item == "bad":
            raise RuntimeError("boom")
        seen.append(item)

    q = BackgroundQueue("t", handle, maxsize=5)
    for item in ("a", "bad", "b"):
        q.put(item)
    assert q.drain(10)
    assert seen == ["a", "b"]


# --- toggles ---------------------------------------------------------------------------------------------
def test_kind_switched_off_on_the_page_is_not_sent_and_the_change_is_audited(build, tg):
    app = build(telegram())
    client = app.test_client()
    response = client.put("/api/alerts/toggles", json={"kind": "protection.missing", "enabled": False}, headers=BEARER)
    assert response.status_code == 200
    emit(app, "protection.missing", "BTC long has no stop-loss", account="paper")
    assert delivered(app) == [] and len(tg.calls) == 0
    with Session(app.extensions["riskmgr"].engine) as session:
        audit = session.scalars(select(AuditEvent).where(AuditEvent.kind == "alerts.toggle")).all()
    assert [(a.actor, a.data) for a in audit] == [("api-token", {"kind": "protection.missing", "enabled": False})]


def test_alert_events_setting_is_the_default_and_the_page_can_switch_a_kind_on(build, tg):
    app = build(telegram(events=("state.changed",)))
    tg.post(URL, json=OK_BODY)
    emit(app, "protection.missing", "BTC long has no stop-loss", account="paper")
    assert delivered(app) == []
    client = app.test_client()
    toggles = client.put("/api/alerts/toggles", json={"kind": "protection.missing", "enabled": True},
                         headers=BEARER).get_json()["toggles"]
    row = next(t for t in toggles if t["kind"] == "protection.missing")
    assert (row["enabled"], row["default"], row["overridden"]) == (True, False, True)
    emit(app, "protection.missing", "ETH long has no stop-loss", account="paper")
    assert [h["status"] for h in delivered(app)] == ["sent"]


def test_poll_heartbeat_is_never_an_alert(build, tg):
    app = build(telegram(events=tuple(k for k in DEFAULT_ON)))
    emit(app, "poll.cycle", "poll took 0.1 s", data={"duration_s": 0.1})
    assert delivered(app) == []
    assert "poll.cycle" not in [t["kind"] for t in dispatcher(app).toggles()]


@pytest.mark.parametrize(
    ("body", "field"),
    [({"kind": "nope", "enabled": True}, "kind"), ({"kind": "state.changed", "enabled": "yes"}, "enabled"),
     ({"kind": "state.changed"}, "enabled"), ([], "body")],
)
def test_toggle_with_bad_input_is_a_400_naming_the_field_and_changes_nothing(build, body, field):
    app = build()
    client = app.test_client()
    response = client.put("/api/alerts/toggles", json=body, headers=BEARER)
    assert response.status_code == 400
    assert response.get_json()["detail"]["field"] == field
    assert not any(t["overridden"] for t in dispatcher(app).toggles())


@pytest.mark.parametrize(("query", "field"), [("status=weird", "status"), ("limit=0", "limit"), ("limit=x", "limit")])
def test_history_with_bad_input_is_a_400_naming_the_field(build, query, field):
    response = build().test_client().get(f"/api/alerts?{query}", headers=BEARER)
    assert response.status_code == 400
    assert response.get_json()["detail"]["field"] == field


# --- e-mail ----------------------------------------------------------------------------------------------
class FakeSMTP:
    """Records what smtplib would have done; fails login when told to."""

    made: ClassVar[list[FakeSMTP]] = []
    refuse_login = False

    def __init__(self, host, port, timeout):
        self.host, self.port, self.timeout = host, port, timeout
        self.calls: list = []
        self.sent: list = []
        FakeSMTP.made.append(self)

    def starttls(self, context=None):
        self.calls.append("starttls")

    def login(self, user, password):
        self.calls.append(("login", user))
        if FakeSMTP.refuse_login:
            raise smtplib.SMTPAuthenticationError(535, b"5.7.8 Username and Password not accepted")

    def send_message(self, message):
        self.calls.append("send")
        self.sent.append(message)

    def close(self):
        self.calls.append("close")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


EMAIL = AlertSettings(smtp_host="smtp.example.com", smtp_port=587, smtp_user="bot@example.com",
                      smtp_password="smtp-pass-9876", smtp_from="bot@example.com", email_to=("me@example.com",))


@pytest.fixture
def fake_smtp(monkeypatch):
    FakeSMTP.made, FakeSMTP.refuse_login = [], False
    monkeypatch.setattr(alerts_channels.smtplib, "SMTP", FakeSMTP)
    return FakeSMTP


def test_email_goes_out_over_starttls_with_login_and_the_same_text(build, fake_smtp):
    app = build(EMAIL)
    emit(app, "emergency.finished", "emergency stop finished: every account flat")
    history = delivered(app)
    server = fake_smtp.made[0]
    assert (server.host, server.port, server.timeout) == ("smtp.example.com", 587, 10)
    assert server.calls == ["starttls", ("login", "bot@example.com"), "send", "close"]
    message = server.sent[0]
    assert message["To"] == "me@example.com" and message["Subject"] == "riskmgr CRITICAL: emergency.finished"
    assert "every account flat" in message.get_content()
    assert history[0]["status"] == "sent" and history[0]["channels"]["email"]["ok"] is True


def test_email_failure_is_recorded_with_the_reason_and_never_the_password(build, fake_smtp, caplog):
    fake_smtp.refuse_login = True
    app = build(EMAIL)
    emit(app, "emergency.left_open", "BTC long still open")
    history = delivered(app)
    assert history[0]["status"] == "failed"
    assert "SMTPAuthenticationError" in history[0]["error"]
    assert "smtp-pass-9876" not in json.dumps(history) and "smtp-pass-9876" not in caplog.text


def test_telegram_working_and_email_failing_is_partial(build, tg, fake_smtp):
    fake_smtp.refuse_login = True
    app = build(telegram(**{k: v for k, v in EMAIL.__dict__.items() if k.startswith(("smtp", "email"))}))
    tg.post(URL, json=OK_BODY)
    emit(app, "state.changed", "trading ACTIVE -> HALTED")
    assert delivered(app)[0]["status"] == "partial"


# --- stale accounts ---------------------------------------------------------------------------------------
def test_account_stale_longer_than_the_delay_alerts_once_and_its_recovery_alerts_too(build, clock):
    fake = ReadOnlyFake("acct")
    app = build(AlertSettings(stale_seconds=30), adapters={"acct": fake})
    runtime = app.extensions["riskmgr"]
    poll_cycle(runtime, [alerts.poll_hook])
    fake.fail_with = MalformedResponseError("unreadable answer")
    for _ in range(4):  # 10 s, 20 s, 30 s, 40 s after the last good read
        clock.advance(10)
        poll_cycle(runtime, [alerts.poll_hook])
    fake.fail_with = None
    clock.advance(10)
    poll_cycle(runtime, [alerts.poll_hook])
    history = [h for h in delivered(app) if h["kind"].startswith("account.")]
    assert [(h["kind"], h["account"]) for h in history] == [("account.stale", "acct"), ("account.recovered", "acct")]
    assert "stale since 2026-11-20 12:00:00 UTC (30 s): unreadable answer" in history[0]["message"]
    assert "after 50 s" in history[1]["message"]


def test_account_never_read_counts_as_failing_from_its_first_failed_poll(build, clock):
    fake = ReadOnlyFake("acct")
    fake.fail_with = MalformedResponseError("unreadable answer")
    app = build(AlertSettings(stale_seconds=30), adapters={"acct": fake})
    runtime = app.extensions["riskmgr"]
    poll_cycle(runtime, [alerts.poll_hook])
    clock.advance(20)
    poll_cycle(runtime, [alerts.poll_hook])
    assert delivered(app) == []
    clock.advance(10)
    poll_cycle(runtime, [alerts.poll_hook])
    assert [h["message"] for h in delivered(app)] == [
        "acct is error since 2026-11-20 12:00:00 UTC (30 s): unreadable answer"
    ]


# --- page, test button, CLI --------------------------------------------------------------------------------
def test_alerts_page_shows_channels_switches_and_the_test_button(build):
    client = build().test_client()
    login(client)
    page = client.get("/alerts").get_data(as_text=True)
    assert 'id="alerts-test-btn"' in page and 'id="alerts-toggles"' in page and 'id="alerts-history"' in page
    assert "js/alerts.js" in page and ">Alerts</a>" in page


def test_alerts_api_needs_a_login_or_the_token(build):
    client = build().test_client()
    assert client.get("/api/alerts/status").status_code == 401
    assert client.post("/api/alerts/test").status_code == 401


def test_test_button_sends_now_through_each_channel_and_reports_each_result(build, tg):
    app = build(telegram())
    tg.post(URL, json=OK_BODY)
    client = app.test_client()
    login(client)
    token = csrf_from(client, "/alerts")
    answer = client.post("/api/alerts/test", json={}, headers={"X-CSRFToken": token}).get_json()
    assert answer["status"] == "sent" and answer["kind"] == "test"
    assert answer["channels"] == {"log": {"ok": True, "error": None}, "telegram": {"ok": True, "error": None}}
    assert "Test alert requested by operator" in sent_texts(tg)[0]


def test_cli_alerts_test_exits_0_when_every_channel_delivered(build, tg):
    app = build(telegram())
    tg.post(URL, json=OK_BODY)
    result = app.test_cli_runner().invoke(args=["alerts", "test"])
    assert result.exit_code == 0, result.output
    assert re.search(r"telegram\s+ok", result.output)


def test_cli_alerts_test_exits_1_with_the_reason_when_telegram_fails(build, tg):
    app = build(telegram())
    fast_retries(app)
    tg.post(URL, status=401, json={"ok": False, "description": "Unauthorized"})
    result = app.test_cli_runner().invoke(args=["alerts", "test"])
    assert result.exit_code == 1
    assert "HTTP 401: Unauthorized" in result.output and TOKEN not in result.output


def test_cli_alerts_test_exits_1_when_only_the_log_is_configured(build):
    result = build().test_cli_runner().invoke(args=["alerts", "test"])
    assert result.exit_code == 1
    assert "no Telegram or e-mail channel is configured" in result.output


# --- settings --------------------------------------------------------------------------------------------
def test_defaults_alert_on_what_matters_and_configure_no_external_channel():
    s = settings_from_env({})
    assert (s.telegram_enabled, s.email_enabled) == (False, False)
    assert s.events == DEFAULT_ON and "signal.produced" not in s.events and "exchange.error" not in s.events
    assert (s.dedup_seconds, s.rate_limit, s.rate_window_seconds, s.stale_seconds) == (600, 20, 60, 60)


def test_telegram_settings_are_read_from_the_environment():
    s = settings_from_env({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_CHAT_IDS": "-1001, @desk_alerts",
                           "ALERT_EVENTS": "state.changed,emergency.started"})
    assert s.telegram_chat_ids == ("-1001", "@desk_alerts")
    assert s.events == ("state.changed", "emergency.started")


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"TELEGRAM_BOT_TOKEN": "not-a-token-secret"}, ["TELEGRAM_BOT_TOKEN", "not shown"]),
        ({"TELEGRAM_BOT_TOKEN": TOKEN}, ["TELEGRAM_CHAT_IDS", "required"]),
        ({"TELEGRAM_CHAT_IDS": "-1001"}, ["TELEGRAM_BOT_TOKEN", "required"]),
        ({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_CHAT_IDS": "me"}, ["TELEGRAM_CHAT_IDS", "'me'"]),
        ({"ALERT_EVENTS": "state.changed,poll.cycle"}, ["ALERT_EVENTS", "'poll.cycle'"]),
        ({"ALERT_RATE_LIMIT": "0"}, ["ALERT_RATE_LIMIT", "1–1000"]),
        ({"ALERT_STALE_SECONDS": "1"}, ["ALERT_STALE_SECONDS", "5–86400"]),
        ({"SMTP_HOST": "smtp.example.com"}, ["ALERT_EMAIL_TO", "required"]),
        ({"SMTP_HOST": "h.example.com", "ALERT_EMAIL_TO": "me@example.com", "SMTP_USER": "u@example.com"},
         ["SMTP_PASSWORD", "required"]),
        ({"SMTP_HOST": "h.example.com", "ALERT_EMAIL_TO": "me@example.com", "SMTP_USER": "u@example.com",
          "SMTP_PASSWORD": "pw-123456", "SMTP_STARTTLS": "false"}, ["SMTP_STARTTLS", "unencrypted"]),
        ({"SMTP_HOST": "h.example.com", "ALERT_EMAIL_TO": "nobody"}, ["ALERT_EMAIL_TO", "'nobody'"]),
    ],
)
def test_bad_alert_setting_is_refused_naming_the_variable(env, words):
    with pytest.raises(ConfigError) as exc:
        settings_from_env(env)
    for word in words:
        assert word in str(exc.value)
    assert "not-a-token-secret" not in str(exc.value) and "pw-123456" not in str(exc.value)


def test_secrets_never_appear_in_the_settings_repr(tmp_path):
    s = telegram(smtp_password="smtp-pass-9876")
    settings = make_settings(tmp_path, feature_settings={"alerts": s})
    for text in (repr(s), repr(settings)):
        assert TOKEN not in text and "smtp-pass-9876" not in text


def test_rejected_keys_alert_at_once_without_waiting_for_the_stale_delay(build, clock):
    from riskmgr.core.errors import AuthError

    fake = ReadOnlyFake("acct")
    app = build(AlertSettings(stale_seconds=300), adapters={"acct": fake})
    runtime = app.extensions["riskmgr"]
    poll_cycle(runtime, [alerts.poll_hook])
    fake.fail_with = AuthError("signature rejected", code="10007")
    clock.advance(5)
    poll_cycle(runtime, [alerts.poll_hook])
    history = [h for h in delivered(app) if h["kind"] == "account.stale"]
    assert len(history) == 1
    assert "acct is error since" in history[0]["message"] and "signature rejected" in history[0]["message"]


# --- health words: green only once a real channel delivered ------------------------------------------------------
def test_with_only_the_log_configured_the_health_is_log_only_not_healthy(build):
    app = build()
    emit(app, "protection.failed", "BTC stop could not be placed", account="paper")
    delivered(app)

    status = app.test_client().get("/api/alerts/status", headers=BEARER).get_json()

    assert (status["health"], status["health_text"]) == ("log_only", "log only")


def test_a_configured_channel_that_never_delivered_is_not_yet_called_healthy(build):
    status = build(telegram()).test_client().get("/api/alerts/status", headers=BEARER).get_json()

    assert status["health"] == "untested" and status["last_external_delivery"] is None


def test_a_channel_that_delivered_is_healthy_with_the_delivery_named(build, tg):
    app = build(telegram())
    tg.post(URL, json=OK_BODY)
    emit(app, "protection.failed", "BTC stop could not be placed", account="paper")
    delivered(app)

    status = app.test_client().get("/api/alerts/status", headers=BEARER).get_json()

    assert status["health"] == "healthy" and status["last_external_delivery"]["status"] == "sent"
