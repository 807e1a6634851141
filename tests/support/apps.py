"""The real app on its own temporary database with the accounts (fakes, recording venues) or market a test gives it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask

from riskmgr import create_app
from riskmgr.persistence.extensions import db
from riskmgr.web.auth import ensure_admin_credentials
from tests.conftest import make_settings
from tests.fakes import ReadOnlyFake


@contextmanager
def app_on(tmp_path: Path, clock: Any, *, adapters: Mapping[str, Any] | None = None, market: Any = None,
           operator: bool = False, **changes: Any) -> Iterator[Flask]:
    """Yield the app built by the real factory on ``clock`` with its tables made, ``adapters`` as its accounts and
    ``market`` as its market where given, and with ``operator`` the operator's credentials set; its engine is disposed
    after. ``changes``: other settings (``make_settings``)."""
    extra: dict[str, Any] = {"clock": clock}
    if adapters is not None:
        extra["adapters"] = adapters
    if market is not None:
        extra["market"] = market
    app = create_app(make_settings(tmp_path, extra=extra, **changes))
    with app.app_context():
        db.create_all()
    try:
        if operator:
            ensure_admin_credentials(app)
        yield app
    finally:
        with app.app_context():
            db.engine.dispose()


@contextmanager
def runtime_on(tmp_path: Path, clock: Any, **kwargs: Any) -> Iterator[Any]:
    """Yield the runtime of ``app_on(tmp_path, clock, **kwargs)``."""
    with app_on(tmp_path, clock, **kwargs) as app:
        yield app.extensions["riskmgr"]


def liveness_app(tmp_path: Path, clock: Any) -> Iterator[Flask]:
    """Yield an app with one read-only account "a", its tables and the operator (the liveness tests of the poller,
    the page and the CLI)."""
    with app_on(tmp_path, clock, adapters={"a": ReadOnlyFake("a", "1000")}, operator=True) as app:
        yield app
