"""The Celery application bound to the Flask app: ``celery -A riskmgr.workers.celery_app worker`` (and ``beat``).

Every task runs inside the Flask app context; each forked worker process starts with fresh database
connections (the parent's pool is never shared across a fork). Tasks are acknowledged after they ran and
re-queued when their worker process dies mid-task, so killing a worker loses nothing.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, Task
from celery.signals import worker_process_init
from flask import Flask


def init_celery(app: Flask) -> Celery:
    """Return the Celery app for ``app`` (built once; kept in ``app.extensions['celery']``)."""
    if "celery" in app.extensions:
        return app.extensions["celery"]
    settings = app.config["RISKMGR"]
    if not settings.redis_url:
        raise RuntimeError("Celery needs REDIS_URL")

    class FlaskTask(Task):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery("riskmgr", task_cls=FlaskTask, broker=settings.redis_url, backend=settings.redis_url,
                    include=["riskmgr.workers.tasks"])
    celery.conf.update(
        task_acks_late=True,  # a task is done when it ran, not when a worker took it
        task_reject_on_worker_lost=True,  # a worker killed mid-task: the task goes back to the queue
        worker_prefetch_multiplier=1,
        task_default_queue="riskmgr",
        timezone="UTC",
        enable_utc=True,
        result_expires=3600,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": 3600},
        worker_hijack_root_logger=False,
    )
    from riskmgr.workers.schedule import beat_schedule

    celery.conf.beat_schedule = beat_schedule(app)
    celery.set_default()
    app.extensions["celery"] = celery
    return celery


@worker_process_init.connect
def _fresh_connections(**_: Any) -> None:
    """A forked worker process drops the connections it inherited; it opens its own on first use."""
    from riskmgr.persistence.extensions import db

    app = _flask_app()
    if app is not None:
        with app.app_context():
            db.engine.dispose(close=False)


_APP: Flask | None = None


def _flask_app() -> Flask | None:
    return _APP


def _build() -> Celery:
    global _APP
    from riskmgr.app.factory import create_app

    _APP = create_app()
    return init_celery(_APP)


def __getattr__(name: str) -> Any:  # ``-A riskmgr.workers.celery_app`` finds ``celery`` here, built on first use
    if name in ("celery", "app"):
        value = _build() if _APP is None else _APP.extensions["celery"]
        globals()[name] = value
        return value
    raise AttributeError(name)
