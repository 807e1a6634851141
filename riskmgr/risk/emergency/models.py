"""Tables of the risk engine and the emergency stop: sequences with their steps and orders, and the notices
that make an automatic action happen once (a tier per day, a trigger per episode, a monitor action per position).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from riskmgr.persistence.base import Base
from riskmgr.persistence.models import UTCDateTime


class EmergencySequence(Base):
    """One emergency stop: who, when, why, where it stands, and what was left open.

    ``running_slot`` is "running" while the sequence runs and NULL afterwards; its unique constraint lets exactly
    one sequence run at a time across threads and processes (the second trigger finds the first one's row).
    ``owner`` and ``heartbeat_at`` say which process runs it and that it is alive, so a restart can resume it.
    """

    __tablename__ = "emergency_sequence"
    id: Mapped[int] = mapped_column(primary_key=True)
    running_slot: Mapped[str | None] = mapped_column(String(16), unique=True, nullable=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # running, flat, left_open
    trigger: Mapped[str] = mapped_column(String(64))  # manual, api, cli, auto:<trigger name>
    actor: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    steps_done: Mapped[int] = mapped_column(default=0)  # the last step completed (0-6); a resume starts after it
    owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resumed: Mapped[int] = mapped_column(default=0)  # how many times another runner took it over
    open_positions: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)  # the latest re-read, while running
    left_open: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)  # what could not be closed or read
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)


class EmergencyStep(Base):
    """One of the six steps of a sequence, with its times, progress and outcome."""

    __tablename__ = "emergency_step"
    __table_args__ = (UniqueConstraint("sequence_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    sequence_id: Mapped[int] = mapped_column(ForeignKey("emergency_sequence.id"), index=True)
    number: Mapped[int] = mapped_column()
    name: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # pending, running, done, failed
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    progress_done: Mapped[int] = mapped_column(default=0)
    progress_total: Mapped[int] = mapped_column(default=0)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)


class EmergencyOrder(Base):
    """One exchange action of a sequence (a cancel, a close, a re-read) and its result."""

    __tablename__ = "emergency_order"
    __table_args__ = (Index("ix_emergency_order_seq_key", "sequence_id", "account", "symbol", "side"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    sequence_id: Mapped[int] = mapped_column(ForeignKey("emergency_sequence.id"), index=True)
    step: Mapped[int] = mapped_column()
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    account: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(24))  # cancel_orders, close, cancel_leftovers, read
    symbol: Mapped[str | None] = mapped_column(String(64), nullable=True)
    side: Mapped[str | None] = mapped_column(String(8), nullable=True)
    attempt: Mapped[int] = mapped_column(default=1)
    client_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    order_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ok: Mapped[bool] = mapped_column()
    message: Mapped[str] = mapped_column(Text)


class RiskNotice(Base):
    """A one-time automatic action already taken: the key names what and for which day or episode."""

    __tablename__ = "risk_notice"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(48), index=True)
    account: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    message: Mapped[str] = mapped_column(Text)


class MonitorAction(Base):
    """What the position monitor did about one position (identified by account, symbol, side and identity).

    A done close or partial take-profit is never repeated for the same position; a rejected one is retried on
    the next cycle under a new attempt number (and so a new intent id).
    """

    __tablename__ = "monitor_action"
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    account: Mapped[str] = mapped_column(String(64), index=True)
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(32))  # close, partial_take_profit, alert
    status: Mapped[str] = mapped_column(String(16))  # pending, done, rejected, gave_up, alerted
    attempts: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)
