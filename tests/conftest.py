"""Shared fixtures: the real factory with a test configuration (temporary SQLite, no scheduler, fixed clock)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from riskmgr import create_app
from riskmgr.clock import FixedClock
from riskmgr.config import Settings
from riskmgr.extensions import db

ADMIN_PASSWORD = "correct horse battery staple"
API_TOKEN = "Qm7fX2vR9kLp4TzW8cN3hB6yJd1sGa5E"  # random-looking: passes the start-up strength check
T0 = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)


def make_settings(tmp_path, **changes) -> Settings:
    """Return test settings: a temporary SQLite file, scheduler off, known password and token."""
    base = Settings(
        database_url=f"sqlite:///{tmp_path / 'test.db'}",
        instance_path=tmp_path / "instance",
        secret_key="test-secret-key",
        admin_password=ADMIN_PASSWORD,
        api_token=API_TOKEN,
        scheduler_enabled=False,
        testing=True,
    )
    return base.with_changes(**changes)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def settings(tmp_path, clock) -> Settings:
    return make_settings(tmp_path, extra={"clock": clock})


@pytest.fixture
def app(settings):
    app = create_app(settings)
    with app.app_context():
        db.create_all()
    from riskmgr.web.auth import ensure_admin_credentials

    ensure_admin_credentials(app)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def runtime(app):
    return app.extensions["riskmgr"]


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def api(client):
    """A client that sends the bearer token on every call."""

    class _Api:
        def __getattr__(self, method):
            def call(path, **kwargs):
                headers = kwargs.pop("headers", {})
                headers.setdefault("Authorization", f"Bearer {API_TOKEN}")
                return getattr(client, method)(path, headers=headers, **kwargs)

            return call

    return _Api()


def login(client, password: str = ADMIN_PASSWORD):
    """Log the test client in through the real form (fetching its CSRF token first)."""
    import re

    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"password": password, "csrf_token": token})


def csrf_from(client, path: str = "/") -> str:
    """Return the CSRF token embedded in a page's meta tag."""
    import re

    page = client.get(path).get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
