"""Logging: request ids on web requests (echoed, in every line of the request) and secrets masked everywhere."""

from __future__ import annotations

import io
import logging
import re

import pytest

from riskmgr import create_app
from riskmgr.alerts.settings import AlertSettings
from riskmgr.app.logging_setup import SecretMaskingFilter, build_handlers, configure_logging, register_secret
from riskmgr.persistence.extensions import db
from tests.conftest import make_settings

TOKEN = "987654321:AAF-planted_secret_token_zyxwvutsrq"


@pytest.fixture
def captured(tmp_path):
    """Point the installed console handler at a buffer for the test; return the buffer."""
    configure_logging(make_settings(tmp_path))  # installed once per process; a no-op if an app did it already
    handler = next(h for h in logging.getLogger().handlers
                   if any(isinstance(f, SecretMaskingFilter) for f in h.filters)
                   and isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler))
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)


def _login_form_token(client) -> str:
    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def test_a_request_without_an_id_gets_a_new_one_in_the_response(client):
    response = client.get("/health")
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])
    assert client.get("/health").headers["X-Request-ID"] != response.headers["X-Request-ID"]


def test_the_callers_request_id_is_echoed(client):
    assert client.get("/health", headers={"X-Request-ID": "lb-7f3a.42"}).headers["X-Request-ID"] == "lb-7f3a.42"


@pytest.mark.parametrize("offered", ["two words", "x" * 65, "line\nbreak", "<script>"])
def test_a_request_id_that_could_forge_a_log_line_is_replaced(client, offered):
    echoed = client.get("/health", headers={"X-Request-ID": offered.replace("\n", "%0A")}).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", echoed)


def test_every_log_line_of_a_request_carries_its_id(client, captured):
    token = _login_form_token(client)
    client.post("/login", data={"password": "wrong", "csrf_token": token}, headers={"X-Request-ID": "req-42"})
    logging.getLogger("riskmgr.test").info("outside any request")
    lines = captured.getvalue().splitlines()
    failed = [line for line in lines if "failed login" in line]
    assert len(failed) == 1 and "[req req-42] failed login from" in failed[0]
    outside = [line for line in lines if "outside any request" in line]
    assert len(outside) == 1 and "[req " not in outside[0]


def test_unauthorized_answers_also_carry_a_request_id(client):
    response = client.get("/api/snapshot", headers={"X-Request-ID": "probe-1"})
    assert response.status_code == 401
    assert response.headers["X-Request-ID"] == "probe-1"


def test_a_planted_secret_is_masked_on_the_console_and_in_the_rotating_file(tmp_path):
    planted = "planted-Secret-4711-abcdef"
    register_secret(planted)
    settings = make_settings(tmp_path, testing=False)
    handlers = build_handlers(settings)
    stream = io.StringIO()
    handlers[0].setStream(stream)
    logger = logging.getLogger("riskmgr.test_masking")
    logger.propagate = False
    for handler in handlers:
        logger.addHandler(handler)
    try:
        logger.warning("calling https://api.example.com/?key=%s", planted)
        try:
            raise RuntimeError(f"request failed with key {planted}")
        except RuntimeError:
            logger.exception("exchange call failed")
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
            handler.close()
    written = (tmp_path / "instance" / "logs" / "riskmgr.log").read_text(encoding="utf-8")
    for text in (stream.getvalue(), written):
        assert planted not in text
        assert "key=***" in text and "request failed with key ***" in text


def test_the_telegram_token_is_masked_in_the_apps_log_lines_once_alerts_are_installed(tmp_path, clock, captured):
    alerts = AlertSettings(telegram_bot_token=TOKEN, telegram_chat_ids=("-1001",))
    features = {"alerts": alerts}
    app = create_app(make_settings(tmp_path, extra={"clock": clock}, feature_settings=features))
    with app.app_context():
        db.engine.dispose()
    # what urllib3 writes at debug level for every call (the token is part of the URL)
    logging.getLogger("urllib3.connectionpool").warning('"POST /bot%s/sendMessage HTTP/1.1" 200 231', TOKEN)
    assert TOKEN not in captured.getvalue()
    assert '"POST /bot***/sendMessage HTTP/1.1" 200' in captured.getvalue()
