"""Celery workers over Redis, on real servers: a private redis-server and `celery worker` processes.

The web side is the real app (``create_app`` with REDIS_URL set, as a web dyno runs it); the workers are real
`celery -A riskmgr.workers.celery_app worker` processes on the same database.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from riskmgr import create_app
from riskmgr.backtest.service import BacktestService
from riskmgr.core.clock import SystemClock
from riskmgr.persistence.extensions import db
from riskmgr.persistence.models import PollRun
from tests.conftest import API_TOKEN, make_settings

pytestmark = pytest.mark.slow
ACCOUNTS = tuple(f"p{i}" for i in range(1, 9))
HEADERS = {"Authorization": f"Bearer {API_TOKEN}"}


def _web(tmp_path, redis_url: str, accounts=ACCOUNTS) -> Any:
    app = create_app(make_settings(tmp_path, redis_url=redis_url, paper_accounts=accounts, scheduler_enabled=True,
                                   extra={"clock": SystemClock()}))
    with app.app_context():
        db.create_all()
    return app


def _env(tmp_path, app, accounts=ACCOUNTS) -> dict[str, str]:
    settings = app.config["RISKMGR"]
    return {**os.environ, "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
            "INSTANCE_PATH": str(tmp_path / "worker-instance"), "PAPER_ACCOUNTS": ",".join(accounts),
            "SECRET_KEY": "worker-test-secret-" + "k" * 40, "LOG_LEVEL": "warning", "FLASK_APP": "app"}


def _wait(predicate, timeout: float, what: str, log=lambda: "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {timeout} s\n{log()}")


def test_the_web_runs_no_jobs_when_redis_is_configured(tmp_path, redis_url):
    from riskmgr.app.scheduler import start_background_jobs

    app = _web(tmp_path, redis_url)
    start_background_jobs(app)
    background = app.extensions["riskmgr"].background
    assert background.scheduler is None and background.lock is None


def test_the_beat_schedule_is_the_job_table(tmp_path, redis_url):
    from riskmgr.app.jobs import job_table

    app = _web(tmp_path, redis_url)
    schedule = app.extensions["celery"].conf.beat_schedule
    assert {k: (v["task"], v["schedule"], v["args"]) for k, v in schedule.items()} == {
        job_id: ("riskmgr.periodic", float(seconds), (job_id,)) for job_id, seconds, _ in job_table(app)}


def test_a_backtest_submitted_through_the_api_completes_on_a_worker_process(tmp_path, redis_url, workers_for):
    app = _web(tmp_path, redis_url)
    workers = workers_for(_env(tmp_path, app))
    workers.start("bt")
    workers.wait_ready(app.extensions["celery"], ["bt"])
    client = app.test_client()

    res = client.post("/api/backtests", headers=HEADERS, json={
        "preset": "conservative", "start": "2026-11-10T00:00", "end": "2026-11-14T00:00", "timezone": "UTC"})
    assert res.status_code == 202, res.get_json()
    run_id = res.get_json()["id"]
    run = _wait(lambda: (r := client.get(f"/api/backtests/{run_id}", headers=HEADERS).get_json())["status"]
                in ("done", "failed") and r, 120, "the run finishing", lambda: workers.log("bt"))
    assert run["status"] == "done", run.get("error")
    assert run["result"]["stats"]["bars"] == 4 * 96
    assert app.extensions["riskmgr"].feature(BacktestService)._futures == {}  # nothing ran in the web process


def test_per_account_polls_spread_over_two_worker_processes_make_one_consistent_snapshot(
        tmp_path, redis_url, workers_for):
    from riskmgr.workers import tasks

    app = _web(tmp_path, redis_url)
    workers = workers_for(_env(tmp_path, app))
    workers.start("w1")
    workers.start("w2")
    celery = app.extensions["celery"]
    workers.wait_ready(celery, ["w1", "w2"])

    with app.app_context():
        tasks.periodic.delay("poll")  # what beat sends every POLL_SECONDS
    runtime = app.extensions["riskmgr"]

    def cycle_recorded() -> bool:
        with Session(runtime.engine) as session:
            return bool(session.scalar(select(func.count()).select_from(PollRun)))

    _wait(cycle_recorded, 90, "after_poll recording the cycle", lambda: workers.log("w1") + workers.log("w2"))
    snaps = runtime.snapshots.latest()
    assert set(snaps) == set(ACCOUNTS)
    assert all(s.status.value == "ok" and s.balance is not None for s in snaps.values())
    with Session(runtime.engine) as session:
        run = session.scalars(select(PollRun)).one()
    assert (run.accounts_ok, run.accounts_failed) == (8, 0)
    # the dashboard's view, rebuilt once after the cycle, holds every account
    view = app.test_client().get("/api/snapshot", headers=HEADERS).get_json()
    assert {a["name"] for a in view["accounts"]} == set(ACCOUNTS)
    served = _served_by(celery)
    assert len(served) == 2, f"the account polls ran on {served}"


def _served_by(celery) -> set[str]:
    """The workers that ran at least one per-account poll (from their own statistics)."""
    stats = celery.control.inspect(timeout=2.0).stats() or {}
    return {name for name, s in stats.items() if s.get("total", {}).get("riskmgr.poll_account", 0) > 0}


def test_an_emergency_stop_started_on_one_instance_halts_order_entry_on_the_other_at_once(tmp_path, redis_url):
    one = _web(tmp_path, redis_url, accounts=("paper",))
    other = create_app(make_settings(tmp_path, redis_url=redis_url, paper_accounts=("paper",),
                                     extra={"clock": SystemClock()}))  # a second web dyno on the same database
    res = one.test_client().post("/api/emergency-stop", headers=HEADERS, json={"reason": "test", "confirm": True})
    assert res.status_code in (200, 202), res.get_json()
    state = other.test_client().get("/api/risk", headers=HEADERS).get_json()
    assert state["trading_state"]["state"] == "HALTED"
    order = other.test_client().post("/api/orders", headers=HEADERS, json={
        "account": "paper", "symbol": "BTC/USDT:USDT", "side": "buy", "type": "market", "qty": "0.001",
        "leverage": 2, "stop_loss": "1000"})
    body = order.get_json()
    assert order.status_code in (400, 409, 422) and "HALTED" in str(body), body


def test_a_worker_killed_mid_backtest_loses_nothing(tmp_path, redis_url, workers_for):
    app = _web(tmp_path, redis_url)
    workers = workers_for(_env(tmp_path, app))
    workers.start("k1")
    workers.wait_ready(app.extensions["celery"], ["k1"])
    client = app.test_client()
    res = client.post("/api/backtests", headers=HEADERS, json={
        "preset": "conservative", "timeframe": "1m", "start": "2026-09-01T00:00", "end": "2026-11-01T00:00",
        "timezone": "UTC"})
    assert res.status_code == 202, res.get_json()
    run_id = res.get_json()["id"]

    _wait(lambda: client.get(f"/api/backtests/{run_id}", headers=HEADERS).get_json()["status"] == "running", 60,
          "the run starting", lambda: workers.log("k1"))
    [child] = workers.children("k1")
    os.kill(child, signal.SIGKILL)  # the process running the task dies mid-run

    run = _wait(lambda: (r := client.get(f"/api/backtests/{run_id}", headers=HEADERS).get_json())["status"]
                in ("done", "failed") and r, 240, "the run ending after the kill", lambda: workers.log("k1"))
    # re-delivered and run to the end by the worker's next process, or failed with a reason — never lost
    assert run["status"] == "done" or run.get("error"), run
    assert run["status"] == "done", f"the re-delivered run failed: {run.get('error')}"
    assert child not in workers.children("k1")


def test_a_periodic_task_never_overlaps_itself(tmp_path, redis_url):
    import redis as redis_lib

    from riskmgr.workers import locks, tasks

    app = _web(tmp_path, redis_url, accounts=("paper",))
    client = redis_lib.Redis.from_url(redis_url)
    with app.app_context():
        token = locks.acquire(client, "job:retention", 60)  # a run of the job is still going somewhere
        assert token is not None
        assert tasks.periodic.run("retention") == "retention: skipped, the previous run is still going"
        assert locks.release(client, "job:retention", token)
        assert tasks.periodic.run("retention") == "retention: done"
        assert locks.holder(client, "job:retention") is None  # released after the run
        with pytest.raises(KeyError, match="no background job 'nope'"):
            tasks.periodic.run("nope")


def test_a_lock_is_released_only_by_its_holder(redis_url):
    import redis as redis_lib

    from riskmgr.workers import locks

    client = redis_lib.Redis.from_url(redis_url)
    mine = locks.acquire(client, "job:x", 0.2)
    assert mine and locks.acquire(client, "job:x", 10) is None
    time.sleep(0.3)  # expired: another run took it over
    theirs = locks.acquire(client, "job:x", 10)
    assert theirs and not locks.release(client, "job:x", mine) and locks.holder(client, "job:x") == theirs
