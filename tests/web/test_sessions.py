"""A session cookie's signature is checked once; after that the same bytes are trusted only as Flask trusts them."""

from __future__ import annotations

import time
from datetime import timedelta

from riskmgr.web.sessions import CheckedCookieSessions
from tests.conftest import login

COOKIE = "session"


def _cookie(client) -> str:
    return client.get_cookie(COOKIE).value


def _with_cookie(app, value: str):  # type: ignore[no-untyped-def]
    """A fresh browser that sends exactly ``value`` as its session cookie."""
    other = app.test_client()
    other.set_cookie(COOKIE, value)
    return other


def test_a_logged_in_browser_is_checked_once_then_served_from_the_checked_cookie(app, client):
    interface = app.session_interface
    assert isinstance(interface, CheckedCookieSessions)
    login(client)
    assert client.get("/").status_code == 200
    hits = interface.hits

    assert client.get("/").status_code == 200
    assert client.get("/trade").status_code == 200

    assert interface.hits == hits + 2


def test_a_tampered_cookie_is_refused_and_not_remembered(app, client):
    login(client)
    client.get("/")
    value = _cookie(client)
    # Change a character well inside the signature: the last base64 character of a 20-byte
    # HMAC carries two padding bits, so flipping only its low bit can decode to the same bytes.
    i = len(value) - 5
    forged = value[:i] + ("A" if value[i] != "A" else "Q") + value[i + 1 :]
    before = len(app.session_interface._checked)

    response = _with_cookie(app, forged).get("/")

    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert len(app.session_interface._checked) == before


def test_a_remembered_cookie_past_the_session_lifetime_is_refused(app, client, monkeypatch):
    app.permanent_session_lifetime = timedelta(seconds=60)
    login(client)
    assert client.get("/").status_code == 200  # checked and remembered
    hits = app.session_interface.hits
    later = time.time() + 3600
    monkeypatch.setattr(time, "time", lambda: later)  # the clock itsdangerous reads, and so do we

    response = client.get("/")

    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert app.session_interface.hits == hits


def test_a_session_changed_in_place_never_shows_in_another_request_with_the_same_cookie(app, client):
    login(client)
    with client.session_transaction() as session:
        session["seen"] = ["first"]
    value = _cookie(client)
    header = {"Cookie": f"{COOKIE}={value}"}
    with app.test_request_context("/", headers=header):
        from flask import session

        session["seen"].append("only this request")  # a list changed in place, as flash() changes its list

    with app.test_request_context("/", headers=header):
        assert session["seen"] == ["first"]
    assert app.session_interface.hits >= 1


def test_a_new_secret_key_does_not_trust_a_cookie_checked_with_the_old_one(app, client):
    login(client)
    assert client.get("/").status_code == 200
    app.secret_key = "another-secret-key-of-enough-length-for-the-test"

    response = client.get("/")

    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_memory_is_bounded(app):
    interface = CheckedCookieSessions(max_entries=2)
    app.session_interface = interface
    values = []
    for _ in range(3):
        browser = app.test_client()
        login(browser)
        browser.get("/")
        values.append(_cookie(browser))

    assert len(interface._checked) == 2
    assert all(key[0] != values[0] for key in interface._checked)
