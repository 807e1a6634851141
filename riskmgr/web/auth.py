"""Authentication: one operator with a password (Flask-Login session) and a bearer token for scripts.

Every endpoint requires authentication unless it is listed in PUBLIC_ENDPOINTS (deny by default, so a
new route is protected without anyone remembering to). Writes made with a session need the CSRF token;
bearer-token calls are exempt because a browser never sends that header on its own.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import sys
import threading
import time
from collections import deque
from urllib.parse import urlparse

from flask import Blueprint, Flask, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from flask_login import UserMixin, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import PasswordField
from wtforms.validators import DataRequired

from riskmgr.extensions import csrf, db, login_manager
from riskmgr.models import AppSetting

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)
PUBLIC_ENDPOINTS = {"auth.login", "pages.health", "static"}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
HASH_KEY = "admin_password_hash"
OPERATOR_ID = "admin"
MAX_FAILURES, FAILURE_WINDOW_S = 5, 300


class Operator(UserMixin):
    id = OPERATOR_ID


class LoginForm(FlaskForm):
    password = PasswordField("Password", validators=[DataRequired()])


class _Throttle:
    """Refuse logins from an address after repeated failures within a window (per process)."""

    def __init__(self) -> None:
        self._fails: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def blocked(self, who: str) -> bool:
        with self._lock:
            recent = self._prune(who)
            return len(recent) >= MAX_FAILURES

    def fail(self, who: str) -> None:
        with self._lock:
            self._prune(who).append(time.monotonic())

    def _prune(self, who: str) -> deque[float]:
        q = self._fails.setdefault(who, deque())
        while q and time.monotonic() - q[0] > FAILURE_WINDOW_S:
            q.popleft()
        return q


def _throttle() -> _Throttle:
    return current_app.extensions["login_throttle"]


@login_manager.user_loader
def _load_user(user_id: str) -> Operator | None:
    return Operator() if user_id == OPERATOR_ID else None


def ensure_admin_credentials(app: Flask) -> None:
    """Store the admin password hash; if none is configured or stored, generate one and print it once."""
    settings = app.config["RISKMGR"]
    with app.app_context():
        row = db.session.get(AppSetting, HASH_KEY)
        if settings.admin_password:
            if row is None or not check_password_hash(row.value, settings.admin_password):
                _store_hash(row, generate_password_hash(settings.admin_password))
            return
        if row is not None:
            return
        password = secrets.token_urlsafe(18)
        db.session.add(AppSetting(key=HASH_KEY, value=generate_password_hash(password)))
        try:
            db.session.commit()
        except IntegrityError:  # another worker generated it first; theirs stands
            db.session.rollback()
            return
    # Printed to the console only (not the log file), once, so the operator can log in the first time.
    print(
        f"\n*** riskmgr generated the admin password: {password}\n"
        "*** It is shown only now; only its hash is stored. Set RISKMGR_ADMIN_PASSWORD to choose your own.\n",
        file=sys.stderr,
        flush=True,
    )


def _store_hash(row: AppSetting | None, value: str) -> None:
    """Store the hash; when another worker inserted it at the same moment, theirs (same password) stands."""
    if row is not None:
        row.value = value
    else:
        db.session.add(AppSetting(key=HASH_KEY, value=value))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()


def _password_ok(password: str) -> bool:
    row = db.session.get(AppSetting, HASH_KEY)
    if row is None:
        ensure_admin_credentials(current_app._get_current_object())  # type: ignore[attr-defined]
        row = db.session.get(AppSetting, HASH_KEY)
    return row is not None and check_password_hash(row.value, password)


def _safe_next(target: str | None) -> str:
    if target and urlparse(target).netloc == "" and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("pages.dashboard")


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    form = LoginForm()
    who = request.remote_addr or "?"
    if request.method == "POST":
        csrf.protect()
        if _throttle().blocked(who):
            flash("Too many failed attempts; wait five minutes and try again.", "danger")
        elif form.validate() and _password_ok(form.password.data or ""):
            login_user(Operator(), remember=False)
            log.info("operator logged in from %s", who)
            return redirect(_safe_next(request.args.get("next")))
        else:
            _throttle().fail(who)
            log.warning("failed login from %s", who)
            flash("Wrong password.", "danger")
    return render_template("login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():  # type: ignore[no-untyped-def]
    logout_user()
    return redirect(url_for("auth.login"))


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return None


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/metrics"


def require_auth():  # type: ignore[no-untyped-def]
    """Run before every request: deny unless public, a valid bearer token, or a logged-in session."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    token = _bearer_token()
    if token is not None:
        expected = current_app.config["RISKMGR"].api_token
        if expected and hmac.compare_digest(token.encode(), expected.encode()):
            g.actor = "api-token"
            return None
        return jsonify(error="unauthorized", detail="invalid bearer token"), 401
    if not current_user.is_authenticated:
        if _wants_json():
            return jsonify(error="unauthorized", detail="log in or send Authorization: Bearer <token>"), 401
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    g.actor = "operator"
    if request.method in WRITE_METHODS:
        csrf.protect()
    return None


def _csrf_error(exc: CSRFError):  # type: ignore[no-untyped-def]
    if _wants_json():
        return jsonify(error="csrf", detail=exc.description), 400
    flash("Your form expired; please try again.", "warning")
    return redirect(request.url)


def init_app(app: Flask) -> None:
    """Install the authentication guard and the login view settings."""
    app.extensions["login_throttle"] = _Throttle()
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"
    app.before_request(require_auth)
    app.register_error_handler(CSRFError, _csrf_error)
