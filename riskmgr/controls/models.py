"""The per-account switches stored in the database: new entries paused, and auto-trading on / off / by config."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from riskmgr.persistence.base import Base
from riskmgr.persistence.models import UTCDateTime


class AccountControl(Base):
    """One account's operator switches; no row means: entries allowed, auto-trading as configured."""

    __tablename__ = "account_control"
    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    entries_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    entries_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    entries_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    entries_changed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    auto_trading: Mapped[bool | None] = mapped_column(Boolean, nullable=True)  # None: as configured
    auto_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    auto_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    auto_changed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
