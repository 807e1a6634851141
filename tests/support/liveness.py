"""Fixtures of the liveness tests (the poller's heartbeat, GET /api/liveness and the banners, ``flask poller status``):
an app with one read-only account, its runtime, and the poller events it emits. A test module imports them."""

from __future__ import annotations

import pytest

from tests.support.apps import liveness_app


@pytest.fixture
def app(tmp_path, clock):
    yield from liveness_app(tmp_path, clock)


@pytest.fixture
def rt(app):
    return app.extensions["riskmgr"]


@pytest.fixture
def emitted(rt):
    """The poller.* events the runtime emits, in order."""
    seen = []
    rt.events.subscribe(lambda e: seen.append(e) if e.kind.startswith("poller.") else None)
    return seen
