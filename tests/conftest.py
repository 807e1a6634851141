"""Shared fixtures: the real factory with a test configuration (temporary database, no scheduler, fixed clock).

The database is a temporary SQLite file, or, when ``TEST_DATABASE_URL`` names a PostgreSQL database, a schema of its
own per test in that database (created on demand, dropped after the test): ``database_url(tmp_path)`` gives either.
Tests that only make sense on SQLite carry ``@sqlite_only("why")``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from riskmgr import create_app
from riskmgr.app.config import Settings
from riskmgr.core.clock import FixedClock
from riskmgr.persistence.extensions import db

# Property tests judge results, not speed: on a shared 2-core machine a slow example is load, not a defect.
hypothesis_settings.register_profile("riskmgr", deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("riskmgr")

ADMIN_PASSWORD = "correct horse battery staple"
API_TOKEN = "Qm7fX2vR9kLp4TzW8cN3hB6yJd1sGa5E"  # random-looking: passes the start-up strength check
T0 = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)


PG_URL = os.environ.get("TEST_DATABASE_URL", "")
ON_POSTGRES = PG_URL.startswith(("postgresql", "postgres"))
_schemas: list[str] = []
_schema_numbers = itertools.count(1)


def sqlite_only(reason: str):  # type: ignore[no-untyped-def]
    """Mark a test that only applies to SQLite (it is skipped on PostgreSQL with the reason)."""
    return pytest.mark.skipif(ON_POSTGRES, reason=f"SQLite only: {reason}")


def database_url(tmp_path, name: str = "test") -> str:
    """Return a fresh database for one test: ``tmp_path/name.db`` on SQLite, a new schema on PostgreSQL.

    The same (tmp_path, name) gives the same database within a test, as a restarted process would find it.
    """
    if not ON_POSTGRES:
        return f"sqlite:///{tmp_path / f'{name}.db'}"
    marker = tmp_path / f".{name}.pg-schema"
    if marker.exists():
        schema = marker.read_text()
    else:
        schema = f"t{os.getpid()}_{next(_schema_numbers)}"
        _admin(f'CREATE SCHEMA "{schema}"')
        _schemas.append(schema)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(schema)
    joiner = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{joiner}options={quote(f'-csearch_path={schema}')}"


def make_engine(url: str):  # type: ignore[no-untyped-def]
    """An engine on ``url`` that waits for SQLite's write lock like the app does."""
    from sqlalchemy import create_engine

    return create_engine(url, connect_args={"timeout": 30} if url.startswith("sqlite") else {})


def _admin(sql: str) -> None:
    import psycopg

    url = PG_URL.replace("postgresql+psycopg://", "postgresql://").replace("postgres://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET lock_timeout = '5s'")
        conn.execute(sql)


@pytest.fixture(autouse=True)
def _drop_test_schemas():
    """Drop the PostgreSQL schemas a test made (best effort: a schema still locked is left for the server's end).

    Schemas made before the test began (by session-wide fixtures) stay.
    """
    mark = len(_schemas)
    yield
    while len(_schemas) > mark:
        schema = _schemas.pop()
        with contextlib.suppress(Exception):  # a leftover schema in a throwaway test database harms nothing
            _admin(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def make_settings(tmp_path, **changes) -> Settings:
    """Return test settings: a temporary database, scheduler off, known password and token."""
    base = Settings(
        database_url=database_url(tmp_path),
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
