"""The beat schedule, generated from the same job table the in-process scheduler runs."""

from __future__ import annotations

from typing import Any

from flask import Flask


def beat_schedule(app: Flask) -> dict[str, dict[str, Any]]:
    """Return one beat entry per background job: the ``riskmgr.periodic`` task with the job's id and interval."""
    from riskmgr.app.jobs import job_table

    return {
        job_id: {"task": "riskmgr.periodic", "schedule": float(seconds), "args": (job_id,),
                 # a run still queued when the next is due is dropped, not piled up behind a busy worker
                 "options": {"expires": max(float(seconds), 1.0)}}
        for job_id, seconds, _ in job_table(app)
    }
