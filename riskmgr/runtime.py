"""The runtime: long-lived objects built once by ``create_app`` (clock, market, accounts, stores).

Views, CLI commands and jobs reach them through ``current_runtime()``; nothing is built at import time.
Tests swap parts by passing them in ``Settings.extra`` (``clock``, ``market``, ``adapters``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app

from riskmgr.accounts import build_adapters
from riskmgr.audit import AuditLog
from riskmgr.clock import Clock, SystemClock
from riskmgr.config import Settings
from riskmgr.events import EventBus
from riskmgr.exchanges.reader import AccountReader
from riskmgr.extensions import db
from riskmgr.risk.config import RiskLimits
from riskmgr.risk.gateway import OrderGateway
from riskmgr.risk.limits_store import LimitsStore
from riskmgr.snapshots import SnapshotStore
from riskmgr.trading_state import TradingStateStore


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    market: Any  # MarketData & PricePath
    accounts: dict[str, AccountReader]
    gateway: OrderGateway
    snapshots: SnapshotStore
    engine: Any
    audit: AuditLog
    trading: TradingStateStore
    limits_store: LimitsStore
    events: EventBus
    background: dict[str, Any] = field(default_factory=dict)
    features: dict[str, Any] = field(default_factory=dict)  # objects installed by riskmgr.features modules

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
    gateway = OrderGateway(adapters, engine, trading, audit, clock)
    return Runtime(
        settings=settings,
        clock=clock,
        market=market,
        accounts={name: AccountReader(a) for name, a in adapters.items()},
        gateway=gateway,
        snapshots=SnapshotStore(engine),
        engine=engine,
        audit=audit,
        trading=trading,
        limits_store=LimitsStore(engine, audit, settings.risk_limits),
        events=events,
    )


def _default_market(settings: Settings, clock: Clock) -> Any:
    from riskmgr.market.simulated import SimulatedMarket

    return SimulatedMarket(seed=settings.market_seed, clock=clock)


def current_runtime() -> Runtime:
    """Return the runtime of the current app."""
    return current_app.extensions["riskmgr"]
