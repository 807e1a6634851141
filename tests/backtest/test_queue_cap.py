"""The backtest queue cap is counted in the database: every process and worker sees the same queue."""

from __future__ import annotations

import multiprocessing

import pytest

from riskmgr import create_app
from riskmgr.backtest.runs import QUEUED, RunStore
from riskmgr.backtest.service import MAX_WAITING, BacktestService
from riskmgr.core.errors import ValidationError
from riskmgr.persistence.extensions import db
from tests.conftest import T0, make_settings


def _store(tmp_path) -> tuple[RunStore, object]:
    from riskmgr.core.clock import FixedClock

    app = create_app(make_settings(tmp_path, extra={"clock": FixedClock(T0)}))
    with app.app_context():
        db.create_all()
    runtime = app.extensions["riskmgr"]
    params, _ = runtime.feature(BacktestService).resolve({})
    return RunStore(runtime), params


def test_runs_queued_by_another_process_count_against_the_cap(tmp_path):
    mine, params = _store(tmp_path)
    theirs, _ = _store(tmp_path)  # another app (process) on the same database
    for i in range(MAX_WAITING):
        (mine if i % 2 else theirs).create(params, None, "t", cap=MAX_WAITING)
    with pytest.raises(ValidationError, match=f"{MAX_WAITING} backtests are already waiting") as refused:
        mine.create(params, None, "t", cap=MAX_WAITING)
    assert refused.value.field == "preset"
    assert sum(1 for r in mine.recent() if r.status == QUEUED) == MAX_WAITING


def _submit_many(tmp_path: str, count: int, start, out) -> None:  # type: ignore[no-untyped-def]
    from pathlib import Path

    store, params = _store(Path(tmp_path))
    start.wait()
    accepted = 0
    for _ in range(count):
        try:
            store.create(params, None, "race", cap=MAX_WAITING)
            accepted += 1
        except ValidationError:
            pass
    out.put(accepted)


def test_two_processes_racing_to_queue_never_exceed_the_cap(tmp_path):
    _store(tmp_path)  # the schema
    spawn = multiprocessing.get_context("spawn")
    start, out = spawn.Barrier(2), spawn.Queue()
    procs = [spawn.Process(target=_submit_many, args=(str(tmp_path), 6, start, out)) for _ in range(2)]
    for p in procs:
        p.start()
    accepted = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert sum(accepted) == MAX_WAITING
