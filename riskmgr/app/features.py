"""The features the app is assembled from, wired by ``create_app`` in the order listed.

Each module may define any of:
- ``install(runtime)``: build its long-lived objects and attach them to ``runtime.features[name]``;
- ``bp``: a Flask blueprint (pages and /api routes of the feature);
- ``NAV``: ``[(endpoint, label)]`` entries for the navigation bar;
- ``jobs(runtime)``: ``[(job_id, interval_seconds, fn)]`` background jobs (fn takes no arguments and runs
  inside the app context);
- ``poll_hook(runtime, snapshots)``: called after every poll cycle, in feature order (risk first);
- ``on_serve(runtime)``: start the feature's own background work in a serving process. Called by the server
  hooks (``start_background_jobs``: gunicorn's ``post_worker_init``, ``flask scheduler run``), never by
  ``create_app``: ``flask db upgrade`` or any other command starts no thread that could send an order;
- ``CLI``: a list of click groups/commands for the ``flask`` command;
- ``settings_from_env(env) -> object``: read and validate the feature's own environment variables (raise
  ``ConfigError`` naming the variable, value and range); called once by ``Settings.from_env``, and with ``{}``
  for defaults. The feature reads it back with ``runtime.settings.feature(__name__)``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

FEATURES: tuple[str, ...] = (
    "riskmgr.risk.engine",  # account tiers, trading state, position monitor (issue: risk engine)
    "riskmgr.risk.emergency.feature",  # the emergency stop sequence, its page panel, API and CLI
    "riskmgr.risk.views",  # Risk page, limits API, pre-trade receipt, audit page and API, re-arm
    "riskmgr.accounts.watchdog",  # exchange-side stop-loss watchdog, accounts page, self-test
    "riskmgr.exchanges.paper.notices",  # paper liquidations: one audit event and one alert each
    "riskmgr.controls.feature",  # position controls (move stop, partial close, cancel one order), pause / auto-trading
    "riskmgr.scanner.feature",  # candle store, signal scanner, Signals page, auto-trading
    "riskmgr.backtest.service",  # backtests: engine service, page, API, CLI
    "riskmgr.journal.feature",  # trade journal: closed trades page, /api/trades (JSON, CSV), flask trades
    "riskmgr.alerts.feature",  # Telegram / e-mail alerts and the Alerts page
    "riskmgr.metrics.prometheus",  # Prometheus /metrics
    "riskmgr.accounts.liveness",  # the poller's heartbeat, a stopped poller as an alert, GET /api/liveness
)


def modules() -> list[ModuleType]:
    """Import and return every feature module."""
    return [importlib.import_module(name) for name in FEATURES]


def collect(attr: str) -> list[tuple[ModuleType, Any]]:
    """Return (module, value) for every feature module that defines ``attr``."""
    return [(m, getattr(m, attr)) for m in modules() if hasattr(m, attr)]


def poll_hooks() -> list[Callable[..., None]]:
    """Return the features' poll hooks in order."""
    return [hook for _, hook in collect("poll_hook")]
