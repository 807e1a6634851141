"""The composition root: ``create_app`` builds the Flask app, its extensions, the runtime and the web layer."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path

from dotenv import load_dotenv
from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from riskmgr.app.config import PROJECT_ROOT, Settings
from riskmgr.core.errors import ConfigError
from riskmgr.persistence.extensions import csrf, db, init_migrations, login_manager


def create_app(config: Settings | None = None) -> Flask:
    """Build the application: the only composition root."""
    if config is None:
        load_dotenv(PROJECT_ROOT / ".env")
        config = Settings.from_env()
    config.instance_path.mkdir(mode=0o700, parents=True, exist_ok=True)  # private: the session key lives here
    app = Flask(
        "riskmgr",  # the package's folder is the root: templates/ and static/ sit beside it
        template_folder="../templates",
        static_folder="../static",
        instance_path=str(config.instance_path.resolve()),
    )
    _configure_flask(app, config)
    if config.trusted_proxies:
        # believe X-Forwarded-For / -Proto only as far as the configured proxies: the client address is the one
        # the outermost trusted proxy saw (what login throttling keys on); anything further left is spoofable
        n = config.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]  # Flask's documented way to put middleware around the app

    from riskmgr.app.logging_setup import configure_logging, init_request_ids

    configure_logging(config)
    init_request_ids(app)
    db.init_app(app)
    init_migrations(app, PROJECT_ROOT / "migrations")  # Alembic is imported by the `flask db` commands only
    login_manager.init_app(app)
    csrf.init_app(app)
    with app.app_context():
        _enable_sqlite_wal(db.engine)
        _set_postgres_timeouts(db.engine, config)

    from riskmgr.app import tables  # noqa: F401  (register every table)
    from riskmgr.app.runtime import build_runtime

    app.extensions["riskmgr"] = build_runtime(app, config)
    _register_web(app)
    if config.redis_url:  # opt-in workers: jobs, backtests and alert delivery go to Celery over Redis
        from riskmgr.workers.celery_app import init_celery
        from riskmgr.workers.handoff import hand_off

        init_celery(app)
        hand_off(app.extensions["riskmgr"])
    return app


def _configure_flask(app: Flask, config: Settings) -> None:
    app.config.update(
        RISKMGR=config,
        SECRET_KEY=config.secret_key or _instance_secret(config.instance_path),
        SQLALCHEMY_DATABASE_URI=config.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(config),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.cookie_secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=config.cookie_secure,
        WTF_CSRF_CHECK_DEFAULT=False,  # checked in web.auth so bearer-token calls are exempt
        WTF_CSRF_TIME_LIMIT=None,
        TESTING=config.testing,
        JSON_SORT_KEYS=False,
    )


def _engine_options(config: Settings) -> dict:
    if config.database_url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    # a server database counts connections (entry-tier Heroku PostgreSQL allows about 20 for every dyno together)
    return {"pool_pre_ping": True, "pool_size": config.db_pool_size, "max_overflow": config.db_max_overflow,
            "pool_timeout": 30}


def _set_postgres_timeouts(engine: Engine, config: Settings) -> None:
    """Bound every wait on PostgreSQL: a lock held elsewhere or a runaway query fails with an error, never hangs."""
    if engine.dialect.name != "postgresql":
        return

    @event.listens_for(engine, "connect")
    def _timeouts(dbapi_conn, _record) -> None:
        cur = dbapi_conn.cursor()
        cur.execute(f"SET lock_timeout = {int(config.db_lock_timeout_ms)}")
        cur.execute(f"SET statement_timeout = {int(config.db_statement_timeout_ms)}")
        cur.close()
        dbapi_conn.commit()


SECRET_MIN_CHARS = 32


def _instance_secret(instance: Path) -> str:
    """Return the session secret kept under instance/, creating it once (shared by every worker)."""
    path = instance / "secret_key"
    if not path.exists():
        publish_secret_file(path, secrets.token_hex(32))
    return read_secret_file(path)


def publish_secret_file(path: Path, value: str) -> None:
    """Create ``path`` holding ``value`` (mode 0600), whole or not at all; when it already exists, theirs stands.

    The value is written to a private temporary file in the same folder, flushed to disk, then hard-linked to
    its name: a link appears atomically with the full content and fails if the name exists, so every worker
    racing here ends up reading the same complete key.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(value)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return  # another worker published first; its key is the one everyone reads
        except OSError:  # a file system without hard links: rename (atomic too; last writer wins)
            if not path.exists():
                os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def read_secret_file(path: Path) -> str:
    """Return the secret stored in ``path``; an empty or short file is an error naming the path."""
    value = path.read_text(encoding="utf-8").strip()
    if len(value) < SECRET_MIN_CHARS:
        raise ConfigError(
            f"{path} holds a key of {len(value)} characters, at least {SECRET_MIN_CHARS} needed: delete the file "
            "to have a new one generated at the next start, or set SECRET_KEY"
        )
    return value


def _enable_sqlite_wal(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record) -> None:
        cur = dbapi_conn.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()


def _register_web(app: Flask) -> None:
    from riskmgr.app import features
    from riskmgr.app.cli import register_cli
    from riskmgr.web import areas, auth, errors, page_cache, security, sessions, urls

    auth.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    urls.init_app(app)
    page_cache.init_app(app)
    sessions.init_app(app)
    runtime = app.extensions["riskmgr"]
    features.check(features.FEATURES)  # an ill-typed or misordered declaration stops the start here
    runtime.poll_hooks = features.poll_hooks()
    features.install(runtime, features.FEATURES)  # builds objects only: threads start in the server hooks
    areas.register(app)  # every page area's blueprint, in navigation order (checked first)
    register_cli(app)  # every `flask` command (checked first)
