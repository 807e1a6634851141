"""A stop waits for the running jobs up to its deadline, names the late ones and releases the leader lock anyway."""

import threading
import time

from riskmgr.app.leader import FileLock
from riskmgr.app.scheduler import stop_background_jobs
from riskmgr.app.shutdown import RunningJobs, thread_stacks


def _run_in_thread(running: RunningJobs, name: str, release: threading.Event) -> threading.Thread:
    started = threading.Event()

    def job() -> None:
        with running.track(name):
            started.set()
            release.wait(30)

    thread = threading.Thread(target=job, name=f"job-{name}", daemon=True)
    thread.start()
    assert started.wait(5)
    return thread


def test_a_stop_waits_for_a_running_job_that_finishes_within_the_grace():
    running, release = RunningJobs(), threading.Event()
    thread = _run_in_thread(running, "poll", release)
    assert running.names() == ["poll (thread job-poll)"]
    threading.Timer(0.2, release.set).start()
    assert running.wait_idle(time.monotonic() + 10) == []
    thread.join(5)


def test_a_job_still_running_at_the_deadline_is_named_with_its_thread():
    running, release = RunningJobs(), threading.Event()
    _run_in_thread(running, "signal-scan", release)
    started = time.monotonic()
    try:
        assert running.wait_idle(started + 0.3) == ["signal-scan (thread job-signal-scan)"]
        assert 0.25 <= time.monotonic() - started < 5
    finally:
        release.set()


def test_stopping_with_a_job_past_the_grace_returns_it_and_releases_the_scheduler_lock(app, tmp_path):
    bg = app.extensions["riskmgr"].background
    lock = FileLock(tmp_path / "scheduler.lock")
    assert lock.try_acquire()
    bg.lock = lock
    release = threading.Event()
    _run_in_thread(bg.running, "paper-tick", release)
    try:
        late = stop_background_jobs(app, time.monotonic() + 0.3)
        assert late == ["paper-tick (thread job-paper-tick)"]
        other = FileLock(tmp_path / "scheduler.lock")  # another process's view: the lock is free to take over
        assert other.try_acquire()
        other.release()
        assert bg.lock is None
    finally:
        release.set()


def test_the_stack_dump_shows_every_thread_by_name_and_where_it_waits():
    running, release = RunningJobs(), threading.Event()
    _run_in_thread(running, "retention", release)
    try:
        stacks = thread_stacks()
    finally:
        release.set()
    assert "--- thread job-retention (daemon)" in stacks
    assert "release.wait(30)" in stacks  # the line the job waits on
    assert "--- thread MainThread" in stacks
