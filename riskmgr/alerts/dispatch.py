"""Turning events into delivered alerts: toggles, de-duplication, rate limit, background delivery, history.

The event subscriber only folds duplicates and queues (no I/O), so the emitter — the poll cycle, the
emergency stop — never waits on Telegram, SMTP or the database. The worker thread checks the per-kind
toggle (database, so every worker honours the page's switches), applies the rate limit, sends through every
channel and records the outcome. Critical kinds are never held back by the rate limit.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from riskmgr.alerts import shared
from riskmgr.alerts.channels import Alert, DeliveryError, format_alert
from riskmgr.alerts.models import AlertRecord, AlertToggle, StaleEpisode
from riskmgr.alerts.queue import BackgroundQueue
from riskmgr.alerts.settings import ALERTABLE, CRITICAL, AlertSettings
from riskmgr.core.clock import Clock
from riskmgr.core.domain import AccountSnapshot, AccountStatus
from riskmgr.core.events import KINDS, Event
from riskmgr.core.secrets import mask
from riskmgr.persistence.audit import AuditLog

log = logging.getLogger(__name__)
FAILED = ("failed", "partial", "dropped")
DELIVERED = ("sent", "logged")
STATUSES = ("sent", "partial", "failed", "logged", "rate_limited", "dropped")


class Channel(Protocol):
    name: str

    def describe(self) -> str: ...

    def send(self, alert: Alert, subject: str, body: str) -> None: ...


@dataclass
class _Seen:
    at: datetime
    held: int = 0


class AlertDispatcher:
    """Subscribe to the event bus and deliver alerts on a background worker."""

    def __init__(self, engine: Engine, clock: Clock, settings: AlertSettings, channels: list[Channel],
                 tz_name: str, audit: AuditLog):
        self.settings = settings
        self.channels = channels
        self._engine, self._clock, self._tz, self._audit = engine, clock, tz_name, audit
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str | None, str], _Seen] = {}
        self.remote: Any = None  # set when Celery workers deliver alerts (REDIS_URL): called with the alert
        self.queue = BackgroundQueue("alerts", self._deliver, settings.queue_size)

    # --- producer side (the emitter's thread): no I/O ---------------------------------------------------
    def on_event(self, event: Event) -> None:
        """Queue an alert for an alertable event unless an identical one was sent within the window."""
        if event.kind not in ALERTABLE:
            return
        alert = self._fold(Alert(event.kind, mask(event.message), event.ts, event.account))
        if alert is None:
            return
        if self.remote is not None:  # Celery workers deliver (REDIS_URL); the in-process queue stays idle
            try:
                self.remote(alert)
                return
            except Exception:  # a broker that is down must not lose the alert: deliver it from here instead
                log.exception("alert %s could not be handed to the workers; delivering it in this process",
                              alert.kind)
        self.queue.put(alert)

    def _fold(self, alert: Alert) -> Alert | None:
        window = self.settings.dedup_seconds
        if window == 0:
            return alert
        key = (alert.kind, alert.account, alert.message)
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None and (alert.ts - seen.at).total_seconds() < window:
                seen.held += 1
                return None
            self._seen = {k: v for k, v in self._seen.items() if (alert.ts - v.at).total_seconds() < window}
            self._seen[key] = _Seen(alert.ts)
        return replace(alert, repeats=seen.held if seen is not None else 0)

    # --- worker side -------------------------------------------------------------------------------------
    def deliver(self, alert: Alert) -> None:
        """Deliver one alert now (a worker's task): toggles, shared de-duplication and rate limit, channels."""
        self._deliver(alert)

    def _deliver(self, alert: Alert) -> None:
        self._record_drops()
        if not self.enabled(alert.kind):
            return
        repeats = shared.first_within_window(self._engine, alert, self.settings.dedup_seconds)
        if repeats is None:  # an identical alert went out within the window, from this process or another
            return
        alert = replace(alert, repeats=repeats)
        if not self._admit(alert):
            limit = f"more than {self.settings.rate_limit} alerts within {self.settings.rate_window_seconds} s"
            log.warning("alert %s held back by the rate limit (%s): %s", alert.kind, limit, alert.message)
            self._record(alert, "rate_limited", {}, f"rate limit: {limit}")
            return
        self.send_now(alert)

    def _admit(self, alert: Alert) -> bool:
        """Count the alert against the rate limit shared by every process (critical kinds always pass)."""
        return shared.admit(self._engine, alert.ts, self.settings.rate_limit, self.settings.rate_window_seconds,
                            alert.kind in CRITICAL)

    def send_now(self, alert: Alert) -> dict[str, Any]:
        """Send ``alert`` through every channel in this thread, record the outcome and return it."""
        subject, body = format_alert(alert, self._tz)
        outcomes: dict[str, dict[str, Any]] = {}
        for channel in self.channels:
            try:
                channel.send(alert, subject, body)
                outcomes[channel.name] = {"ok": True, "error": None}
            except DeliveryError as exc:
                outcomes[channel.name] = {"ok": False, "error": str(exc)}
            except Exception as exc:  # a channel bug is a failed delivery, recorded like any other
                log.exception("alert channel %s failed unexpectedly", channel.name)
                outcomes[channel.name] = {"ok": False, "error": mask(f"internal error: {type(exc).__name__}")}
        status, error = _summarise(outcomes)
        if error:
            log.warning("alert %s not delivered everywhere: %s", alert.kind, error)
        return self._record(alert, status, outcomes, error)

    def send_test(self, actor: str) -> dict[str, Any]:
        """Send a test alert now (no toggle, no de-duplication, no rate limit) and return the outcome."""
        alert = Alert("test", f"Test alert requested by {actor}. If you read this, the channel works.",
                      self._clock.now(), test=True)
        return self.send_now(alert)

    def _record_drops(self) -> None:
        dropped = self.queue.take_dropped()
        if dropped:
            message = f"{dropped} alert(s) were dropped because the delivery queue was full"
            self._record(Alert("alerts", message, self._clock.now()), "dropped", {}, message)

    def _record(self, alert: Alert, status: str, outcomes: dict[str, Any], error: str | None) -> dict[str, Any]:
        row = AlertRecord(
            ts=alert.ts, handled_at=self._clock.now(), kind=alert.kind, account=alert.account,
            message=alert.message, status=status, channels=outcomes, error=error, repeats=alert.repeats,
        )
        with Session(self._engine, expire_on_commit=False) as session, session.begin():
            session.add(row)
        return record_view(row)

    # --- toggles, history, status ------------------------------------------------------------------------
    def enabled(self, kind: str) -> bool:
        """Return whether alerts of ``kind`` are on (the page's choice, else ALERT_EVENTS)."""
        try:
            with Session(self._engine) as session:
                row = session.get(AlertToggle, kind)
        except SQLAlchemyError:
            # When the switches cannot be read, alert: a superfluous message costs less than a missed one.
            log.warning("alert switches unreadable; sending %s anyway", kind, exc_info=True)
            return True
        return row.enabled if row is not None else kind in self.settings.events

    def toggles(self) -> list[dict[str, Any]]:
        """Describe every alertable kind: on or off, and whether the page overrides the default."""
        with Session(self._engine) as session:
            rows = {r.kind: r for r in session.scalars(select(AlertToggle))}
        out = []
        for kind in ALERTABLE:
            default = kind in self.settings.events
            row = rows.get(kind)
            out.append({
                "kind": kind, "description": KINDS[kind], "critical": kind in CRITICAL, "default": default,
                "enabled": row.enabled if row is not None else default, "overridden": row is not None,
                "changed_at": row.changed_at.isoformat() if row is not None else None,
                "changed_by": row.changed_by if row is not None else None,
            })
        return out

    def set_toggle(self, kind: str, enabled: bool, actor: str) -> None:
        """Switch alerts of one kind on or off (persisted, audited)."""
        with Session(self._engine) as session, session.begin():
            session.merge(AlertToggle(kind=kind, enabled=enabled, changed_at=self._clock.now(), changed_by=actor))
        self._audit.record("alerts.toggle", actor, f"alerts for {kind} switched {'on' if enabled else 'off'}",
                           data={"kind": kind, "enabled": enabled})

    def history(self, limit: int = 100, status: str | None = None) -> list[dict[str, Any]]:
        """Return recorded alerts, newest first."""
        stmt = select(AlertRecord).order_by(AlertRecord.id.desc()).limit(limit)
        if status:
            stmt = stmt.where(AlertRecord.status == status)
        with Session(self._engine) as session:
            return [record_view(r) for r in session.scalars(stmt)]

    def status(self) -> dict[str, Any]:
        """Summarise channel health for the dashboard: last failure, last delivery, counts of the last 24 h."""
        since = self._clock.now() - timedelta(hours=24)
        with Session(self._engine) as session:
            failure = _latest(session, FAILED)
            delivered = _latest(session, DELIVERED)
            sent = _latest(session, ("sent",))
            counts = dict(session.execute(
                select(AlertRecord.status, func.count()).where(AlertRecord.handled_at >= since)
                .group_by(AlertRecord.status)
            ).all())
        healthy = failure is None or (delivered is not None and delivered["id"] > failure["id"])
        external = [c.name for c in self.channels if c.name != "log"]
        return {
            "healthy": healthy,
            **channel_health(healthy, external, sent),
            "channels": [{"name": c.name, "detail": c.describe()} for c in self.channels],
            "external_channels": [c.name for c in self.channels if c.name != "log"],
            "last_failure": failure,
            "last_delivered": delivered,
            "last_24h": {s: int(counts.get(s, 0)) for s in STATUSES},
            "queue": self.queue.stats(),
        }


HEALTH_TEXT = {
    "failing": "failing",
    "log_only": "log only",
    "untested": "not yet delivered",
    "healthy": "delivering",
}


def channel_health(healthy: bool, external: list[str], sent: dict[str, Any] | None) -> dict[str, Any]:
    """Say how far alerts are known to reach: a green word only once a real channel (Telegram/e-mail) delivered."""
    if not healthy:
        health = "failing"
    elif not external:
        health = "log_only"
    elif sent is None:
        health = "untested"
    else:
        health = "healthy"
    return {"health": health, "health_text": HEALTH_TEXT[health], "last_external_delivery": sent}


def _latest(session: Session, statuses: tuple[str, ...]) -> dict[str, Any] | None:
    row = session.scalars(
        select(AlertRecord).where(AlertRecord.status.in_(statuses)).order_by(AlertRecord.id.desc()).limit(1)
    ).first()
    return record_view(row) if row is not None else None


def _summarise(outcomes: dict[str, dict[str, Any]]) -> tuple[str, str | None]:
    external = {name: o for name, o in outcomes.items() if name != "log"}
    failures = [f"{name}: {o['error']}" for name, o in outcomes.items() if not o["ok"]]
    error = "; ".join(failures) or None
    if not external:
        return ("logged" if not failures else "failed"), error
    ok = sum(1 for o in external.values() if o["ok"])
    if ok == len(external):
        return ("sent" if not failures else "partial"), error
    return ("partial" if ok else "failed"), error


def record_view(row: AlertRecord) -> dict[str, Any]:
    """Describe one recorded alert for the page and the API."""
    return {
        "id": row.id, "ts": row.ts.isoformat(), "handled_at": row.handled_at.isoformat(), "kind": row.kind,
        "account": row.account, "message": row.message, "status": row.status, "channels": row.channels,
        "error": row.error, "repeats": row.repeats,
    }


class StaleTracker:
    """Announce an account stale or failing for longer than the delay, and its recovery.

    The episodes live in the database (``stale_episode``), so whichever process or worker runs the poll's hooks
    continues the same episode: one alert per episode however the work is spread.
    """

    def __init__(self, stale_seconds: int, engine: Engine):
        self.stale_seconds = stale_seconds
        self._engine = engine

    def observe(self, snapshots: list[AccountSnapshot], emit: Any) -> None:
        """Update each account's episode from the poll's snapshots, emitting account.stale / account.recovered."""
        announcements: list[tuple[str, str, str, dict[str, Any]]] = []
        with Session(self._engine) as session, session.begin():
            names = [s.account for s in snapshots]
            episodes = {e.account: e for e in session.scalars(
                select(StaleEpisode).where(StaleEpisode.account.in_(names)).with_for_update())}
            for snap in snapshots:
                if snap.status is AccountStatus.OK:
                    self._healthy(session, snap, episodes.get(snap.account), announcements)
                else:
                    self._failing(session, snap, episodes.get(snap.account), announcements)
        for kind, message, account, data in announcements:  # after the commit: a listener may read the rows
            emit(kind, message, account=account, data=data)

    def _healthy(self, session: Session, snap: AccountSnapshot, episode: StaleEpisode | None, out: list) -> None:
        if episode is None:
            return
        session.delete(episode)
        if episode.alerted:
            seconds = (snap.attempted_at - episode.since).total_seconds()
            out.append(("account.recovered",
                        f"{snap.account} reads normally again after {seconds:.0f} s of failed reads", snap.account,
                        {"since": episode.since.isoformat(), "seconds": seconds}))

    def _failing(self, session: Session, snap: AccountSnapshot, episode: StaleEpisode | None, out: list) -> None:
        if episode is None:
            # The last good read is when the figures went stale; an account never read fails from now.
            episode = StaleEpisode(account=snap.account, since=snap.fetched_at or snap.attempted_at, alerted=False)
            session.add(episode)
        seconds = (snap.attempted_at - episode.since).total_seconds()
        # rejected keys never heal on their own: say so at once instead of after the stale delay
        urgent = snap.extra.get("error_class") == "AuthError"
        if episode.alerted or (seconds < self.stale_seconds and not urgent):
            return
        episode.alerted = True
        since = episode.since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        reason = snap.error or "no reason given"
        out.append(("account.stale",
                    f"{snap.account} is {snap.status.value} since {since} ({seconds:.0f} s): {reason}", snap.account,
                    {"since": episode.since.isoformat(), "seconds": seconds, "status": snap.status.value,
                     "error": snap.error}))
