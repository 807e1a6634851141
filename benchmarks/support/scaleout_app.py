"""The app the scale-out benchmark's Celery workers run: 64 bench venues answering every call in 100 ms.

Started by ``benchmarks/scaleout.py`` as ``celery -A scaleout_app worker`` in this folder; not a benchmark itself
(``make bench`` runs ``benchmarks/*.py`` only) and not a project entry point.
Environment: DATABASE_URL, REDIS_URL, INSTANCE_PATH and BENCH_ACCOUNTS (how many venues).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))  # the project
sys.path.insert(0, str(HERE.parent))  # benchmarks/: the poll benchmark's venue

from poll import LatencyVenue  # noqa: E402  (the poll benchmark's venue: 100 ms per call, concurrent reads)

from riskmgr import create_app  # noqa: E402
from riskmgr.app.config import Settings  # noqa: E402
from riskmgr.core.clock import SystemClock  # noqa: E402
from riskmgr.workers import celery_app  # noqa: E402


def venues(count: int) -> dict[str, LatencyVenue]:
    return {f"acct{i:02d}": LatencyVenue(f"acct{i:02d}", 2, True) for i in range(count)}


def build_app():  # type: ignore[no-untyped-def]
    settings = Settings(
        database_url=os.environ["DATABASE_URL"], instance_path=Path(os.environ["INSTANCE_PATH"]),
        secret_key="bench-only-" + "k" * 40, scheduler_enabled=False, paper_accounts=(),
        redis_url=os.environ["REDIS_URL"],
        extra={"clock": SystemClock(), "adapters": venues(int(os.environ.get("BENCH_ACCOUNTS", "64")))},
    )
    return create_app(settings)


flask_app = build_app()
celery_app._APP = flask_app  # forked pool processes reset this app's connections
celery = flask_app.extensions["celery"]
