"""One elected scheduler per database, across processes and machines; a dead leader is replaced within two polls."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from riskmgr.app.leader import FileLock, PostgresLock, lock_for
from tests.conftest import ON_POSTGRES, database_url
from tests.support.servers import wait_until

ROOT = Path(__file__).resolve().parents[2]
POLL_SECONDS = 2
STOP_WITHIN = 30  # the default shutdown grace (20 s), the exit watchdog's slack and a margin for a loaded machine
postgres_only = pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL (set TEST_DATABASE_URL)")


def test_processes_with_different_instance_folders_on_one_sqlite_file_share_one_lock(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first, second = lock_for(url, tmp_path / "a"), lock_for(url, tmp_path / "b")
    assert isinstance(first, FileLock) and first.path == tmp_path / "shared.db.scheduler.lock"
    assert first.try_acquire() and not second.try_acquire()
    first.release()
    assert second.try_acquire()
    second.release()


def test_a_postgresql_url_elects_with_an_advisory_lock(tmp_path):
    assert isinstance(lock_for("postgresql+psycopg://u:secret@db.example/x", tmp_path), PostgresLock)
    assert "secret" not in lock_for("postgresql+psycopg://u:secret@db.example/x", tmp_path).describe()


@postgres_only
def test_only_one_holder_of_the_advisory_lock_and_it_passes_on_when_the_holder_connection_dies(tmp_path):
    url = database_url(tmp_path)
    first, second = PostgresLock(url), PostgresLock(url)
    try:
        assert first.try_acquire() and not second.try_acquire()
        assert first.still_held()
        pid = first._conn.info.backend_pid  # the server kills the leader's connection (a dead machine, say)
        engine = create_engine(url)
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        engine.dispose()
        assert not first.still_held()  # the leader notices and steps down
        assert second.try_acquire()
    finally:
        first.release()
        second.release()


@postgres_only
def test_another_schema_is_another_election(tmp_path):
    one, other = PostgresLock(database_url(tmp_path, "one")), PostgresLock(database_url(tmp_path, "other"))
    try:
        assert one.try_acquire() and other.try_acquire()
    finally:
        one.release()
        other.release()


def _scheduler(tmp_path: Path, name: str, db_url: str) -> subprocess.Popen:
    instance = tmp_path / name
    instance.mkdir()
    env = {**os.environ, "INSTANCE_PATH": str(instance), "DATABASE_URL": db_url, "POLL_SECONDS": str(POLL_SECONDS),
           "RISKMGR_ADMIN_PASSWORD": "walnut prism glacier ember", "FLASK_APP": "app", "LOG_LEVEL": "warning"}
    flask = str(Path(sys.executable).parent / "flask")
    with open(tmp_path / f"{name}.log", "wb") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([flask, "scheduler", "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _runs(db_url: str) -> list[tuple[int, str, float]]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT pid, host, started_at FROM poll_run ORDER BY id")).all()
            return [(r[0], r[1], time.time()) for r in rows]
    finally:
        engine.dispose()


@pytest.mark.slow
def test_two_instances_on_one_database_poll_once_and_the_survivor_takes_over_after_kill_9(tmp_path):
    db_url = database_url(tmp_path, "shared")
    env = {**os.environ, "INSTANCE_PATH": str(tmp_path / "migrate"), "DATABASE_URL": db_url, "FLASK_APP": "app"}
    flask = str(Path(sys.executable).parent / "flask")
    subprocess.run([flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
    procs = {p.pid: p for p in (_scheduler(tmp_path, "one", db_url), _scheduler(tmp_path, "two", db_url))}
    killed: int | None = None  # the leader, once it was sent SIGKILL
    try:
        assert wait_until(lambda: len(_runs(db_url)) >= 4, 90, interval=0.1), "no instance polled"
        time.sleep(POLL_SECONDS * 2)  # both have long been up: the follower would have polled by now
        runs = _runs(db_url)
        leaders = {pid for pid, _, _ in runs}
        assert len(leaders) == 1, f"more than one instance polled: {leaders}"
        leader = leaders.pop()
        assert leader in procs and {host for _, host, _ in runs} == {socket.gethostname()}

        os.kill(leader, signal.SIGKILL)
        killed = leader
        killed_at = time.monotonic()
        seen = len(runs)
        took_over = wait_until(lambda: any(pid != leader for pid, _, _ in _runs(db_url)[seen:]), 60, interval=0.1)
        assert took_over, "no one took over"
        took = time.monotonic() - killed_at
        # within two poll intervals (plus a second for process scheduling on a busy machine)
        assert took <= 2 * POLL_SECONDS + 1.0, f"take-over took {took:.1f} s"
        later = {pid for pid, _, _ in _runs(db_url)[seen:]} - {leader}
        assert len(later) == 1 and later <= set(procs)
    finally:
        _stop_all(procs, killed, tmp_path)


def _stop_all(procs: dict[int, subprocess.Popen], killed: int | None, tmp_path: Path) -> None:
    """SIGTERM every instance still running; each must exit within its shutdown grace (SHUTDOWN_GRACE_SECONDS,
    20 s) plus a margin, and with 0 (3: jobs outlived the grace, and the log names them with every stack)."""
    late, failed = [], []
    for proc in procs.values():
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs.values():
        try:
            code = proc.wait(timeout=STOP_WITHIN)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGUSR1)  # the command prints every thread's stack on SIGUSR1
            time.sleep(1)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            late.append(proc.pid)
            continue
        if proc.pid != killed and code != 0:
            failed.append(f"pid {proc.pid} exited with {code}")
    if late or failed:
        logs = "\n".join(p.read_text(errors="replace")[-8000:] for p in sorted(tmp_path.glob("*.log")))
        what = [f"pid {pid} did not stop within {STOP_WITHIN} s of SIGTERM" for pid in late] + failed
        pytest.fail(f"flask scheduler run: {'; '.join(what)}:\n{logs}")
