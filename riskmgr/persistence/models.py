"""Core database models (SQLAlchemy 2.0 typed). Paper-exchange tables live in exchanges/paper_models.py."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Numeric, String, Text, TypeDecorator
from sqlalchemy.orm import Mapped, mapped_column

from riskmgr.persistence.base import Base

MONEY = Numeric(28, 10, asdecimal=True)


class UTCDateTime(TypeDecorator):
    """Store aware datetimes as UTC; return them aware (SQLite forgets the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class AppSetting(Base):
    """Small key/value store for values the app generates itself (e.g. the admin password hash)."""

    __tablename__ = "app_setting"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class AuditEvent(Base):
    """Append-only audit log. The app never updates or deletes a row."""

    __tablename__ = "audit_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    kind: Mapped[str] = mapped_column(String(48), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    account: Mapped[str | None] = mapped_column(String(64), nullable=True)
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict | None] = mapped_column(JSON, nullable=True)


class EquityPoint(Base):
    """One equity reading per account per successful poll."""

    __tablename__ = "equity_point"
    __table_args__ = (Index("ix_equity_point_account_ts", "account", "ts"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(64))
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    equity: Mapped[Decimal] = mapped_column(MONEY)
    wallet: Mapped[Decimal] = mapped_column(MONEY)
    unrealized_pnl: Mapped[Decimal] = mapped_column(MONEY)


class EquityRollup(Base):
    """The last equity reading within one time bucket (1 min, 15 min or 1 h) of one account, kept with each poll.

    Long chart windows read these instead of every raw point; a bucket without a reading has no row (a gap).
    """

    __tablename__ = "equity_rollup"
    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    width_s: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    bucket: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    equity: Mapped[Decimal] = mapped_column(MONEY)


class AccountState(Base):
    """Per-account figures that must survive restarts: peak equity and the day's opening equity."""

    __tablename__ = "account_state"
    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    peak_equity: Mapped[Decimal] = mapped_column(MONEY)
    peak_at: Mapped[datetime] = mapped_column(UTCDateTime)
    day: Mapped[str] = mapped_column(String(10))  # ISO date in the risk day's time zone
    day_start_equity: Mapped[Decimal] = mapped_column(MONEY)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SnapshotRecord(Base):
    """The latest snapshot of each account, shared by every web worker (the poller runs in one)."""

    __tablename__ = "snapshot_record"
    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    data: Mapped[dict] = mapped_column(JSON)


class TradingStateRecord(Base):
    """The persisted trading state (one row, id 1)."""

    __tablename__ = "trading_state"
    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    changed_by: Mapped[str] = mapped_column(String(64))


class PollRun(Base):
    """One poll cycle: who ran it and how it went (recent rows only; pruned after a day)."""

    __tablename__ = "poll_run"
    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    pid: Mapped[int] = mapped_column()
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)  # the machine of the elected scheduler
    accounts_ok: Mapped[int] = mapped_column()
    accounts_failed: Mapped[int] = mapped_column()


class ViewCache(Base):
    """A view built once and served to every web worker from this one row (see ``riskmgr.accounts.view_cache``).

    ``stamp`` names what the view was built from (the newest audit event and snapshot); a different stamp now
    means the view is out of date. ``version`` is the ETag of the body's content.
    """

    __tablename__ = "view_cache"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    stamp: Mapped[str] = mapped_column(String(80))
    version: Mapped[str] = mapped_column(String(40))
    built_at: Mapped[datetime] = mapped_column(UTCDateTime)
    body: Mapped[str] = mapped_column(Text)


class OrderIntent(Base):
    """One order intent seen by the gateway, keyed by its deterministic client id (idempotency record)."""

    __tablename__ = "order_intent"
    client_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    purpose: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # pending, accepted, denied, rejected, failed
    request: Mapped[dict] = mapped_column(JSON)
    result: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    # the account's gate sequence number when a new-risk intent was claimed (None: reduce-only / protective)
    gate_seq: Mapped[int | None] = mapped_column(nullable=True)


class AccountGate(Base):
    """One row per account: how many new-risk intents the gate has let through (the in-flight watermark)."""

    __tablename__ = "account_gate"
    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(default=0)
