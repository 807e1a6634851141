"""Tables of the scanner feature: cached candles, scan runs, signal history and auto-trading decisions."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, BigInteger, Double, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from riskmgr.persistence.base import Base
from riskmgr.persistence.models import MONEY, UTCDateTime


class CandleBar(Base):
    """One closed OHLCV bar of a public market-data source; ``ts`` is the bar's open time in ms (UTC).

    Only closed bars are stored (a forming bar still changes). Prices are floats like every indicator input.
    """

    __tablename__ = "candle_bar"
    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    timeframe: Mapped[str] = mapped_column(String(8), primary_key=True)
    ts: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    open: Mapped[float] = mapped_column(Double)
    high: Mapped[float] = mapped_column(Double)
    low: Mapped[float] = mapped_column(Double)
    close: Mapped[float] = mapped_column(Double)
    volume: Mapped[float] = mapped_column(Double)


class ScanRun(Base):
    """One scan: when, over what, and its result (ranked signals, dropped ones, rejections, errors) as JSON."""

    __tablename__ = "scan_run"
    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(16))
    timeframe: Mapped[str] = mapped_column(String(8))
    trigger: Mapped[str] = mapped_column(String(16))  # "schedule", "manual" or "cli"
    data: Mapped[dict] = mapped_column(JSON)


class SignalRecord(Base):
    """Every distinct signal the scanner saw (one bar of one symbol) and what became of it.

    ``status``: active (actionable, nothing decided yet), taken, denied, rejected (by the exchange),
    expired or dropped (by a filter); ``status_reason`` says why in words.
    """

    __tablename__ = "signal_record"
    __table_args__ = (Index("ix_signal_record_symbol_created", "symbol", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    rule: Mapped[str] = mapped_column(String(48))
    source: Mapped[str] = mapped_column(String(16))
    symbol: Mapped[str] = mapped_column(String(64))
    timeframe: Mapped[str] = mapped_column(String(8))
    side: Mapped[str] = mapped_column(String(8))
    entry: Mapped[Decimal] = mapped_column(MONEY)
    stop: Mapped[Decimal] = mapped_column(MONEY)
    target: Mapped[Decimal] = mapped_column(MONEY)
    reward_risk: Mapped[Decimal] = mapped_column(MONEY)
    confidence: Mapped[int] = mapped_column(Integer)
    quality: Mapped[Decimal] = mapped_column(MONEY)
    detail: Mapped[dict] = mapped_column(JSON)  # components, quality parts and notes, reasons, indicators
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)  # close time of the signal's bar
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), index=True)
    status_reason: Mapped[str] = mapped_column(Text)
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # when status last changed


class SignalDecision(Base):
    """What auto-trading decided for one signal on one account, and the trade's outcome once it closed.

    ``decision``: pending (being decided), taken, denied, rejected or skipped. ``outcome``: win, loss, flat,
    or unknown (with ``outcome_note`` saying why); None while the position is open.
    """

    __tablename__ = "signal_decision"
    __table_args__ = (UniqueConstraint("signal_id", "account", name="uq_signal_decision_signal_account"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    signal_id: Mapped[int] = mapped_column(ForeignKey("signal_record.id"), index=True)
    account: Mapped[str] = mapped_column(String(64), index=True)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    order_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    client_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    qty: Mapped[Decimal | None] = mapped_column(MONEY, nullable=True)
    verdicts: Mapped[list | None] = mapped_column(JSON, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    outcome_pnl: Mapped[Decimal | None] = mapped_column(MONEY, nullable=True)
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    outcome_note: Mapped[str | None] = mapped_column(Text, nullable=True)
