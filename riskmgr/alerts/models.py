"""Tables of the operations features: alert history and per-kind toggles (alerts), event counters (metrics).

Counters live in the database, not in process memory, so every web worker answers /metrics with the same
figures whichever process saw the event (the poller runs in one worker only).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from riskmgr.persistence.base import Base
from riskmgr.persistence.models import UTCDateTime


class AlertRecord(Base):
    """One alert as it was delivered (or not): what, when, and each channel's outcome."""

    __tablename__ = "alert_record"
    id: Mapped[int] = mapped_column(primary_key=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # when the event happened
    handled_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when delivery finished
    kind: Mapped[str] = mapped_column(String(48), index=True)
    account: Mapped[str | None] = mapped_column(String(64), nullable=True)
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)  # sent, partial, failed, logged, rate_limited, dropped
    channels: Mapped[dict] = mapped_column(JSON)  # channel -> {"ok": bool, "error": str | None}
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    repeats: Mapped[int] = mapped_column(Integer, default=0)  # identical alerts folded into this one


class AlertToggle(Base):
    """The operator's choice for one event kind (overrides the ALERT_EVENTS default)."""

    __tablename__ = "alert_toggle"
    kind: Mapped[str] = mapped_column(String(48), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    changed_by: Mapped[str] = mapped_column(String(64))


class MetricCounter(Base):
    """One monotonically increasing counter sample (name plus its canonical label text)."""

    __tablename__ = "metric_counter"
    name: Mapped[str] = mapped_column(String(96), primary_key=True)
    labels: Mapped[str] = mapped_column(String(255), primary_key=True)  # JSON of sorted label pairs
    value: Mapped[float] = mapped_column(Float)


class AlertGate(Base):
    """Shared alert state, one row per key: an alert's last send and the copies held back since (de-duplication),
    or, under the key ``__rate__``, the send times inside the rate window. Every process and worker reads and moves
    these rows under a row lock, so duplicates and the rate limit count across all of them."""

    __tablename__ = "alert_gate"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    held: Mapped[int] = mapped_column(Integer, default=0)
    recent: Mapped[list | None] = mapped_column(JSON, nullable=True)


class StaleEpisode(Base):
    """An account whose reads fail or whose figures are stale: since when, and whether it was announced."""

    __tablename__ = "stale_episode"
    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    alerted: Mapped[bool] = mapped_column(Boolean, default=False)
