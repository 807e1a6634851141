"""Flask's signed-cookie sessions, with each cookie's signature checked once rather than on every request.

A logged-in browser sends the same session cookie with every page and every poll, and Flask checks its signature
(two HMACs), inflates and parses it each time. Here a cookie whose signature has been checked is remembered, by its
exact bytes and the secret key it was checked with, together with its signing time and its payload. The next request
with the same bytes gets a fresh session built from that payload (never a shared dict: a session is changed in
place), after the same age check the signature check makes (``PERMANENT_SESSION_LIFETIME``); anything else — a
cookie not seen yet, one too old or dated in the future, a changed key — goes through Flask's own check unchanged.
Only cookies that passed the check are remembered, at most ``MAX_ENTRIES`` of them, so unsigned junk fills nothing.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature

MAX_ENTRIES = 1024


class CheckedCookieSessions(SecureCookieSessionInterface):
    """The signed-cookie session interface that remembers the cookies whose signature it has checked."""

    def __init__(self, max_entries: int = MAX_ENTRIES):
        self._max = max_entries
        self._checked: OrderedDict[tuple, tuple[int, str]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        value = request.cookies.get(self.get_cookie_name(app))
        if not value or not app.secret_key:
            return super().open_session(app, request)
        # the key it is checked with is part of the memo's key; older keys Flask also accepts are fixed at start
        key = (value, app.secret_key)
        max_age = int(app.permanent_session_lifetime.total_seconds())
        with self._lock:
            entry = self._checked.get(key)
            if entry is not None:
                self._checked.move_to_end(key)
        if entry is not None:
            signed_at, payload = entry
            age = int(time.time()) - signed_at  # itsdangerous's own clock and rule (TimestampSigner.unsign)
            if 0 <= age <= max_age:
                self.hits += 1
                return self.session_class(self.serializer.loads(payload))
        return self._check(app, key, value, max_age)

    def _check(self, app: Flask, key: tuple, value: str, max_age: int) -> SecureCookieSession:
        """Check the signature as Flask does; remember the cookie when it passes."""
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return self.session_class()
        try:
            data, signed_at = serializer.loads(value, max_age=max_age, return_timestamp=True)
        except BadSignature:  # also an expired cookie (SignatureExpired): no session, as in Flask
            return self.session_class()
        with self._lock:
            self._checked[key] = (int(signed_at.timestamp()), self.serializer.dumps(data))
            self._checked.move_to_end(key)
            while len(self._checked) > self._max:
                self._checked.popitem(last=False)
        return self.session_class(data)


def init_app(app: Flask) -> None:
    app.session_interface = CheckedCookieSessions()

