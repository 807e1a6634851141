"""The app as `wsgi.py` builds it, on a clock that runs in real time from RISKMGR_TEST_CLOCK_START (browser tests).

RISKMGR_TEST_CLOCK_ANCHOR is the real instant (epoch seconds) at which the clock reads that start. Every process
(each gunicorn worker, a recycled one, the `flask` commands of the test) computes the same offset from it, so they
all tell the same time: an offset taken at each process's own import made a poll in one worker stamp its data ahead
of another worker's "now", and the gate rightly denied the order as data from the future.

The simulated market is a function of time, so starting the clock at a known bar gives the browser tests a known
signal to work with (the unit tests' T0: a DOGE long) instead of whatever the market does at the wall-clock time.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from riskmgr import create_app
from riskmgr.app.config import Settings


class ShiftedClock:
    """Real time, moved so that it reads ``start`` at the real instant ``anchor``."""

    def __init__(self, start: datetime, anchor: datetime):
        self._offset = start - anchor

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset


settings = Settings.from_env()
start = datetime.fromisoformat(os.environ["RISKMGR_TEST_CLOCK_START"])
anchor = datetime.fromtimestamp(float(os.environ["RISKMGR_TEST_CLOCK_ANCHOR"]), UTC)
app = create_app(settings.with_changes(extra=settings.extra | {"clock": ShiftedClock(start, anchor)}))
