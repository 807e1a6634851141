"""Benchmark scale-out on Celery workers over Redis: the poll cycle and backtests on 1, 2 and 4 worker processes.

Setup: a private redis-server on a free port, a SQLite file in WAL mode (PostgreSQL when TEST_DATABASE_URL is set),
and three Celery workers started side by side, each on its own queue: 1, 2 and 4 pool processes. Every venue call
of the 64 bench accounts sleeps 100 ms (benchmarks/poll.py's LatencyVenue; the three reads of an account overlap).

Measured, interleaved round after round (1, 2, 4, 1, 2, 4, ...; 3 rounds; medians):
1. Poll cycle of 64 accounts: the per-account poll tasks fanned out on one queue, then the after-poll step (risk
   engine, watchdog, alerts over the latest snapshots), until the cycle is recorded. Every cycle must read all 64
   accounts OK. Targets: 2 processes >= 1.6x faster than 1, 4 processes >= 2.5x faster than 1.
2. 16 backtests (Conservative preset, 6 months of 15-minute bars) on 1 and 2 processes, until all 16 are done; every
   run must end "done" with the same trades and final equity as the others (same settings, same data).
   Target: 2 processes >= 1.5x faster than 1 (the machine has 2 cores; backtests are CPU-bound).
Exit 1 with "TARGET MISSED: ..." when a target is missed. Under load, trust the ratios more than the times.

Run: .venv/bin/python benchmarks/scaleout.py
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

ACCOUNTS, ROUNDS, BACKTESTS = 64, 3, 16
SIZES = (1, 2, 4)
POLL_TARGETS = {2: 1.6, 4: 2.5}
BACKTEST_TARGET = 1.5
# half a year of 15-minute bars per run: long enough that the runs' computing, not the hand-over, is measured
BACKTEST_BODY = {"preset": "conservative", "start": "2026-05-01T00:00", "end": "2026-10-31T00:00", "timezone": "UTC"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(folder: Path) -> tuple[subprocess.Popen, str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("TARGET MISSED: redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    client = redis.Redis(host="127.0.0.1", port=port)
    for _ in range(200):
        try:
            client.ping()
            return proc, f"redis://127.0.0.1:{port}/0"
        except redis.ConnectionError:
            time.sleep(0.05)
    raise SystemExit("TARGET MISSED: redis-server did not start")


def start_worker(env: dict[str, str], size: int, folder: Path) -> subprocess.Popen:
    log = open(folder / f"worker{size}.log", "wb")  # noqa: SIM115 (the worker writes to it until stopped)
    return subprocess.Popen(
        [str(ROOT / ".venv/bin/celery"), "-A", "scaleout_app", "worker", "--loglevel=WARNING",
         f"--concurrency={size}", "-Q", f"q{size}", "-n", f"w{size}@%h", "--without-gossip", "--without-mingle"],
        cwd=HERE / "support", env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(celery: Any, procs: dict[int, subprocess.Popen]) -> None:
    wanted = {f"w{size}@{socket.gethostname()}" for size in procs}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if wanted <= {next(iter(r)) for r in celery.control.ping(timeout=1.0) or []}:
            return
        dead = [size for size, p in procs.items() if p.poll() is not None]
        if dead:
            raise SystemExit(f"TARGET MISSED: worker(s) {dead} exited at start")
    raise SystemExit("TARGET MISSED: the workers did not answer within 120 s")


def poll_cycle(app: Any, size: int) -> float:
    """Fan one poll out on queue q<size>; return the seconds until the cycle is recorded (all accounts OK)."""
    from celery import chord, group
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from riskmgr.persistence.models import PollRun
    from riskmgr.workers import tasks

    runtime = app.extensions["riskmgr"]
    with Session(runtime.engine) as session:
        before = session.scalar(select(func.count()).select_from(PollRun))
    queue = f"q{size}"
    started = time.perf_counter()
    with app.app_context():
        now = runtime.clock.now()
        chord(group(tasks.poll_account.s(n).set(queue=queue) for n in runtime.accounts))(
            tasks.after_poll.s(now.isoformat(), None).set(queue=queue))
    while True:
        with Session(runtime.engine) as session:
            runs = session.scalars(select(PollRun).order_by(PollRun.id)).all()
        if len(runs) > before:
            seconds = time.perf_counter() - started
            last = runs[-1]
            if (last.accounts_ok, last.accounts_failed) != (ACCOUNTS, 0):
                raise SystemExit(f"TARGET MISSED: a cycle read {last.accounts_ok} of {ACCOUNTS} accounts")
            return seconds
        time.sleep(0.01)


def backtests(app: Any, size: int) -> tuple[float, set[tuple[Any, ...]]]:
    """Run BACKTESTS runs on queue q<size>; return the seconds until all are done and their (trades, equity)."""
    from riskmgr.backtest.runs import RunStore
    from riskmgr.backtest.service import BacktestService
    from riskmgr.workers import tasks

    runtime = app.extensions["riskmgr"]
    service, store = runtime.feature(BacktestService), RunStore(runtime)
    params, _ = service.resolve(BACKTEST_BODY)
    with app.app_context():
        ids = [store.create(params, "conservative", "bench") for _ in range(BACKTESTS)]
        started = time.perf_counter()
        for run_id in ids:
            tasks.run_backtest.apply_async((run_id,), queue=f"q{size}")
    while not _all_finished(runtime, ids):
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    rows = [store.get(i) for i in ids]
    failed = [r.error for r in rows if r.status != "done"]
    if failed:
        raise SystemExit(f"TARGET MISSED: backtests failed: {failed[:2]}")
    outcomes = {(r.result["stats"]["trades"], r.result["stats"]["final_equity"]) for r in rows}
    return seconds, outcomes


def poll_phase(app: Any) -> list[str]:
    """Time poll cycles on 1, 2 and 4 processes, interleaved; print the curve; return the targets missed."""
    failed: list[str] = []
    for size in SIZES:  # warm-up: connections, imports, first rows
        poll_cycle(app, size)
    polls: dict[int, list[float]] = {s: [] for s in SIZES}
    for _ in range(ROUNDS):
        for size in SIZES:
            polls[size].append(poll_cycle(app, size))
    poll_med = {s: statistics.median(v) for s, v in polls.items()}
    print(f"poll cycle, {ACCOUNTS} accounts, 100 ms per venue call; medians of {ROUNDS} interleaved rounds")
    print("  processes | cycle     | per account | speed-up vs 1 | target")
    for size in SIZES:
        speed = poll_med[1] / poll_med[size]
        target = POLL_TARGETS.get(size)
        verdict = "" if target is None else (f">= {target}x " + ("met" if speed >= target else "MISSED"))
        print(f"  {size:9d} | {poll_med[size] * 1000:7.0f} ms | {poll_med[size] / ACCOUNTS * 1000:8.1f} ms | "
              f"{speed:12.2f}x | {verdict}")
        if target is not None and speed < target:
            failed.append(f"poll on {size} processes is {speed:.2f}x faster than on 1 (target >= {target}x)")
    return failed


def backtest_phase(app: Any) -> list[str]:
    """Time 16 backtests on 1 and 2 processes, interleaved; check they agree; return the targets missed."""
    failed: list[str] = []
    backtests(app, 2)  # warm-up
    runs: dict[int, list[float]] = {1: [], 2: []}
    outcomes: set[tuple[Any, ...]] = set()
    for _ in range(ROUNDS):
        for size in (1, 2):
            seconds, seen = backtests(app, size)
            runs[size].append(seconds)
            outcomes |= seen
    bt_med = {s: statistics.median(v) for s, v in runs.items()}
    speed = bt_med[1] / bt_med[2]
    print(f"{BACKTESTS} backtests (Conservative, 6 months of 15 min bars); medians of {ROUNDS} interleaved rounds")
    print(f"  1 process {bt_med[1]:.2f} s, 2 processes {bt_med[2]:.2f} s: {speed:.2f}x "
          f"(target >= {BACKTEST_TARGET}x: {'met' if speed >= BACKTEST_TARGET else 'MISSED'})")
    print(f"  every run gave the same trades and final equity: {len(outcomes) == 1} {sorted(outcomes)[:1]}")
    if speed < BACKTEST_TARGET:
        failed.append(f"16 backtests on 2 processes are {speed:.2f}x faster than on 1 (target >= {BACKTEST_TARGET}x)")
    if len(outcomes) != 1:
        failed.append(f"backtests with the same settings disagreed: {sorted(outcomes)}")
    return failed


def _all_finished(runtime: Any, ids: list[int]) -> bool:
    """One query: have all runs ``ids`` finished (done or failed)?"""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from riskmgr.backtest.models import BacktestRun

    with Session(runtime.engine) as session:
        open_runs = session.scalar(select(func.count()).select_from(BacktestRun).where(
            BacktestRun.id.in_(ids), BacktestRun.status.not_in(("done", "failed"))))
    return open_runs == 0


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="riskmgr-scaleout-"))
    redis_proc, redis_url = start_redis(folder)
    db_url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{folder / 'bench.db'}"
    env = {**os.environ, "DATABASE_URL": db_url, "REDIS_URL": redis_url, "INSTANCE_PATH": str(folder / "instance"),
           "BENCH_ACCOUNTS": str(ACCOUNTS), "LOG_LEVEL": "warning"}
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "INSTANCE_PATH", "BENCH_ACCOUNTS")})
    sys.path.insert(0, str(HERE / "support"))
    import scaleout_app

    from riskmgr.persistence.extensions import db

    app = scaleout_app.flask_app
    with app.app_context():
        db.create_all()
    procs = {size: start_worker(env, size, folder) for size in SIZES}
    failed: list[str] = []
    try:
        wait_ready(app.extensions["celery"], procs)
        failed += poll_phase(app) + backtest_phase(app)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        redis_proc.terminate()
        redis_proc.wait(timeout=10)
        with app.app_context():
            db.engine.dispose()
        if not failed:
            shutil.rmtree(folder, ignore_errors=True)
    for line in failed:
        print(f"TARGET MISSED: {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
