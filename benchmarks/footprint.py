"""Benchmark the footprint of a web worker: start to first /health, and memory after running a while.

Both servers start exactly as `make run` starts riskmgr (gunicorn with gunicorn.conf.py, 2 workers, a fresh
SQLite database migrated first, the paper exchange on the simulated market, the poller running every 5 s):

- A, the baseline: the same gunicorn serving a one-route Flask app (what the server and Flask cost by themselves);
- B, the project: riskmgr.

A and B start interleaved (A, B, A, B, ...), PAIRS pairs: the median time from launch to the first 200 from /health.
Then riskmgr runs for RUN_SECONDS (default 300: five minutes) with one client asking for /api/snapshot and the
dashboard every second, and the resident memory (RSS) of each worker is read from /proc.

Targets: every riskmgr worker under 200 MB RSS after the run; start to first /health under 15 s. Exits 1 when a
target is missed. (That a worker never imports the migration tooling is proven by tests/app/test_footprint.py.)

Run: .venv/bin/python benchmarks/footprint.py   (RUN_SECONDS=60 for a quick look; the target is judged at 300)
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(sys.executable).parent
PAIRS = 3
RUN_SECONDS = int(os.environ.get("RUN_SECONDS", "300"))
TARGET_RSS_MB, TARGET_START_S = 200.0, 15.0
TOKEN = "kV3q9Zr-T2wXb8LmN4pYc7HdJ6sFa1Ue"  # random: passes the start-up strength check
PASSWORD = "quiver lantern mosaic tundra"
MINIMAL_APP = (
    "from flask import Flask\napp = Flask(__name__)\n\n\n@app.get('/health')\ndef health():\n"
    "    return {'status': 'ok'}\n"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_health(base: str, started: float, proc: subprocess.Popen) -> float:
    """Return the seconds from ``started`` to the first 200 from /health."""
    while time.perf_counter() - started < 120:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(base + "/health", timeout=2) as answer:  # noqa: S310 (localhost only)
                if answer.status == 200:
                    return time.perf_counter() - started
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the server did not answer /health within 120 s")


def launch(kind: str, folder: Path) -> tuple[subprocess.Popen, str, float]:
    """Start one server (``kind`` "minimal" or "riskmgr"); return it, its base URL and its start time."""
    port = free_port()
    env = {**os.environ, "INSTANCE_PATH": str(folder / "instance"), "DATABASE_URL": f"sqlite:///{folder / 'app.db'}",
           "PORT": str(port), "HOST": "127.0.0.1", "WEB_CONCURRENCY": "2", "FLASK_APP": "app",
           "RISKMGR_ADMIN_PASSWORD": PASSWORD, "RISKMGR_API_TOKEN": TOKEN, "POLL_SECONDS": "5"}
    if kind == "riskmgr":
        subprocess.run([str(VENV / "flask"), "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
        args, cwd = [str(VENV / "gunicorn"), "--config", "gunicorn.conf.py", "wsgi:app"], ROOT
    else:
        (folder / "minimal_app.py").write_text(MINIMAL_APP)
        args = [str(VENV / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4",
                "minimal_app:app"]
        cwd = folder
    started = time.perf_counter()
    proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    return proc, f"http://127.0.0.1:{port}", started


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def workers(proc: subprocess.Popen) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(proc.pid)], capture_output=True, text=True, check=False)
    return [int(p) for p in out.stdout.split()]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_times() -> tuple[float, float]:
    times: dict[str, list[float]] = {"minimal": [], "riskmgr": []}
    for _ in range(PAIRS):
        for kind in ("minimal", "riskmgr"):
            with tempfile.TemporaryDirectory() as tmp:
                proc, base, started = launch(kind, Path(tmp))
                try:
                    times[kind].append(wait_health(base, started, proc))
                finally:
                    stop(proc)
    return statistics.median(times["minimal"]), statistics.median(times["riskmgr"])


def soak(folder: Path) -> tuple[list[float], list[float]]:
    """Run riskmgr for RUN_SECONDS under light load; return its workers' RSS and the minimal app's."""
    minimal, minimal_base, minimal_started = launch("minimal", folder / "a")
    proc, base, started = launch("riskmgr", folder / "b")
    try:
        wait_health(minimal_base, minimal_started, minimal)
        wait_health(base, started, proc)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        deadline = time.monotonic() + RUN_SECONDS
        while time.monotonic() < deadline:
            for path in ("/api/snapshot", "/"):
                request = urllib.request.Request(base + path, headers=headers)  # noqa: S310 (localhost only)
                with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
                    answer.read()
            time.sleep(1)
        return [rss_mb(p) for p in workers(proc)], [rss_mb(p) for p in workers(minimal)]
    finally:
        stop(proc)
        stop(minimal)


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="riskmgr-footprint-"))
    (folder / "a").mkdir()
    (folder / "b").mkdir()
    start_a, start_b = start_times()
    print(f"start to first /health, {PAIRS} interleaved pairs (medians): A minimal Flask app {start_a:.2f} s, "
          f"B riskmgr {start_b:.2f} s, B / A {start_b / start_a:.1f}x (target B < {TARGET_START_S:g} s)")
    rss_b, rss_a = soak(folder)
    print(f"worker RSS after {RUN_SECONDS} s: A minimal {', '.join(f'{r:.0f}' for r in rss_a)} MB; "
          f"B riskmgr {', '.join(f'{r:.0f}' for r in rss_b)} MB (target each < {TARGET_RSS_MB:g} MB)")
    missed = []
    if start_b >= TARGET_START_S:
        missed.append("start to first /health")
    if not rss_b or max(rss_b) >= TARGET_RSS_MB:
        missed.append("worker RSS")
    if RUN_SECONDS < 300:
        print(f"note: RUN_SECONDS={RUN_SECONDS} is shorter than the five minutes the target is judged at")
    if missed:
        print("TARGET MISSED: " + ", ".join(missed))
        return 1
    print("targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
