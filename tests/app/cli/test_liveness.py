"""``flask poller status``: the heartbeat, exit 1 when the poller is stopped."""

from __future__ import annotations

from riskmgr.accounts.monitor import poll_cycle
from tests.support import liveness as liveness_fixtures

# the liveness fixtures (one app with one read-only account), shared with the other liveness tests
app = liveness_fixtures.app
rt = liveness_fixtures.rt


def test_cli_poller_status_fails_when_the_poller_is_stopped(app, rt, clock):
    runner = app.test_cli_runner()
    poll_cycle(rt)
    ok = runner.invoke(args=["poller", "status"])
    assert ok.exit_code == 0 and ok.output.startswith("running:")
    clock.advance(600)
    stopped = runner.invoke(args=["poller", "status"])
    assert stopped.exit_code != 0 and "poller stopped" in stopped.output
