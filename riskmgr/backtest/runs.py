"""Running a backtest as a job (a plain function of the run id) and storing runs, presets and datasets.

``execute_run(runtime, run_id)`` reads the run's settings from the database, loads the bars, runs the engine,
stores the result and emits ``backtest.finished``; progress (0-100) is written as it goes. A run whose worker
stopped answering (the app restarted mid-run) is reported failed, never left "running" for ever.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session, defer

from riskmgr.backtest import data as data_mod
from riskmgr.backtest.engine import EngineInput, run_signal_backtest
from riskmgr.backtest.models import BacktestDataset, BacktestPreset, BacktestRun
from riskmgr.backtest.params import BacktestParams, parse_params
from riskmgr.backtest.reference import run_sma_reference
from riskmgr.backtest.report import build_result, summary
from riskmgr.core.errors import RiskmgrError, ValidationError
from riskmgr.core.formatting import dec

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime

log = logging.getLogger(__name__)
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
HEARTBEAT_S = 20.0
STALE_RUNNING = timedelta(minutes=3)  # no heartbeat for this long: the worker is gone
STALE_QUEUED = timedelta(hours=2)
LOAD_SHARE, ENGINE_SHARE = 0.5, 0.45  # progress: loading bars, then the engine, then statistics


class RunStore:
    """Read and write backtest runs."""

    def __init__(self, runtime: Runtime):
        self._rt = runtime

    def create(self, params: BacktestParams, preset: str | None, actor: str, *, cap: int | None = None) -> int:
        """Record a queued run and return its id.

        With ``cap``, refuse (ValidationError) when ``cap`` runs are already queued or running, counted in the
        database so every process and worker sees the same queue; the count and the insert happen under one
        queue lock (PostgreSQL: an advisory lock; SQLite: the write lock, taken first).
        """
        now = self._rt.clock.now()
        with Session(self._rt.engine) as session, session.begin():
            if cap is not None:
                _lock_queue(session)
                waiting = session.scalar(select(func.count()).select_from(BacktestRun).where(
                    ((BacktestRun.status == RUNNING) & (BacktestRun.heartbeat_at >= now - STALE_RUNNING))
                    | ((BacktestRun.status == QUEUED) & (BacktestRun.heartbeat_at >= now - STALE_QUEUED)))) or 0
                if waiting >= cap:
                    raise ValidationError("preset", f"{waiting} backtests are already waiting (at most {cap}); start "
                                                    "this one when one has finished")
            row = BacktestRun(created_at=now, actor=actor, preset=preset, status=QUEUED, progress=0,
                              stage="queued", heartbeat_at=now, params=params.to_dict())
            session.add(row)
            session.flush()
            return row.id

    def progress(self, run_id: int, fraction: float, stage: str) -> None:
        """Record progress (0-1 of the whole run) and the stage; the write is the run's heartbeat."""
        with Session(self._rt.engine) as session, session.begin():
            row = session.get(BacktestRun, run_id)
            if row is not None:
                row.progress, row.stage = max(0, min(99, int(fraction * 100))), stage
                row.heartbeat_at = self._rt.clock.now()
                if row.status == QUEUED:
                    row.status, row.started_at = RUNNING, row.heartbeat_at

    def touch(self, run_id: int) -> None:
        """Record that the run's worker is alive (its heartbeat), whatever stage it is in."""
        with Session(self._rt.engine) as session, session.begin():
            row = session.get(BacktestRun, run_id)
            if row is not None and row.status in (QUEUED, RUNNING):
                row.heartbeat_at = self._rt.clock.now()

    def finish(self, run_id: int, result: dict[str, Any]) -> None:
        with Session(self._rt.engine) as session, session.begin():
            row = self._row(session, run_id)
            now = self._rt.clock.now()
            row.status, row.progress, row.stage, row.result = DONE, 100, "done", result
            row.summary, row.finished_at, row.heartbeat_at = summary(result), now, now

    def fail(self, run_id: int, reason: str) -> None:
        with Session(self._rt.engine) as session, session.begin():
            row = self._row(session, run_id)
            now = self._rt.clock.now()
            row.status, row.stage, row.error, row.finished_at, row.heartbeat_at = FAILED, "failed", reason, now, now

    def get(self, run_id: int) -> BacktestRun:
        """Return one run (a run whose worker is gone is marked failed first)."""
        with Session(self._rt.engine, expire_on_commit=False) as session, session.begin():
            row = self._row(session, run_id)
            self._expire(row)
            return row

    def recent(self, limit: int = 100) -> list[BacktestRun]:
        """Return the latest runs without their results, newest first."""
        with Session(self._rt.engine, expire_on_commit=False) as session, session.begin():
            stmt = select(BacktestRun).options(defer(BacktestRun.result)).order_by(BacktestRun.id.desc()).limit(limit)
            rows = list(session.scalars(stmt))
            for row in rows:
                self._expire(row)
            return rows

    def delete(self, run_id: int) -> None:
        with Session(self._rt.engine) as session, session.begin():
            row = self._row(session, run_id)
            if row.status in (QUEUED, RUNNING):
                raise ValidationError("id", f"run #{run_id} is {row.status}; delete it when it has finished")
            session.delete(row)

    @staticmethod
    def _row(session: Session, run_id: int) -> BacktestRun:
        row = session.get(BacktestRun, run_id)
        if row is None:
            raise ValidationError("id", f"no backtest run #{run_id}")
        return row

    def _expire(self, row: BacktestRun) -> None:
        limit = STALE_RUNNING if row.status == RUNNING else STALE_QUEUED
        if row.status in (QUEUED, RUNNING) and self._rt.clock.now() - row.heartbeat_at > limit:
            row.status, row.stage = FAILED, "failed"
            row.error = (f"the worker stopped reporting at {row.heartbeat_at.isoformat()} (the app probably "
                         "restarted); start the run again")


def _lock_queue(session: Session) -> None:
    """Serialise queue admissions across processes until the transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('riskmgr-backtest-queue'))"))
    else:  # a write statement takes SQLite's write lock now rather than at the insert (no deferred upgrade race)
        session.execute(update(BacktestRun).where(BacktestRun.id == -1).values(stage="queued"))


@contextmanager
def _heartbeat(store: RunStore, run_id: int) -> Iterator[None]:
    """Touch the run's heartbeat every HEARTBEAT_S while the block runs (a long download reports no progress)."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_S):
            store.touch(run_id)

    thread = threading.Thread(target=beat, name=f"backtest-{run_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def execute_run(runtime: Runtime, run_id: int) -> None:
    """Run one queued backtest to the end; a failure is stored as the run's reason, never raised."""
    store = RunStore(runtime)
    try:
        row = store.get(run_id)
        params = parse_params(row.params, runtime.clock.now())
        with _heartbeat(store, run_id):
            result = run_backtest(runtime, params, lambda f, stage: store.progress(run_id, f, stage))
    except (RiskmgrError, ValueError) as exc:
        store.fail(run_id, str(exc))
        _announce(runtime, run_id, FAILED, f"backtest #{run_id} failed: {exc}", {})
        return
    except Exception as exc:  # a bug must still end the run visibly, with the details in the log
        log.exception("backtest run %s crashed", run_id)
        store.fail(run_id, f"internal error ({type(exc).__name__}); the details are in the log")
        _announce(runtime, run_id, FAILED, f"backtest #{run_id} crashed", {})
        return
    store.finish(run_id, result)
    stats = result["stats"]
    _announce(runtime, run_id, DONE, f"backtest #{run_id} finished: return {stats['total_return_pct']} %, "
                                      f"{stats['trades']} trades", summary(result))


def _announce(runtime: Runtime, run_id: int, status: str, message: str, figures: dict[str, Any]) -> None:
    runtime.events.emit("backtest.finished", message, data={"run_id": run_id, "status": status, **figures})


def run_backtest(runtime: Runtime, params: BacktestParams, progress: Callable[[float, str], None]) -> dict[str, Any]:
    """Load the bars, run the strategy and return the stored result (raises ValidationError on bad data)."""
    started = time.perf_counter()
    progress(0.0, "loading bars")
    loaded = data_mod.load(runtime, params, lambda f: progress(f * LOAD_SHARE, "loading bars"))
    progress(LOAD_SHARE, "computing signals" if params.strategy == "signals" else "running")

    def engine_progress(f: float) -> None:
        progress(LOAD_SHARE + f * ENGINE_SHARE, "replaying bars")

    if params.strategy == "sma_cross":
        outcome = run_sma_reference(loaded.candles, params.bar_ms, fast=params.sma_fast, slow=params.sma_slow,
                                    commission=params.commission_pct / 100, capital=params.capital)
    else:
        if loaded.spec is None:
            raise ValidationError("symbol", f"no contract figures for {params.symbol}")
        inp = EngineInput(loaded.candles, loaded.spec, params.engine_config(), loaded.first_bar)
        outcome = run_signal_backtest(inp, params.signal, engine_progress)
    progress(LOAD_SHARE + ENGINE_SHARE, "statistics")
    info = {
        "source": params.source, "note": loaded.note, "simulated": loaded.simulated, "symbol": params.symbol,
        "timeframe": params.timeframe, "bars": len(loaded.candles) - loaded.first_bar, "warmup_bars": loaded.first_bar,
        "gaps": loaded.gaps.as_dict(), "spec_source": loaded.spec_source, "warning": loaded.warning(),
        "spec": None if loaded.spec is None else {k: dec(v) if not isinstance(v, str | int) else v
                                                  for k, v in vars(loaded.spec).items()},
        "seconds": round(time.perf_counter() - started, 3),
    }
    return build_result(outcome, info)


# -- presets and datasets ----------------------------------------------------------------------------------------


class PresetStore:
    """The operator's saved presets."""

    def __init__(self, runtime: Runtime):
        self._rt = runtime

    def all(self) -> list[BacktestPreset]:
        with Session(self._rt.engine, expire_on_commit=False) as session:
            return list(session.scalars(select(BacktestPreset).order_by(BacktestPreset.name)))

    def get(self, name: str) -> BacktestPreset | None:
        with Session(self._rt.engine, expire_on_commit=False) as session:
            return session.scalars(select(BacktestPreset).where(BacktestPreset.name == name)).first()

    def save(self, name: str, description: str, params: dict[str, Any], actor: str) -> bool:
        """Create or replace a preset; return True when it was new."""
        now = self._rt.clock.now()
        with Session(self._rt.engine) as session, session.begin():
            row = session.scalars(select(BacktestPreset).where(BacktestPreset.name == name)).first()
            created = row is None
            if row is None:
                row = BacktestPreset(name=name, created_at=now)
                session.add(row)
            row.description, row.params, row.updated_at, row.actor = description, params, now, actor
            return created

    def delete(self, name: str) -> None:
        with Session(self._rt.engine) as session, session.begin():
            gone = session.execute(delete(BacktestPreset).where(BacktestPreset.name == name))
            if not gone.rowcount:  # type: ignore[attr-defined]  # a DML statement's Result is a CursorResult, which has rowcount
                raise ValidationError("name", f"no saved preset {name!r}")


def save_dataset(runtime: Runtime, *, name: str, symbol: str, timeframe: str, parsed: Any, digest: str,
                 actor: str) -> BacktestDataset:
    """Store validated CSV bars as a dataset and return it."""
    candles = parsed.candles
    with Session(runtime.engine, expire_on_commit=False) as session, session.begin():
        row = BacktestDataset(
            name=name, symbol=symbol, timeframe=timeframe, bars=len(candles), first_ms=int(candles.ts[0]),
            last_ms=int(candles.ts[-1]), gaps=parsed.gaps.as_dict(), sha256=digest, data=data_mod.pack(candles),
            created_at=runtime.clock.now(), actor=actor,
        )
        session.add(row)
        return row


def datasets(runtime: Runtime) -> list[BacktestDataset]:
    """Return the uploaded datasets, newest first (without their bars)."""
    with Session(runtime.engine, expire_on_commit=False) as session:
        stmt = (select(BacktestDataset).options(defer(BacktestDataset.data))
                .order_by(BacktestDataset.id.desc()).limit(200))
        return list(session.scalars(stmt))
