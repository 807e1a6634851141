"""The background jobs run in exactly one process, never overlap, and move to another worker if it dies."""

import itertools
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from riskmgr import create_app
from riskmgr.app.scheduler import ProcessLock, build_scheduler
from tests.conftest import database_url, make_settings
from tests.support.servers import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]


def test_only_one_holder_of_the_scheduler_lock(tmp_path):
    first, second = ProcessLock(tmp_path / "s.lock"), ProcessLock(tmp_path / "s.lock")
    assert first.try_acquire() is True
    assert second.try_acquire() is False
    first.release()
    assert second.try_acquire() is True


def test_jobs_never_overlap_and_missed_runs_coalesce(tmp_path, clock):
    app = create_app(make_settings(tmp_path, extra={"clock": clock}))
    scheduler = build_scheduler(app)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) >= {"poll", "paper-tick"}
    assert all(job.max_instances == 1 and job.coalesce for job in jobs.values())
    assert jobs["poll"].trigger.interval.total_seconds() == 5


def _runs(db_url: str) -> list[tuple[int, str, str]]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT pid, started_at, finished_at FROM poll_run ORDER BY id"))
            return [tuple(r) for r in rows]
    finally:
        engine.dispose()


@pytest.mark.slow
def test_gunicorn_with_four_workers_runs_exactly_one_poller(tmp_path):
    instance = tmp_path / "instance"
    db_url = database_url(tmp_path, "gunicorn")
    env = {
        **os.environ, "INSTANCE_PATH": str(instance), "DATABASE_URL": db_url, "POLL_SECONDS": "1",
        "RISKMGR_ADMIN_PASSWORD": "walnut prism glacier ember", "PORT": str(free_port()), "WEB_CONCURRENCY": "4",
        "FLASK_APP": "app",
    }
    venv = Path(sys.executable).parent
    subprocess.run([str(venv / "flask"), "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    server = subprocess.Popen(
        [str(venv / "gunicorn"), "--config", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    try:
        if not wait_until(lambda: len(_runs(db_url)) >= 6, 60, 0.25):
            os.killpg(server.pid, signal.SIGTERM)
            said = server.communicate(timeout=30)[1].decode()[-3000:]
            pytest.fail("the poller never ran 6 cycles; gunicorn said:\n" + said)
        runs = _runs(db_url)
        assert len({pid for pid, _, _ in runs}) == 1, "more than one process ran poll cycles"
        for (_, _, finished), (_, started, _) in itertools.pairwise(runs):
            assert started >= finished, "two poll cycles overlapped"

        owner = runs[-1][0]
        os.kill(owner, signal.SIGKILL)  # the worker running the scheduler dies; another must take over
        assert wait_until(lambda: any(pid != owner for pid, _, _ in _runs(db_url)), 30, 0.25), "no worker took over"
        later = [pid for pid, _, _ in _runs(db_url) if pid != owner]
        assert len(set(later)) == 1
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
