"""Real servers for the worker tests: a private Redis on a free port, and Celery worker processes."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> Iterator[str]:
    """A private redis-server (no persistence) for the session; its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server; .ci/run does)")
    folder = tmp_path_factory.mktemp("redis")
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.1)
    yield f"redis://127.0.0.1:{port}/0"
    import gc

    gc.collect()  # Celery results still referenced reach for the server when collected: collect them while it runs
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def redis_url(redis_server) -> str:
    """The session's Redis, emptied for this test (no queued task or lock from an earlier test)."""
    import redis

    redis.Redis.from_url(redis_server).flushall()
    return redis_server


class Workers:
    """Celery worker processes on the test's database and Redis; stopped at the end of the test."""

    def __init__(self, env: dict[str, str], folder: Path):
        self.env, self.folder, self.procs = env, folder, {}

    def start(self, name: str, concurrency: int = 1) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "wb")  # noqa: SIM115 (the worker writes to it until stopped)
        proc = subprocess.Popen(
            [str(VENV_BIN / "celery"), "-A", "riskmgr.workers.celery_app", "worker", "--loglevel=INFO",
             f"--concurrency={concurrency}", "-n", f"{name}@%h", "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[name] = proc
        return proc

    def wait_ready(self, celery, names: list[str], timeout: float = 90) -> None:
        wanted = {f"{n}@{socket.gethostname()}" for n in names}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answered = {next(iter(r)) for r in celery.control.ping(timeout=1.0) or []}
            if wanted <= answered:
                return
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise AssertionError(f"worker {name} exited: {self.log(name)}")
        raise AssertionError(f"workers not ready in {timeout} s: " + " | ".join(self.log(n) for n in names))

    def log(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def children(self, name: str) -> list[int]:
        """The pool processes of worker ``name`` (where its tasks run)."""
        pid = self.procs[name].pid
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        return [int(p) for p in text.split()]

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture
def workers_for(tmp_path) -> Iterator:
    made: list[Workers] = []

    def make(env: dict[str, str]) -> Workers:
        w = Workers(env, tmp_path)
        made.append(w)
        return w

    yield make
    for w in made:
        w.stop()
