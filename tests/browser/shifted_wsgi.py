"""The app as `wsgi.py` builds it, on a clock that runs in real time from RISKMGR_TEST_CLOCK_START (browser tests).

The simulated market is a function of time, so starting the clock at a known bar gives the browser tests a known
signal to work with (the unit tests' T0: a DOGE long) instead of whatever the market does at the wall-clock time.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from riskmgr import create_app
from riskmgr.app.config import Settings


class ShiftedClock:
    """Real time, moved so that it read ``start`` when it was made."""

    def __init__(self, start: datetime):
        self._offset = start - datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset


settings = Settings.from_env()
start = datetime.fromisoformat(os.environ["RISKMGR_TEST_CLOCK_START"])
app = create_app(settings.with_changes(extra=settings.extra | {"clock": ShiftedClock(start)}))
