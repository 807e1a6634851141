"""The trading-state row: present from the migration on, and never a first-use insert race on a create_all schema."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from riskmgr.core.clock import FixedClock
from riskmgr.core.domain import TradingState
from riskmgr.persistence.audit import AuditLog
from riskmgr.persistence.extensions import db
from riskmgr.persistence.models import TradingStateRecord
from riskmgr.risk.trading_state import TradingStateStore
from tests.conftest import database_url, make_engine

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
THREADS = 12


def _rows(engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(TradingStateRecord))


def _fresh_schema(url: str):
    engine = make_engine(url)
    db.metadata.create_all(engine)
    return engine


def test_n_threads_reading_the_state_of_a_fresh_database_at_once_then_no_error_and_one_row(tmp_path):
    engine = _fresh_schema(database_url(tmp_path, "race"))
    clock = FixedClock(T0)
    store = TradingStateStore(engine, clock, AuditLog(engine, clock))
    start = threading.Barrier(THREADS)
    states: list[TradingState] = []
    errors: list[BaseException] = []

    def first_request() -> None:
        start.wait()
        try:
            states.append(store.current().state)
        except Exception as exc:  # the test collects every failure to report it
            errors.append(exc)

    workers = [threading.Thread(target=first_request) for _ in range(THREADS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    assert errors == []
    assert states == [TradingState.ACTIVE] * THREADS
    assert _rows(engine) == 1


def _read_in_a_process(url: str, start, results) -> None:
    engine = make_engine(url)
    clock = FixedClock(T0)
    store = TradingStateStore(engine, clock, AuditLog(engine, clock))
    start.wait()
    try:
        results.put(store.current().state.value)
    except Exception as exc:  # sent to the parent, which asserts there is none
        results.put(f"error: {exc!r}")


def test_two_processes_reading_the_state_of_a_fresh_database_at_once_then_no_error_and_one_row(tmp_path):
    url = database_url(tmp_path, "race")
    engine = _fresh_schema(url)
    spawn = multiprocessing.get_context("spawn")
    start, results = spawn.Barrier(2), spawn.Queue()
    workers = [spawn.Process(target=_read_in_a_process, args=(url, start, results)) for _ in range(2)]
    for worker in workers:
        worker.start()
    answers = sorted(results.get(timeout=120) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)

    assert answers == ["ACTIVE", "ACTIVE"]
    assert _rows(engine) == 1


def test_a_change_after_the_racing_first_reads_is_kept(tmp_path):
    engine = _fresh_schema(database_url(tmp_path, "race"))
    clock = FixedClock(T0)
    store = TradingStateStore(engine, clock, AuditLog(engine, clock))

    assert store.current().state is TradingState.ACTIVE
    assert store.escalate(TradingState.HALTED, "drawdown 6 %", "risk-engine")
    assert store.current().state is TradingState.HALTED
    assert _rows(engine) == 1


def test_after_the_migrations_the_row_is_active_before_any_request(tmp_path):
    url = database_url(tmp_path, "m")
    env = {**os.environ, "INSTANCE_PATH": str(tmp_path), "DATABASE_URL": url, "FLASK_APP": "app"}
    flask = str(Path(sys.executable).parent / "flask")
    subprocess.run([flask, "db", "upgrade", "heads"], cwd=ROOT, env=env, check=True, capture_output=True)
    engine = create_engine(url)

    with Session(engine) as session:
        row = session.get(TradingStateRecord, 1)

    assert (row.state, row.reason, row.changed_by) == ("ACTIVE", "initial state", "system")
    assert _rows(engine) == 1
