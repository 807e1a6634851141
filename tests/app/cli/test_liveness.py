"""``flask poller status``: the heartbeat, exit 1 when the poller is stopped."""

from __future__ import annotations

import pytest

from riskmgr.accounts.monitor import poll_cycle
from tests.accounts.test_liveness import liveness_app


@pytest.fixture
def app(tmp_path, clock):
    yield from liveness_app(tmp_path, clock)


@pytest.fixture
def rt(app):
    return app.extensions["riskmgr"]


def test_cli_poller_status_fails_when_the_poller_is_stopped(app, rt, clock):
    runner = app.test_cli_runner()
    poll_cycle(rt)
    ok = runner.invoke(args=["poller", "status"])
    assert ok.exit_code == 0 and ok.output.startswith("running:")
    clock.advance(600)
    stopped = runner.invoke(args=["poller", "status"])
    assert stopped.exit_code != 0 and "poller stopped" in stopped.output
