"""FLASK_APP for the shutdown tests: the app with one more background job, ``block-forever``, that never returns.

The job writes the file named by ``BLOCK_MARKER`` when it starts, so a test knows it is running before it signals.
Only the child process imports this module: importing it adds the job to every app built in that process.
"""

import os
import threading
from pathlib import Path

from riskmgr import create_app
from riskmgr.app import jobs

BLOCKING_JOB = "block-forever"
_job_table = jobs.job_table


def block_forever() -> None:
    Path(os.environ["BLOCK_MARKER"]).write_text("started", encoding="utf-8")
    threading.Event().wait()  # no timeout: only the end of the process ends it


def _with_blocking_job(app):  # type: ignore[no-untyped-def]
    return [*_job_table(app), (BLOCKING_JOB, 1, block_forever)]


jobs.job_table = _with_blocking_job  # build_scheduler reads the table from the module when it builds the scheduler
app = create_app()
