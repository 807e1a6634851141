"""Servers the tests start: a free localhost port, waiting for a condition, and the app under gunicorn.

``AppServer`` serves the app as `make run` does (gunicorn with gunicorn.conf.py) on a port of its own, its database
migrated once; a test starts and stops it as often as it likes (the same port and database each time), and every
run's output is appended to ``gunicorn.log`` in its folder.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable[[], Any], seconds: float, interval: float = 0.2) -> bool:
    """Return True as soon as ``predicate()`` is true, False once ``seconds`` have passed without."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def http_status(url: str, timeout: float = 3) -> int | None:
    """Return the status of GET ``url``, or None when nothing answers."""
    try:
        return requests.get(url, timeout=timeout).status_code
    except (requests.ConnectionError, requests.Timeout):
        return None


class AppServer:
    """The app under gunicorn on one port and one database (see the module docstring)."""

    def __init__(self, tmp: Path, env: Mapping[str, str], *, wsgi: str = "wsgi:app"):
        self.tmp, self.port, self.wsgi = tmp, free_port(), wsgi
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "INSTANCE_PATH": str(tmp / "instance"), "PORT": str(self.port), "HOST": "127.0.0.1",
                    "FLASK_APP": "app", **env}
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        subprocess.run([str(VENV_BIN / "flask"), "db", "upgrade"], cwd=ROOT, env=self.env, check=True,
                       capture_output=True)

    def start(self, **env: str) -> None:
        """Start gunicorn (``env``: settings for this run only); return once /health answers 200."""
        self._log = open(self.tmp / "gunicorn.log", "ab")  # noqa: SIM115 (closed by stop)
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "--config", "gunicorn.conf.py", self.wsgi], cwd=ROOT, env={**self.env, **env},
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        if not wait_until(lambda: http_status(f"{self.base}/health") == 200, 60):
            pytest.fail("the app did not start: " + self.log()[-2000:])

    def stop(self) -> None:
        """Stop gunicorn (SIGTERM to its process group) and wait for it."""
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def log(self) -> str:
        """Return what gunicorn has written so far."""
        return (self.tmp / "gunicorn.log").read_text()


@contextmanager
def serving(tmp: Path, env: Mapping[str, str], *, wsgi: str = "wsgi:app") -> Iterator[AppServer]:
    """Yield an ``AppServer`` started on ``env``, stopped afterwards (also when it failed to start)."""
    server = AppServer(tmp, env, wsgi=wsgi)
    try:
        server.start()
        yield server
    finally:
        server.stop()
