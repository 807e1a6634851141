"""The journal's own copy of live venues' closed trades, so the journal outlives the venues' history windows.

One row per venue close, keyed by the journal's trade id (the venue's position id where it has one), written when
the journal reads a venue and by the capture after polls. Paper accounts need no copy: their ledger keeps every fill.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from riskmgr.persistence.base import Base
from riskmgr.persistence.models import MONEY, UTCDateTime


class StoredTrade(Base):
    """One close of one position as a live venue reported it (None: the venue's report lacks that figure)."""

    __tablename__ = "journal_trade"
    __table_args__ = (Index("ix_journal_trade_account_closed", "account", "closed_at"),)
    id: Mapped[str] = mapped_column(String(160), primary_key=True)
    account: Mapped[str] = mapped_column(String(64))
    exchange: Mapped[str] = mapped_column(String(32))
    symbol: Mapped[str | None] = mapped_column(String(64), nullable=True)
    side: Mapped[str | None] = mapped_column(String(8), nullable=True)
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    realized_pnl: Mapped[Decimal] = mapped_column(MONEY)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    entry_price: Mapped[Decimal | None] = mapped_column(MONEY, nullable=True)
    exit_price: Mapped[Decimal | None] = mapped_column(MONEY, nullable=True)
    qty: Mapped[Decimal | None] = mapped_column(MONEY, nullable=True)
    trading_fees: Mapped[Decimal | None] = mapped_column(MONEY, nullable=True)
    venue_id: Mapped[str | None] = mapped_column(String(96), nullable=True)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
