"""The runtime: long-lived objects built once by ``create_app`` (clock, market, accounts, stores).

Views, CLI commands and jobs reach them through ``current_runtime()``; nothing is built at import time.
Tests swap parts by passing them in ``Settings.extra`` (``clock``, ``market``, ``adapters``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from flask import Flask, current_app
from sqlalchemy import Engine

from riskmgr.accounts.registry import build_adapters
from riskmgr.app.config import Settings
from riskmgr.app.shutdown import RunningJobs
from riskmgr.core.clock import Clock, SystemClock
from riskmgr.core.events import EventBus
from riskmgr.core.feature import Installed
from riskmgr.exchanges.reader import AccountReader
from riskmgr.market.base import MarketFeed
from riskmgr.persistence.audit import AuditLog
from riskmgr.persistence.extensions import db
from riskmgr.persistence.snapshots import SnapshotStore
from riskmgr.risk.config import RiskLimits
from riskmgr.risk.entry_guard import EntryGuard
from riskmgr.risk.gate_lock import GateLock
from riskmgr.risk.gateway import OrderGateway
from riskmgr.risk.limits_store import LimitsStore
from riskmgr.risk.pretrade import PreTrade, PreTradeSources
from riskmgr.risk.specs import SpecCache
from riskmgr.risk.trading_state import TradingStateStore

if TYPE_CHECKING:
    import threading

    from apscheduler.schedulers.background import BackgroundScheduler

    from riskmgr.app.leader import LeaderLock

T = TypeVar("T")


@dataclass
class Background:
    """What the server hooks (``riskmgr.app.scheduler``) started in this process; ``create_app`` sets none of it."""

    served: bool = False  # the features' on_serve hooks have run
    lock: LeaderLock | None = None  # the scheduler's leader lock this process tries to take
    stop_waiting: threading.Event | None = None  # stops the thread that keeps trying to take it
    scheduler: BackgroundScheduler | None = None  # the running jobs, while this process leads
    running: RunningJobs = field(default_factory=RunningJobs)  # the jobs running now (a stop waits for them)


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    market: MarketFeed
    accounts: dict[str, AccountReader]
    gateway: OrderGateway
    snapshots: SnapshotStore
    engine: Engine
    audit: AuditLog
    trading: TradingStateStore
    limits_store: LimitsStore
    events: EventBus
    specs: SpecCache
    pretrade: PreTrade
    entry_guard: EntryGuard | None = None  # set right after the runtime is built (it reads the runtime)
    background: Background = field(default_factory=Background)
    features: Installed = field(default_factory=Installed)  # what the installed features provide, by type
    poll_hooks: list[Callable[..., None]] = field(default_factory=list)  # the features' hooks, run after each poll

    def feature(self, kind: type[T]) -> T:
        """Return the installed feature object of type ``kind`` (e.g. ``BacktestService``); raise
        ``FeatureNotInstalledError`` naming it when no installed feature provides it."""
        return self.features.get(kind)

    def optional_feature(self, kind: type[T]) -> T | None:
        """Return the installed feature object of type ``kind``, or None when no installed feature provides it."""
        return self.features.find(kind)

    def limits(self) -> RiskLimits:
        """Return the risk limits in force."""
        return self.limits_store.current()

    def paper_accounts(self) -> list[str]:
        """Return the names of the paper accounts."""
        return [name for name, a in self.accounts.items() if a.mode == "paper"]


def build_runtime(app: Flask, settings: Settings) -> Runtime:
    """Build the runtime objects for ``app`` from its settings."""
    clock: Clock = settings.extra.get("clock") or SystemClock()
    market = settings.extra.get("market") or _default_market(settings, clock)
    with app.app_context():
        engine = db.engine
    adapters = settings.extra.get("adapters") or build_adapters(settings, engine, market, clock)
    audit = AuditLog(engine, clock)
    events = EventBus(clock.now)
    trading = TradingStateStore(engine, clock, audit, events)
    readers = {name: AccountReader(a) for name, a in adapters.items()}
    snapshots = SnapshotStore(engine)
    limits_store = LimitsStore(engine, audit, settings.risk_limits)
    specs = SpecCache(adapters)
    # the rules are built here, with the gateway, never installed later: a gateway without them denies new risk
    pretrade = PreTrade(PreTradeSources(clock, limits_store, snapshots, engine, readers, trading, specs))
    gateway = OrderGateway(adapters, engine, trading, audit, clock, risk_check=pretrade, specs=specs,
                           gate=GateLock(engine))
    runtime = Runtime(
        settings=settings,
        clock=clock,
        market=market,
        accounts=readers,
        gateway=gateway,
        snapshots=snapshots,
        engine=engine,
        audit=audit,
        trading=trading,
        limits_store=limits_store,
        events=events,
        specs=specs,
        pretrade=pretrade,
    )
    runtime.entry_guard = EntryGuard(runtime)
    events.subscribe(runtime.entry_guard.on_event)  # resting entries are cancelled when new risk stops
    return runtime


def _default_market(settings: Settings, clock: Clock) -> MarketFeed:
    from riskmgr.market.sim.market import SimulatedMarket

    return SimulatedMarket(seed=settings.market_seed, clock=clock)


def current_runtime() -> Runtime:
    """Return the runtime of the current app."""
    return current_app.extensions["riskmgr"]
