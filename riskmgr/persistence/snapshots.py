"""The latest AccountSnapshot per account, kept in the database so every web worker sees the poller's view.

Snapshots are serialised to JSON with Decimals as strings (never floats) and read back exactly.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from riskmgr.core.domain import (
    AccountSnapshot,
    AccountStatus,
    Balance,
    MarginMode,
    Order,
    OrderSide,
    OrderStatus,
    OrderType,
    Position,
    PositionSide,
)
from riskmgr.persistence.models import SnapshotRecord

_DECIMAL_FIELDS = {
    Balance: {"wallet", "equity", "available", "margin_used", "unrealized_pnl"},
    Position: {"size", "entry_price", "mark_price", "leverage", "liquidation_price", "unrealized_pnl", "margin"},
    Order: {"qty", "price", "trigger_price", "filled_qty", "avg_fill_price", "fee"},
}
_ENUM_FIELDS = {
    Position: {"side": PositionSide, "margin_mode": MarginMode},
    Order: {"side": OrderSide, "type": OrderType, "status": OrderStatus, "position_side": PositionSide},
}
_TIME_FIELDS = {Position: {"opened_at"}, Order: {"created_at"}}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def _dump(obj: Any) -> dict[str, Any]:
    return {f.name: _plain(getattr(obj, f.name)) for f in fields(obj)}


def _load(cls: type, data: dict[str, Any]) -> Any:
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        if value is not None and f.name in _DECIMAL_FIELDS.get(cls, ()):
            value = Decimal(value)
        elif value is not None and f.name in _ENUM_FIELDS.get(cls, {}):
            value = _ENUM_FIELDS[cls][f.name](value)
        elif value is not None and f.name in _TIME_FIELDS.get(cls, ()):
            value = datetime.fromisoformat(value)
        kwargs[f.name] = value
    return cls(**kwargs)


def snapshot_to_dict(snap: AccountSnapshot) -> dict[str, Any]:
    """Serialise a snapshot to JSON-safe types (Decimals as strings)."""
    return {
        "account": snap.account,
        "exchange": snap.exchange,
        "mode": snap.mode,
        "status": snap.status.value,
        "attempted_at": snap.attempted_at.isoformat(),
        "fetched_at": snap.fetched_at.isoformat() if snap.fetched_at else None,
        "error": snap.error,
        "balance": _dump(snap.balance) if snap.balance else None,
        "positions": [_dump(p) for p in snap.positions],
        "orders": [_dump(o) for o in snap.orders],
        "simulated": snap.simulated,
        "extra": snap.extra,
    }


def snapshot_from_dict(data: dict[str, Any]) -> AccountSnapshot:
    """Rebuild a snapshot serialised by ``snapshot_to_dict``."""
    return AccountSnapshot(
        account=data["account"],
        exchange=data["exchange"],
        mode=data["mode"],
        status=AccountStatus(data["status"]),
        attempted_at=datetime.fromisoformat(data["attempted_at"]),
        fetched_at=datetime.fromisoformat(data["fetched_at"]) if data["fetched_at"] else None,
        error=data["error"],
        balance=_load(Balance, data["balance"]) if data["balance"] else None,
        positions=tuple(_load(Position, p) for p in data["positions"]),
        orders=tuple(_load(Order, o) for o in data["orders"]),
        simulated=data.get("simulated", False),
        extra=data.get("extra") or {},
    )


class SnapshotStore:
    """Read and write the latest snapshot of each account."""

    def __init__(self, engine: Engine):
        self._engine = engine

    def save(self, snapshots: list[AccountSnapshot]) -> None:
        """Replace the stored snapshot of each given account."""
        if not snapshots:
            return
        with Session(self._engine) as session, session.begin():
            stmt = select(SnapshotRecord).where(SnapshotRecord.account.in_([s.account for s in snapshots]))
            rows = {row.account: row for row in session.scalars(stmt)}  # one read for all, not one per account
            for snap in snapshots:
                row = rows.get(snap.account)
                if row is None:
                    session.add(SnapshotRecord(account=snap.account, attempted_at=snap.attempted_at,
                                               data=snapshot_to_dict(snap)))
                else:
                    row.attempted_at, row.data = snap.attempted_at, snapshot_to_dict(snap)

    def latest(self) -> dict[str, AccountSnapshot]:
        """Return the stored snapshot of every account that has one."""
        with Session(self._engine) as session:
            rows = session.scalars(select(SnapshotRecord)).all()
            return {row.account: snapshot_from_dict(row.data) for row in rows}
