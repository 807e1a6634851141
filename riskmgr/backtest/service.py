"""The backtests feature: the run service (a thread pool of jobs); its page and API are ``riskmgr.web.backtests``,
its CLI ``riskmgr.app.cli.backtests``.

``install`` builds the ``BacktestService`` (``runtime.feature(BacktestService)``). A run is validated when it is asked
for (a bad setting is a 400 naming the field, before anything is queued), recorded as queued, then executed by
``runs.execute_run(runtime, run_id)`` on a one-thread pool. A run reads only the runtime (its engine, clock,
accounts and market), never Flask's application context, so this module imports without Flask.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from riskmgr.backtest import data as data_mod
from riskmgr.backtest.params import BacktestParams, merge, parse_params
from riskmgr.backtest.presets import BUILTIN, builtin_presets, defaults
from riskmgr.backtest.runs import PresetStore, RunStore, execute_run
from riskmgr.core.errors import TemporaryError, ValidationError
from riskmgr.core.feature import Feature
from riskmgr.core.validation import NAME_MAX, opt_str

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime

__all__ = ["FEATURE", "BacktestService", "install"]

MAX_WAITING = 8  # runs queued or running at most, counted in the database (every process and worker alike)


def install(runtime: Runtime) -> tuple[BacktestService]:
    """Build the backtest service."""
    return (BacktestService(runtime),)


class BacktestService:
    """Validate, queue, run and wait for backtests; resolve presets."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.runs = RunStore(runtime)
        self.presets = PresetStore(runtime)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="backtest")
        self._futures: dict[int, Future[None]] = {}
        self.remote: Callable[[int], Any] | None = None  # Celery (REDIS_URL): runs go to the workers
        self._lock = threading.Lock()

    # -- settings --------------------------------------------------------------------------------------
    def preset_params(self, name: str) -> dict[str, Any]:
        """Return the settings of a built-in or saved preset; an unknown name is a ValidationError."""
        for preset in builtin_presets(self.runtime):
            if preset.name == name:
                return preset.params
        saved = self.presets.get(name)
        if saved is None:
            known = [p.name for p in builtin_presets(self.runtime)] + [p.name for p in self.presets.all()]
            raise ValidationError("preset", f"{name!r} is not a preset; one of {', '.join(known)}")
        return dict(saved.params)

    def resolve(self, data: Mapping[str, Any]) -> tuple[BacktestParams, str | None]:
        """Merge defaults, the preset and the request's settings; validate them and the data source."""
        preset = opt_str(data, "preset", max_len=NAME_MAX)  # null: no preset; 0 or "" is an error
        base = defaults(self.runtime)
        if preset is not None:
            base = merge(base, self.preset_params(preset))
        params = parse_params(merge(base, {k: v for k, v in data.items() if k != "preset"}), self.runtime.clock.now())
        data_mod.check_source(self.runtime, params)
        return params, preset

    def is_builtin(self, name: str) -> bool:
        return name in BUILTIN or name in {p.name for p in builtin_presets(self.runtime)}

    # -- runs ------------------------------------------------------------------------------------------
    def submit(self, data: Mapping[str, Any], actor: str) -> int:
        """Validate and queue a run; return its id (it runs in the background)."""
        params, preset = self.resolve(data)
        with self._lock:
            run_id = self.runs.create(params, preset, actor, cap=MAX_WAITING)
            if self.remote is not None:
                try:
                    self.remote(run_id)
                except Exception as exc:  # the broker is down: the run is failed with the reason, not left queued
                    self.runs.fail(run_id, f"could not hand the run to the workers: {type(exc).__name__}: {exc}")
                    raise TemporaryError(f"the backtest workers cannot be reached ({type(exc).__name__})",
                                         operation="submit backtest") from exc
                return run_id
            self._futures[run_id] = self._pool.submit(execute_run, self.runtime, run_id)
        return run_id

    def run_now(self, data: Mapping[str, Any], actor: str) -> int:
        """Validate and run a backtest in this thread (the CLI); return its id."""
        params, preset = self.resolve(data)
        run_id = self.runs.create(params, preset, actor)
        execute_run(self.runtime, run_id)
        return run_id

    def wait(self, run_id: int, timeout: float | None = None) -> None:
        """Block until a run queued by this process has finished."""
        future = self._futures.get(run_id)
        if future is not None:
            future.result(timeout)


FEATURE = Feature(name="backtest", install=install, provides=(BacktestService,))
