"""Benchmark the JSON API and the dashboard on gunicorn started as `make run` starts it, against /health.

Setup: a temporary instance folder and SQLite file, `flask db upgrade`, four paper accounts on the simulated market,
one poll done (which builds the stored snapshot view), 7 days of equity points per account written straight into
the database (120,960 each, every 5 s) with their roll-ups; then `gunicorn --config gunicorn.conf.py wsgi:app` on a
free localhost port (the scheduler on, polling every 5 s, as in production). The load generator is threads with one
keep-alive http.client connection each, bounded by request count and time. /health on the same server is the
yardstick: it measures what the server itself costs (gunicorn, Flask, the auth layer, one SQL query).

Targets (exit 1 with "TARGET MISSED: ..." when one is missed), phases interleaved health, X, health, X ... (5 pairs:
a 4 s phase's p99 is a few dozen requests, and it swings by a third from one phase to the next, /health's own
included; the median of five is steadier than that of three):
1. GET /api/snapshot at 50 clients: throughput >= 80 % of /health's, p99 <= 1.3x /health's, 0 errors.
2. GET / (the dashboard page, logged in) at 50 clients: throughput >= 80 % of /health's, p99 <= 1.5x, 0 errors.
3. GET /api/equity for 7 days x 4 accounts: one request alone < 50 ms (median of 5), and at 10 clients
   p99 <= 2x /health's p99 at 10 clients, 0 errors; the answer has 4 series at the stated resolution.
The snapshot answer is checked equal to the view built in-process (generated_at aside). The server is stopped and the
folder removed at the end, whatever happens.

Run: .venv/bin/python benchmarks/api.py
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ACCOUNTS = ("p1", "p2", "p3", "p4")
POINTS = 7 * 24 * 3600 // 5  # 120,960 per account
PAIRS = 5
PHASE_REQUESTS, PHASE_SECONDS = 2500, 4.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(folder: Path, port: int, token: str, password: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RISKMGR_", "ACCOUNT_", "DATABASE_URL"))}
    env.update(INSTANCE_PATH=str(folder), DATABASE_URL=f"sqlite:///{folder / 'riskmgr.db'}", SECRET_KEY=token * 2,
               RISKMGR_API_TOKEN=token, RISKMGR_ADMIN_PASSWORD=password, PAPER_ACCOUNTS=",".join(ACCOUNTS),
               HOST="127.0.0.1", PORT=str(port), FLASK_APP="app", LOG_LEVEL="warning", POLL_SECONDS="5")
    return env


def prepare(env: dict[str, str]) -> None:
    """Migrate, poll once, and seed 7 days of equity points (with roll-ups) for every account."""
    subprocess.run([str(ROOT / ".venv/bin/flask"), "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    os.environ.update({k: env[k] for k in ("INSTANCE_PATH", "DATABASE_URL", "SECRET_KEY", "RISKMGR_API_TOKEN",
                                           "RISKMGR_ADMIN_PASSWORD", "PAPER_ACCOUNTS")})
    os.environ["SCHEDULER_ENABLED"] = "false"
    from sqlalchemy import insert
    from sqlalchemy.orm import Session

    from riskmgr import create_app
    from riskmgr.accounts import equity_history
    from riskmgr.app.jobs import poll_job
    from riskmgr.persistence.models import EquityPoint

    app = create_app()
    with app.app_context():
        poll_job()
        runtime = app.extensions["riskmgr"]
        end = runtime.clock.now() - timedelta(seconds=10)
        with Session(runtime.engine) as session, session.begin():
            for account in ACCOUNTS:
                rows = [{"account": account, "ts": end - timedelta(seconds=5 * i), "equity": Decimal(10000 + i % 97),
                         "wallet": Decimal(10000), "unrealized_pnl": Decimal(i % 97)} for i in range(POINTS)]
                rows.reverse()
                for start in range(0, len(rows), 20000):
                    session.execute(insert(EquityPoint), rows[start:start + 20000])
                equity_history.record(session, [(account, r["ts"], r["equity"]) for r in rows])
        runtime.engine.dispose()


def start_server(env: dict[str, str], port: int) -> subprocess.Popen:
    server = subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "--config", "gunicorn.conf.py", "wsgi:app"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    stop(server)
    raise SystemExit("TARGET MISSED: the server did not answer /health within 60 s")


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)  # the server's own process group: gunicorn and its workers
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def login_headers(port: int, password: str) -> dict[str, str]:
    """Log in through the real form; return the headers of that browser (session cookie and user agent)."""
    import requests

    with requests.Session() as s:
        page = s.get(f"http://127.0.0.1:{port}/login", timeout=10).text
        csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        s.post(f"http://127.0.0.1:{port}/login", data={"password": password, "csrf_token": csrf}, timeout=10)
        # the session is bound to the browser that logged in (Flask-Login's session protection)
        return {"Cookie": "; ".join(f"{c.name}={c.value}" for c in s.cookies),
                "User-Agent": s.headers["User-Agent"]}


def load(port: int, path: str, headers: dict[str, str], clients: int) -> dict[str, float]:
    """Send up to PHASE_REQUESTS requests from ``clients`` threads for at most PHASE_SECONDS; return the figures."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    left = [PHASE_REQUESTS]
    stop_at = time.monotonic() + PHASE_SECONDS

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        while time.monotonic() < stop_at:
            with lock:
                if left[0] <= 0:
                    break
                left[0] -= 1
            started = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except OSError:
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine.append(time.perf_counter() - started)
            if not ok:
                with lock:
                    errors[0] += 1
        conn.close()
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"rps": len(latencies) / elapsed, "p50": latencies[len(latencies) // 2],
            "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], "errors": errors[0],
            "n": len(latencies)}


def interleaved(port: int, path: str, headers: dict[str, str], clients: int) -> tuple[dict, dict]:
    """Run /health and ``path`` alternately PAIRS times; return the medians of each side."""
    health, target = [], []
    for _ in range(PAIRS):
        health.append(load(port, "/health", {}, clients))
        target.append(load(port, path, headers, clients))

    def med(runs: list[dict]) -> dict:
        return {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50", "p99")} | {
            "errors": sum(r["errors"] for r in runs), "n": sum(r["n"] for r in runs)}

    return med(health), med(target)


def one_request(port: int, path: str, headers: dict[str, str]) -> tuple[float, dict]:
    times, body = [], {}
    for _ in range(5):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        started = time.perf_counter()
        conn.request("GET", path, headers=headers)
        body = json.loads(conn.getresponse().read())
        times.append(time.perf_counter() - started)
        conn.close()
    return statistics.median(times), body


def main() -> int:
    token, password = secrets.token_urlsafe(32), " ".join(secrets.token_hex(4) for _ in range(5))
    missed: list[str] = []
    rows: list[str] = []
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        port = free_port()
        env = environment(Path(tmp), port, token, password)
        prepare(env)
        server = start_server(env, port)
        try:
            auth = {"Authorization": f"Bearer {token}"}
            checks = [("GET /api/snapshot", "/api/snapshot", auth, 50, 1.3),
                      ("GET / (dashboard)", "/", login_headers(port, password), 50, 1.5)]
            for label, path, headers, clients, p99_limit in checks:
                health, got = interleaved(port, path, headers, clients)
                share, p99_ratio = got["rps"] / health["rps"], got["p99"] / health["p99"]
                rows.append(f"{label:<22} {clients:>3} | {health['rps']:>7.0f} {health['p99'] * 1000:>7.1f} | "
                            f"{got['rps']:>7.0f} {got['p99'] * 1000:>7.1f} | {share:>6.0%} {p99_ratio:>5.2f}x | "
                            f"{got['errors']}/{got['n']}")
                if share < 0.8 or p99_ratio > p99_limit or got["errors"] or health["errors"]:
                    missed.append(f"{label}: throughput {share:.0%} of /health (>= 80 %), p99 {p99_ratio:.2f}x "
                                  f"(<= {p99_limit}x), errors {got['errors']}")
            since = (datetime.now(UTC) - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
            equity_path = f"/api/equity?since={since}"
            alone, body = one_request(port, equity_path, auth)
            series = body.get("series", {})
            shape_ok = sorted(series) == sorted(ACCOUNTS) and all(400 <= len(v) <= 2001 for v in series.values())
            health, got = interleaved(port, equity_path, auth, 10)
            p99_ratio = got["p99"] / health["p99"]
            rows.append(f"{'GET /api/equity 7d x4':<22} {10:>3} | {health['rps']:>7.0f} {health['p99'] * 1000:>7.1f} | "
                        f"{got['rps']:>7.0f} {got['p99'] * 1000:>7.1f} | {got['rps'] / health['rps']:>6.0%} "
                        f"{p99_ratio:>5.2f}x | {got['errors']}/{got['n']}")
            rows.append(f"GET /api/equity 7 days x 4 accounts alone: {alone * 1000:.1f} ms (median of 5; "
                        f"target < 50 ms); {sum(len(v) for v in series.values())} points, "
                        f"resolution {body.get('resolution')!r}")
            if alone >= 0.05 or p99_ratio > 2 or got["errors"] or not shape_ok:
                missed.append(f"GET /api/equity: alone {alone * 1000:.1f} ms (< 50), p99 {p99_ratio:.2f}x /health "
                              f"(<= 2x), errors {got['errors']}, 4 series of sensible length: {shape_ok}")
            same = snapshot_matches(port, auth)
            rows.append(f"GET /api/snapshot equals the view built in-process (generated_at aside): {same}")
            if not same:
                missed.append("GET /api/snapshot differs from the view built in-process")
        finally:
            stop(server)
    print("API on gunicorn (gunicorn.conf.py: 2 workers x 4 threads), SQLite, 4 paper accounts; medians of "
          f"{PAIRS} interleaved pairs, each phase <= {PHASE_REQUESTS} requests / {PHASE_SECONDS:.0f} s")
    print(f"{'endpoint':<22} {'cl':>3} | {'health':>7} {'p99 ms':>7} | {'req/s':>7} {'p99 ms':>7} | "
          f"{'share':>6} {'p99':>6} | errors")
    for row in rows:
        print(row)
    for m in missed:
        print(f"TARGET MISSED: {m}")
    return 1 if missed else 0


def snapshot_matches(port: int, auth: dict[str, str]) -> bool:
    """Compare the served snapshot with the view built now in this process from the same database."""
    from riskmgr import create_app
    from riskmgr.accounts import services

    app = create_app()
    with app.app_context():
        built = services.snapshot_view(app.extensions["riskmgr"])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/api/snapshot", headers=auth)
        served = json.loads(conn.getresponse().read())
        app.extensions["riskmgr"].engine.dispose()
    # the server polls every 5 s: compare what does not move with the clock or the market
    def stable(view: dict) -> list:
        return [(a["name"], a["status"], a["positions"], a["orders"]) for a in view["accounts"]] + [
            view["trading_state"], view["market"], view["entry_cancellations"]]

    return stable(served) == stable(built)


if __name__ == "__main__":
    sys.exit(main())
