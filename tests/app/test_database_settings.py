"""Database settings: pool size and PostgreSQL's lock and statement timeouts, and a state read that takes no lock."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from riskmgr import create_app
from riskmgr.app.config import Settings
from riskmgr.core.errors import ConfigError
from riskmgr.persistence.extensions import db
from tests.conftest import ON_POSTGRES, make_settings

postgres_only = pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL (set TEST_DATABASE_URL)")


def test_the_database_settings_are_read_with_their_defaults():
    s = Settings.from_env({})
    assert (s.db_pool_size, s.db_max_overflow, s.db_lock_timeout_ms, s.db_statement_timeout_ms) == (5, 5, 5000, 30000)
    s = Settings.from_env({"DB_POOL_SIZE": "3", "DB_MAX_OVERFLOW": "0", "DB_LOCK_TIMEOUT_MS": "250",
                           "DB_STATEMENT_TIMEOUT_MS": "2000"})
    assert (s.db_pool_size, s.db_max_overflow, s.db_lock_timeout_ms, s.db_statement_timeout_ms) == (3, 0, 250, 2000)


@pytest.mark.parametrize(("name", "value"), [("DB_POOL_SIZE", "0"), ("DB_MAX_OVERFLOW", "101"),
                                             ("DB_LOCK_TIMEOUT_MS", "50"), ("DB_STATEMENT_TIMEOUT_MS", "x")])
def test_a_database_setting_out_of_range_is_refused_by_name(name, value):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


def _app(tmp_path, **changes):
    app = create_app(make_settings(tmp_path, **changes))
    with app.app_context():
        db.create_all()
    return app


@postgres_only
def test_every_connection_carries_the_lock_and_statement_timeouts_and_the_pool_size(tmp_path):
    app = _app(tmp_path, db_pool_size=3, db_max_overflow=1, db_lock_timeout_ms=750, db_statement_timeout_ms=4000)
    with app.app_context(), db.engine.connect() as conn:
        assert conn.execute(text("SHOW lock_timeout")).scalar() == "750ms"
        assert conn.execute(text("SHOW statement_timeout")).scalar() == "4s"
        assert (db.engine.pool.size(), db.engine.pool._max_overflow) == (3, 1)


@postgres_only
def test_a_lock_held_elsewhere_fails_a_write_after_the_lock_timeout_instead_of_hanging(tmp_path, runtime_factory):
    runtime = runtime_factory(db_lock_timeout_ms=300)
    runtime.trading.current()  # the row exists
    with runtime.engine.connect() as holder:
        holder.execute(text("SELECT * FROM trading_state WHERE id = 1 FOR UPDATE"))
        started = time.monotonic()
        with pytest.raises(OperationalError, match="lock timeout"), runtime.engine.begin() as conn:
            conn.execute(text("UPDATE trading_state SET reason = reason WHERE id = 1"))
        assert time.monotonic() - started < 3
        holder.rollback()


def test_reading_the_trading_state_waits_for_no_lock(tmp_path, runtime_factory):
    """An escalation holding the row (a slow emergency stop, say) must not hold up pages and order checks."""
    runtime = runtime_factory()
    runtime.trading.current()
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:
        with runtime.engine.begin() as conn:
            if ON_POSTGRES:
                conn.execute(text("SELECT * FROM trading_state WHERE id = 1 FOR UPDATE"))
            else:  # SQLite's write lock: a writer holds the database, readers (WAL) go on
                conn.execute(text("UPDATE trading_state SET reason = reason WHERE id = 1"))
            taken.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert taken.wait(10)
        started = time.monotonic()
        state = runtime.trading.current()
        assert time.monotonic() - started < 1.0 and state.state.value == "ACTIVE"
    finally:
        release.set()
        holder.join()


@pytest.fixture
def runtime_factory(tmp_path):
    apps = []

    def make(**changes):
        app = _app(tmp_path, **changes)
        apps.append(app)
        return app.extensions["riskmgr"]

    yield make
    for app in apps:
        with app.app_context():
            db.engine.dispose()
