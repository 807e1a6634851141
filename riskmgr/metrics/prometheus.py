"""Prometheus metrics from a registry of this app's own (served at ``/metrics`` by ``riskmgr.web.metrics``).

Two sources, both read at scrape time so every web worker answers the same figures:
- event counters (exchange errors, stops restored, emergency stops, signals, backtests, the poll-cycle
  histogram): the bus subscriber queues the event and a background worker adds it to ``metric_counter`` rows
  in the database — the poller runs in one worker, the scrape may land on another;
- gauges from the latest snapshots, through ``services.snapshot_view`` (the dashboard's own figures). An
  account that is stale or was never read exports ``riskmgr_account_up 0`` and its last success time, and no
  equity, P&L, drawdown or position sample: an old figure is not a current one, and zero is not a figure.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from riskmgr.accounts import services
from riskmgr.alerts.dispatch import STATUSES
from riskmgr.alerts.models import AlertRecord, MetricCounter
from riskmgr.alerts.queue import BackgroundQueue
from riskmgr.core.domain import TradingState
from riskmgr.core.events import Event
from riskmgr.core.feature import Feature

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime

log = logging.getLogger(__name__)

POLL_HISTOGRAM = "riskmgr_poll_cycle_seconds"
POLL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
Labels = dict[str, str]


def _account(e: Event) -> Labels:
    return {"account": e.account or "none"}


def _data(key: str, label: str) -> Callable[[Event], Labels]:
    return lambda e: {label: str(e.data.get(key) or "unknown")}


def _fixed(**labels: str) -> Callable[[Event], Labels]:
    return lambda e: dict(labels)


# event kind -> (counter family, labels taken from the event)
EVENT_COUNTERS: dict[str, tuple[str, Callable[[Event], Labels]]] = {
    "exchange.error": ("riskmgr_exchange_errors", lambda e: {**_account(e), **_data("error_class", "error_class")(e)}),
    "protection.missing": ("riskmgr_unprotected_positions_found", _account),
    "protection.restored": ("riskmgr_stops_restored", _account),
    "protection.failed": ("riskmgr_stops_failed", _account),
    "emergency.started": ("riskmgr_emergency_stops", _fixed(outcome="started")),
    "emergency.finished": ("riskmgr_emergency_stops", _fixed(outcome="finished_flat")),
    "emergency.left_open": ("riskmgr_emergency_stops", _fixed(outcome="left_open")),
    "state.changed": ("riskmgr_trading_state_changes", _data("to", "to")),
    "risk.daily_loss": ("riskmgr_risk_limit_hits", _fixed(limit="daily_loss")),
    "risk.drawdown": ("riskmgr_risk_limit_hits", _fixed(limit="drawdown")),
    "account.stale": ("riskmgr_account_stale_episodes", _account),
    "position.closed_by_monitor": ("riskmgr_positions_closed_by_monitor", _account),
    "signal.produced": ("riskmgr_signals_produced", _fixed()),
    "signal.executed": ("riskmgr_signals_taken", _fixed()),
    "backtest.finished": ("riskmgr_backtests_run", _fixed()),
}
COUNTER_DOCS = {
    "riskmgr_exchange_errors": "Failed exchange reads, by account and error class",
    "riskmgr_unprotected_positions_found": "Positions found without an exchange-side stop-loss",
    "riskmgr_stops_restored": "Missing stop-losses placed again",
    "riskmgr_stops_failed": "Missing stop-losses that could not be placed",
    "riskmgr_emergency_stops": "Emergency stop sequences, by outcome",
    "riskmgr_trading_state_changes": "Trading state changes, by the state entered",
    "riskmgr_risk_limit_hits": "Daily-loss and drawdown tiers reached",
    "riskmgr_account_stale_episodes": "Times an account stayed stale or failing longer than the alert delay",
    "riskmgr_positions_closed_by_monitor": "Positions closed or reduced by the position monitor",
    "riskmgr_signals_produced": "Actionable signals produced by the scanner",
    "riskmgr_signals_taken": "Signals for which auto-trading placed an order",
    "riskmgr_backtests_run": "Backtest runs finished",
}
# Series that exist from the start: counting no event yet is a real zero, not an invented figure.
ZERO_SERIES: dict[str, list[Labels]] = {
    "riskmgr_signals_produced": [{}],
    "riskmgr_signals_taken": [{}],
    "riskmgr_backtests_run": [{}],
    "riskmgr_emergency_stops": [{"outcome": o} for o in ("started", "finished_flat", "left_open")],
}


def _key(labels: Labels) -> str:
    return json.dumps({k: v[:64] for k, v in labels.items()}, sort_keys=True, separators=(",", ":"))


def increments_for(event: Event) -> list[tuple[str, Labels, float]]:
    """Return the counter increments one event stands for (none for kinds that are not counted)."""
    if event.kind == "poll.cycle":
        duration = event.data.get("duration_s")
        if not isinstance(duration, int | float) or not math.isfinite(duration) or duration < 0:
            log.warning("poll.cycle event without a valid duration_s (%r); not counted", duration)
            return []
        le = next((str(b) for b in POLL_BUCKETS if duration <= b), "+Inf")
        return [(f"{POLL_HISTOGRAM}_bucket", {"le": le}, 1.0), (f"{POLL_HISTOGRAM}_count", {}, 1.0),
                (f"{POLL_HISTOGRAM}_sum", {}, float(duration))]
    if event.kind not in EVENT_COUNTERS:
        return []
    name, labels = EVENT_COUNTERS[event.kind]
    return [(name, labels(event), 1.0)]


class CounterStore:
    """Counters kept in the database, shared by every process of the app."""

    def __init__(self, engine: Engine):
        self._engine = engine

    def add(self, increments: list[tuple[str, Labels, float]]) -> None:
        """Add the increments in one transaction (creating rows as needed)."""
        for attempt in (1, 2):
            try:
                self._add_once(increments)
                return
            except IntegrityError:  # another process created the same row first; now the update will find it
                if attempt == 2:
                    raise

    def _add_once(self, increments: list[tuple[str, Labels, float]]) -> None:
        with Session(self._engine) as session, session.begin():
            for name, labels, amount in increments:
                key = _key(labels)
                done = session.execute(
                    update(MetricCounter)
                    .where(MetricCounter.name == name, MetricCounter.labels == key)
                    .values(value=MetricCounter.value + amount)
                )
                if done.rowcount == 0:  # type: ignore[attr-defined]  # a DML statement's Result is a CursorResult, which has rowcount
                    session.add(MetricCounter(name=name, labels=key, value=amount))
                    session.flush()

    def all(self) -> dict[str, list[tuple[Labels, float]]]:
        """Return every counter: name -> [(labels, value)]."""
        out: dict[str, list[tuple[Labels, float]]] = {}
        with Session(self._engine) as session:
            for row in session.scalars(select(MetricCounter).order_by(MetricCounter.name, MetricCounter.labels)):
                out.setdefault(row.name, []).append((json.loads(row.labels), row.value))
        return out


class RiskmgrCollector:
    """Yield every riskmgr metric family, computed at scrape time."""

    def __init__(self, runtime: Runtime, store: CounterStore):
        self._runtime = runtime
        self._store = store

    def describe(self) -> list[Metric]:
        return []  # nothing is read at registration (the tables may not exist yet)

    def collect(self) -> Iterator[Metric]:
        counters = self._store.all()
        yield from _counter_families(counters)
        yield _poll_histogram(counters)
        yield from _snapshot_families(services.snapshot_view(self._runtime))
        yield from _state_families(self._runtime)
        yield self._alert_family()

    def _alert_family(self) -> Metric:
        with Session(self._runtime.engine) as session:
            counts = dict(session.execute(select(AlertRecord.status, func.count()).group_by(AlertRecord.status)).all())
        family = CounterMetricFamily("riskmgr_alerts", "Alerts recorded, by outcome", labels=["status"])
        for status in STATUSES:
            family.add_metric([status], float(counts.get(status, 0)))
        return family


def _counter_families(counters: dict[str, list[tuple[Labels, float]]]) -> Iterator[Metric]:
    for name, doc in COUNTER_DOCS.items():
        series = {_key(labels): (labels, 0.0) for labels in ZERO_SERIES.get(name, [])}
        series.update({_key(labels): (labels, value) for labels, value in counters.get(name, [])})
        label_names = sorted({k for labels, _ in series.values() for k in labels})
        family = CounterMetricFamily(name, doc, labels=label_names)
        for labels, value in series.values():
            family.add_metric([labels.get(k, "") for k in label_names], value)
        yield family


def _poll_histogram(counters: dict[str, list[tuple[Labels, float]]]) -> Metric:
    per_bucket = {labels["le"]: value for labels, value in counters.get(f"{POLL_HISTOGRAM}_bucket", [])}
    buckets, running = [], 0.0
    for le in [*map(str, POLL_BUCKETS), "+Inf"]:
        running += per_bucket.get(le, 0.0)
        buckets.append((le, running))
    total = sum(v for _, v in counters.get(f"{POLL_HISTOGRAM}_sum", []))
    return HistogramMetricFamily(POLL_HISTOGRAM, "Duration of poll cycles over every account", buckets=buckets,
                                 sum_value=total)


def _num(value: str | None) -> float | None:
    return float(value) if value is not None else None


def _snapshot_families(view: dict[str, Any]) -> Iterator[Metric]:
    up = GaugeMetricFamily("riskmgr_account_up", "1 when the last poll read the account, 0 when stale or failing",
                           labels=["account", "exchange", "mode"])
    last = GaugeMetricFamily("riskmgr_account_last_success_timestamp_seconds",
                             "Unix time of the last successful read of the account", labels=["account"])
    figures = {
        "equity": GaugeMetricFamily("riskmgr_account_equity_usdt", "Account equity (USDT), current reads only",
                                    labels=["account"]),
        "day_pnl": GaugeMetricFamily("riskmgr_account_day_pnl_usdt", "P&L since the risk day began (USDT)",
                                     labels=["account"]),
        "drawdown_pct": GaugeMetricFamily("riskmgr_account_drawdown_percent", "Drawdown from peak equity (%)",
                                          labels=["account"]),
    }
    positions = GaugeMetricFamily("riskmgr_open_positions", "Open positions", labels=["account"])
    unprotected = GaugeMetricFamily("riskmgr_unprotected_positions", "Open positions without an exchange-side "
                                    "stop-loss", labels=["account"])
    for a in view["accounts"]:
        name = a["name"]
        up.add_metric([name, a["exchange"], a["mode"]], 1.0 if a["status"] == "ok" else 0.0)
        if a["fetched_at"]:
            last.add_metric([name], datetime.fromisoformat(a["fetched_at"]).timestamp())
        if a["status"] != "ok":
            continue
        for field, family in figures.items():
            value = _num(a[field])
            if value is not None:
                family.add_metric([name], value)
        positions.add_metric([name], float(len(a["positions"])))
        unprotected.add_metric([name], float(sum(1 for p in a["positions"] if not p["stop_loss"]["present"])))
    yield from (up, last, *figures.values(), positions, unprotected)


def _state_families(runtime: Runtime) -> Iterator[Metric]:
    current = runtime.trading.current().state
    state = GaugeMetricFamily("riskmgr_trading_state", "1 for the trading state in force", labels=["state"])
    for candidate in TradingState:
        state.add_metric([candidate.value], 1.0 if candidate is current else 0.0)
    yield state
    yield GaugeMetricFamily("riskmgr_trading_state_severity", "0 ACTIVE, 1 REDUCING, 2 HALTED",
                            value=float(current.severity))


class MetricsFeature:
    """This app's registry, the shared counters and the queue that writes them."""

    def __init__(self, runtime: Runtime):
        self.store = CounterStore(runtime.engine)
        self.registry = CollectorRegistry()
        self.registry.register(RiskmgrCollector(runtime, self.store))
        self.queue = BackgroundQueue("metrics", self.write, maxsize=1000)

    def on_event(self, event: Event) -> None:
        """Queue a counted event for the background writer (never blocks the emitter)."""
        if event.kind == "poll.cycle" or event.kind in EVENT_COUNTERS:
            self.queue.put(event)

    def write(self, event: Event) -> None:
        """Add one event's increments to the shared counters."""
        increments = increments_for(event)
        if increments:
            self.store.add(increments)


def install(runtime: Runtime) -> tuple[MetricsFeature]:
    """Build this app's registry and counter writer and subscribe to the event bus."""
    feature = MetricsFeature(runtime)
    runtime.events.subscribe(feature.on_event)
    return (feature,)


FEATURE = Feature(name="metrics", install=install, provides=(MetricsFeature,))
