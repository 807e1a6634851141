"""Database tables of the paper exchange: accounts, per-symbol settings, positions, orders and fills.

Enum-valued columns hold the ``.value`` of the domain enums (OrderSide, OrderType, ...) and come back as the enum
member (``EnumText``): a stored value that is not one of them (a damaged or hand-edited database) is refused at load
as a ``MalformedResponseError`` naming the column and the value, like any malformed venue reply, never a bare
``ValueError`` deep inside a fill. Quantities and money are ``MONEY`` (Numeric 28, 10) and come back as Decimal.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Dialect, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from riskmgr.core.domain import ZERO, MarginMode, OrderSide, OrderStatus, OrderType, PositionSide
from riskmgr.core.errors import MalformedResponseError
from riskmgr.persistence.base import Base
from riskmgr.persistence.models import MONEY, UTCDateTime

MONEY_QUANTUM = Decimal("1e-10")  # the scale of MONEY


def money(value: Decimal) -> Decimal:
    """Quantize a figure to the stored scale, so what is computed and what is read back agree."""
    return value.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)


class EnumText(TypeDecorator[StrEnum]):
    """A domain enum stored as its text value: written from the member or its value, read back as the member."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[StrEnum], length: int):
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        try:
            return self.enum(value).value
        except ValueError:
            raise ValueError(f"{value!r} is not a {self.enum.__name__}") from None  # a bug of ours: never stored

    def process_result_value(self, value: Any, dialect: Dialect) -> StrEnum | None:
        if value is None:
            return None
        try:
            return self.enum(value)
        except ValueError:
            allowed = ", ".join(member.value for member in self.enum)
            raise MalformedResponseError(
                f"the paper ledger holds {value!r} as its {self.enum.__name__}, which is one of {allowed}: the "
                "database is damaged; restore it or reset the paper account", operation="paper ledger",
            ) from None


def new_uid() -> str:
    """Return a fresh position identity (random, so no counter can go back after a reset or a restore)."""
    return uuid.uuid4().hex


class PaperAccount(Base):
    """One simulated USDT futures account. ``last_matched_at``: the market path is replayed up to here."""

    __tablename__ = "paper_account"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    wallet_balance: Mapped[Decimal] = mapped_column(MONEY)
    start_balance: Mapped[Decimal] = mapped_column(MONEY)
    last_matched_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PaperSymbolSetting(Base):
    """Leverage and margin mode chosen for one symbol; a symbol without a row uses the defaults (1x, isolated)."""

    __tablename__ = "paper_symbol_setting"
    account_id: Mapped[int] = mapped_column(ForeignKey("paper_account.id"), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    leverage: Mapped[int] = mapped_column()
    margin_mode: Mapped[str] = mapped_column(EnumText(MarginMode, 16))


class PaperPosition(Base):
    """An open position (one-way mode: at most one per symbol). ``uid`` is its identity, never reused (SQLite
    reuses a deleted highest row id); ``margin`` is its initial margin, ``entry_fees`` the opening fees and
    ``funding`` the funding received (negative: paid) not yet matched by a close (for each close's net P&L)."""

    __tablename__ = "paper_position"
    __table_args__ = (
        UniqueConstraint("account_id", "symbol", name="uq_paper_position_account_symbol"),
        UniqueConstraint("uid", name="uq_paper_position_uid"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), default=new_uid)
    account_id: Mapped[int] = mapped_column(ForeignKey("paper_account.id"))
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(EnumText(PositionSide, 8))
    size: Mapped[Decimal] = mapped_column(MONEY)
    entry_price: Mapped[Decimal] = mapped_column(MONEY)
    leverage: Mapped[int] = mapped_column()
    margin_mode: Mapped[str] = mapped_column(EnumText(MarginMode, 16))
    margin: Mapped[Decimal] = mapped_column(MONEY)
    entry_fees: Mapped[Decimal] = mapped_column(MONEY, default=ZERO)
    funding: Mapped[Decimal] = mapped_column(MONEY, default=ZERO)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PaperOrder(Base):
    """An order with every field of ``domain.Order``, plus the margin it holds while resting and the stop-loss /
    take-profit to attach to the position once it fills."""

    __tablename__ = "paper_order"
    __table_args__ = (
        UniqueConstraint("account_id", "client_id", name="uq_paper_order_account_client"),
        Index("ix_paper_order_account_status", "account_id", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("paper_account.id"))
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(EnumText(OrderSide, 8))
    type: Mapped[str] = mapped_column(EnumText(OrderType, 24))
    status: Mapped[str] = mapped_column(EnumText(OrderStatus, 24))
    qty: Mapped[Decimal | None] = mapped_column(MONEY, nullable=True)
    price: Mapped[Decimal | None] = mapped_column(MONEY, nullable=True)
    trigger_price: Mapped[Decimal | None] = mapped_column(MONEY, nullable=True)
    reduce_only: Mapped[bool] = mapped_column(default=False)
    close_position: Mapped[bool] = mapped_column(default=False)
    client_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    filled_qty: Mapped[Decimal] = mapped_column(MONEY, default=ZERO)
    avg_fill_price: Mapped[Decimal | None] = mapped_column(MONEY, nullable=True)
    fee: Mapped[Decimal] = mapped_column(MONEY, default=ZERO)
    reserved_margin: Mapped[Decimal] = mapped_column(MONEY, default=ZERO)
    position_side: Mapped[str | None] = mapped_column(EnumText(PositionSide, 8), nullable=True)
    attached_stop_loss: Mapped[Decimal | None] = mapped_column(MONEY, nullable=True)
    attached_take_profit: Mapped[Decimal | None] = mapped_column(MONEY, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PaperFill(Base):
    """One fill: the trade history. ``closes`` marks a fill that reduced a position; such fills carry
    ``net_pnl`` (realized P&L minus this fee and the matching share of the opening fees)."""

    __tablename__ = "paper_fill"
    __table_args__ = (Index("ix_paper_fill_account_ts", "account_id", "ts"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("paper_account.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("paper_order.id"), nullable=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(EnumText(OrderSide, 8))
    qty: Mapped[Decimal] = mapped_column(MONEY)
    price: Mapped[Decimal] = mapped_column(MONEY)
    fee: Mapped[Decimal] = mapped_column(MONEY)
    realized_pnl: Mapped[Decimal] = mapped_column(MONEY)
    net_pnl: Mapped[Decimal | None] = mapped_column(MONEY, nullable=True)
    closes: Mapped[bool] = mapped_column()
    reason: Mapped[str] = mapped_column(String(16))
    maker: Mapped[bool] = mapped_column(default=False)
    # lets a fill and the order it fills go to the database in one flush (the order first, then the fill with its
    # id); never loaded from a fill
    order: Mapped[PaperOrder | None] = relationship(lazy="raise")


class PaperFunding(Base):
    """One funding payment on one position at one funding instant: ``amount`` received (negative: paid)."""

    __tablename__ = "paper_funding"
    __table_args__ = (Index("ix_paper_funding_account_ts", "account_id", "ts"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("paper_account.id"))
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(EnumText(PositionSide, 8))  # the position's side
    position_uid: Mapped[str] = mapped_column(String(32))
    qty: Mapped[Decimal] = mapped_column(MONEY)
    price: Mapped[Decimal] = mapped_column(MONEY)
    rate: Mapped[Decimal] = mapped_column(MONEY)
    amount: Mapped[Decimal] = mapped_column(MONEY)


class PaperLiquidation(Base):
    """One liquidated position, kept for the audit log and the alert; ``announced_at`` is set once they are made.

    ``side`` is the position's side; ``net_pnl`` the loss after the liquidation fee, the opening fees and funding.
    """

    __tablename__ = "paper_liquidation"
    __table_args__ = (Index("ix_paper_liquidation_announced", "announced_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("paper_account.id"))
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(EnumText(PositionSide, 8))
    position_uid: Mapped[str] = mapped_column(String(32))
    margin_mode: Mapped[str] = mapped_column(EnumText(MarginMode, 16))
    qty: Mapped[Decimal] = mapped_column(MONEY)
    price: Mapped[Decimal] = mapped_column(MONEY)
    realized_pnl: Mapped[Decimal] = mapped_column(MONEY)
    fee: Mapped[Decimal] = mapped_column(MONEY)
    net_pnl: Mapped[Decimal] = mapped_column(MONEY)
    announced_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
