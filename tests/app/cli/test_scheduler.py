"""``flask scheduler run`` stops on SIGTERM or Ctrl-C within its grace, whichever thread the signal lands on, and a
job that never returns is named in the log and cannot keep the process alive."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from riskmgr.app.shutdown import FORCED_EXIT_CODE
from tests.conftest import database_url
from tests.support.servers import wait_until

ROOT = Path(__file__).resolve().parents[3]
FLASK = str(Path(sys.executable).parent / "flask")
GRACE = 3  # SHUTDOWN_GRACE_SECONDS of the process running the job that never returns
NORMAL_GRACE = 20  # the default, for the others: a poll in flight on a loaded machine is waited for
QUICK = 10  # a stop with no job hanging takes less than this (the jobs in flight finish, the interpreter exits)
MARGIN = 12  # the interpreter's exit and process scheduling on a loaded machine
BLOCKING_APP = "tests.app.cli.blocking_app"  # FLASK_APP with a job that never returns (imported by the child only:
BLOCKING_JOB = "block-forever"  # importing it here would add the job to every app of this test session)
pytestmark = pytest.mark.slow


def _env(tmp_path: Path, flask_app: str, grace: int) -> dict[str, str]:
    return {**os.environ, "INSTANCE_PATH": str(tmp_path / "instance"), "DATABASE_URL": database_url(tmp_path),
            "FLASK_APP": flask_app, "POLL_SECONDS": "1", "RISKMGR_ADMIN_PASSWORD": "walnut prism glacier ember",
            "SHUTDOWN_GRACE_SECONDS": str(grace), "LOG_LEVEL": "info", "BLOCK_MARKER": str(tmp_path / "blocking")}


def _start(tmp_path: Path, flask_app: str = "app", grace: int = NORMAL_GRACE) -> subprocess.Popen:
    env = _env(tmp_path, flask_app, grace)
    subprocess.run([FLASK, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
    with open(tmp_path / "scheduler.log", "wb") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([FLASK, "scheduler", "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _polled(tmp_path: Path) -> bool:
    engine = create_engine(database_url(tmp_path))
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM poll_run")).scalar_one() > 0
    finally:
        engine.dispose()


def _exit_within(proc: subprocess.Popen, tmp_path: Path, seconds: float) -> tuple[int, float, str]:
    """Wait for the process to end; return its exit code, how long it took and its log (SIGKILL and fail if late)."""
    started = time.monotonic()
    try:
        code = proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGUSR1)  # every thread's stack into the log
        time.sleep(1)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        pytest.fail(f"flask scheduler run still ran {seconds:g} s after the signal:\n"
                    f"{(tmp_path / 'scheduler.log').read_text(errors='replace')[-8000:]}")
    return code, time.monotonic() - started, (tmp_path / "scheduler.log").read_text(errors="replace")


def _ready(proc: subprocess.Popen, tmp_path: Path, predicate) -> None:
    if not wait_until(predicate, 90, interval=0.1):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        pytest.fail("the scheduler never got going:\n" + (tmp_path / "scheduler.log").read_text(errors="replace"))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_ends_the_command_at_once_with_exit_code_0(tmp_path, sig):
    proc = _start(tmp_path)
    _ready(proc, tmp_path, lambda: _polled(tmp_path))
    os.killpg(proc.pid, sig)
    code, took, log = _exit_within(proc, tmp_path, NORMAL_GRACE + MARGIN)
    assert code == 0, log[-4000:]
    assert took < QUICK, f"a stop with no job hanging took {took:.1f} s"
    assert "background jobs stopped" in log


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc to find the process's threads")
def test_sigterm_that_lands_on_a_worker_thread_still_stops_the_command(tmp_path):
    # the kernel hands a process-wide signal to any thread that does not block it; Python runs the handler in the
    # main thread only, so a main thread blocked in an untimed wait never saw it (the leader test's 30 s hang)
    proc = _start(tmp_path)
    _ready(proc, tmp_path, lambda: _polled(tmp_path))
    threads = sorted(int(t) for t in os.listdir(f"/proc/{proc.pid}/task") if int(t) != proc.pid)
    assert threads, "the scheduler runs threads of its own"
    os.kill(threads[0], signal.SIGTERM)  # kill() with a thread's id: the signal is delivered to that thread
    code, took, log = _exit_within(proc, tmp_path, NORMAL_GRACE + MARGIN)
    assert code == 0, log[-4000:]
    assert took < QUICK, f"a stop with no job hanging took {took:.1f} s"
    assert "background jobs stopped" in log


def test_a_job_that_never_returns_is_named_and_the_process_exits_when_the_grace_runs_out(tmp_path):
    proc = _start(tmp_path, BLOCKING_APP, GRACE)
    _ready(proc, tmp_path, lambda: (tmp_path / "blocking").exists())
    signalled = time.monotonic()
    os.killpg(proc.pid, signal.SIGTERM)
    code, _, log = _exit_within(proc, tmp_path, GRACE + MARGIN)
    took = time.monotonic() - signalled
    assert code == FORCED_EXIT_CODE, log[-4000:]
    assert GRACE - 0.5 <= took < GRACE + MARGIN, f"exited {took:.1f} s after SIGTERM with a grace of {GRACE} s"
    assert f"did not stop within the shutdown grace of {GRACE} s" in log
    assert f"still running: {BLOCKING_JOB} (thread " in log
    assert "in block_forever" in log.split("Every thread's stack:")[1]  # the stack shows where it hangs
