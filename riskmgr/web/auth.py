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
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from flask_login import UserMixin, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import PasswordField
from wtforms.validators import DataRequired

from riskmgr.app.login_throttle import Admission, LoginThrottle
from riskmgr.core.secret_strength import PASSWORD_MIN_BITS, estimate_bits
from riskmgr.persistence.extensions import csrf, db, login_manager
from riskmgr.persistence.models import AppSetting

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)
PUBLIC_ENDPOINTS = {"auth.login", "pages.health", "static"}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
HASH_KEY = "admin_password_hash"
OPERATOR_ID = "admin"


class Operator(UserMixin):
    id = OPERATOR_ID


class LoginForm(FlaskForm):
    password = PasswordField("Password", validators=[DataRequired()])


def _throttle() -> LoginThrottle:
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
        password = _generated_password()
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


def _generated_password() -> str:
    """Return a random password that passes the same strength check as a configured one."""
    while True:
        password = secrets.token_urlsafe(18)
        if estimate_bits(password) >= PASSWORD_MIN_BITS:
            return password


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
        ensure_admin_credentials(current_app._get_current_object())  # type: ignore[attr-defined]  # a LocalProxy method: Flask types current_app as the app
        row = db.session.get(AppSetting, HASH_KEY)
    return row is not None and check_password_hash(row.value, password)


def _safe_next(target: str | None) -> str:
    if target and urlparse(target).netloc == "" and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("pages.dashboard")


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    # the client address: remote_addr, or X-Forwarded-For as far as TRUSTED_PROXIES allows (ProxyFix)
    who = request.remote_addr or "?"
    if request.method == "POST":
        csrf.protect()
        admission = _throttle().admit(who)  # counts the attempt; the password is not even looked at if refused
        if not admission.allowed:
            return _throttled(form, who, admission)
        if form.validate() and _password_ok(form.password.data or ""):
            _throttle().succeeded(who)
            login_user(Operator(), remember=False)
            log.info("operator logged in from %s", who)
            return redirect(_safe_next(request.args.get("next")))
        log.warning("failed login from %s", who)
        flash("Wrong password.", "danger")
    return render_template("login.html", form=form)


def _throttled(form: LoginForm, who: str, admission: Admission):
    """Answer 429 with Retry-After; the page says when to try again."""
    settings = current_app.config["RISKMGR"]
    when = admission.retry_at or current_app.extensions["riskmgr"].clock.now()  # a refusal always has its time
    local = when.astimezone(ZoneInfo(settings.display_timezone))
    log.warning("login attempt from %s refused by the back-off for %d s", who, admission.retry_after_s)
    flash(f"Too many failed attempts: try again in {admission.retry_after_s} s "
          f"(at {local:%H:%M:%S} {settings.display_timezone}).", "danger")
    return render_template("login.html", form=form), 429, {"Retry-After": str(admission.retry_after_s)}


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    logout_user()
    return redirect(url_for("auth.login"))


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return None


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/metrics"


def require_auth():
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


def _csrf_error(exc: CSRFError):
    if _wants_json():
        return jsonify(error="csrf", detail=exc.description), 400
    flash("Your form expired; please try again.", "warning")
    return redirect(request.url)


def init_app(app: Flask) -> None:
    """Install the authentication guard and the login view settings."""
    runtime = app.extensions["riskmgr"]
    app.extensions["login_throttle"] = LoginThrottle(runtime.engine, runtime.clock)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"
    app.before_request(require_auth)
    app.register_error_handler(CSRFError, _csrf_error)
