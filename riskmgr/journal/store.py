"""Write and read the journal's copy of live venues' closed trades (``journal_trade``), de-duplicated by trade id."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from riskmgr.core.domain import PositionSide
from riskmgr.journal.models import StoredTrade
from riskmgr.risk.context import ClosedTrade


def save(engine: Engine, account: str, exchange: str, trades: list[tuple[str, ClosedTrade]], now: datetime) -> int:
    """Store each ``(trade id, close)`` not stored before; return how many were new."""
    if not trades:
        return 0
    rows = [{
        "id": tid, "account": account, "exchange": exchange, "symbol": t.symbol,
        "side": t.side.value if t.side is not None else None, "closed_at": t.closed_at,
        "realized_pnl": t.realized_pnl, "opened_at": t.opened_at, "entry_price": t.entry_price,
        "exit_price": t.exit_price, "qty": t.qty, "trading_fees": t.trading_fees, "venue_id": t.venue_id,
        "first_seen_at": now,
    } for tid, t in trades]
    with Session(engine) as session, session.begin():
        maker = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        result = session.execute(maker(StoredTrade).values(rows).on_conflict_do_nothing(index_elements=["id"]))
        return max(result.rowcount or 0, 0)  # type: ignore[attr-defined]  # a DML statement's Result is a CursorResult, which has rowcount


def load(engine: Engine, account: str, since: datetime, until: datetime) -> list[tuple[str, ClosedTrade]]:
    """Return the stored closes of ``account`` between ``since`` and ``until``, newest first."""
    query = (select(StoredTrade)
             .where(StoredTrade.account == account, StoredTrade.closed_at >= since, StoredTrade.closed_at <= until)
             .order_by(StoredTrade.closed_at.desc(), StoredTrade.id))
    with Session(engine) as session:
        return [(r.id, ClosedTrade(
            r.closed_at, r.realized_pnl, r.symbol, PositionSide(r.side) if r.side else None, opened_at=r.opened_at,
            entry_price=r.entry_price, exit_price=r.exit_price, qty=r.qty, trading_fees=r.trading_fees,
            venue_id=r.venue_id)) for r in session.scalars(query)]


def newest(engine: Engine, account: str) -> datetime | None:
    """Return the close time of ``account``'s newest stored close (None: nothing stored yet)."""
    with Session(engine) as session:
        return session.scalars(select(func.max(StoredTrade.closed_at)).where(StoredTrade.account == account)).one()
