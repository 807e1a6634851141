"""Paper liquidations are audited and alerted like any forced close, each exactly once.

The paper books record every liquidation in ``paper_liquidation`` inside their own locked transaction (which may
run on any thread, the one-second tick job's included, and cannot write the audit log while it holds the lock).
After every poll this hook claims the rows not yet announced (one conditional update each, so two processes never
announce the same one), writes the audit event ``paper.liquidation`` and emits the event of the same kind, which the
alerts subscribe to. A claim whose audit write fails is given back, so the next poll announces it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, Engine, select, update
from sqlalchemy.orm import Session

from riskmgr.core.domain import AccountSnapshot, MarginMode
from riskmgr.core.feature import Feature
from riskmgr.exchanges.paper.ledger import fmt
from riskmgr.exchanges.paper.models import PaperAccount, PaperLiquidation

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime

ACTOR = "paper-exchange"
KIND = "paper.liquidation"


def poll_hook(runtime: Runtime, snapshots: list[AccountSnapshot]) -> None:
    """Audit and announce every paper liquidation not yet announced."""
    announce_liquidations(runtime)


def announce_liquidations(runtime: Runtime) -> int:
    """Audit and emit each unannounced liquidation of the runtime's paper accounts once; return how many."""
    names = runtime.paper_accounts()
    if not names:
        return 0
    done = 0
    for row, account in _pending(runtime.engine, names):
        if not _claim(runtime.engine, row.id, runtime.clock.now()):
            continue  # another process announced it first
        message, data = describe(row, account)
        try:
            runtime.audit.record(KIND, ACTOR, message, account=account, data=data)
        except Exception:
            _release(runtime.engine, row.id)  # not audited: the next poll tries again
            raise
        runtime.events.emit(KIND, message, account=account, data=data)
        done += 1
    return done


def describe(row: PaperLiquidation, account: str) -> tuple[str, dict[str, str]]:
    """Return the message and data of one liquidation's audit event and alert."""
    loss = -row.net_pnl  # the margin, the opening fees and the funding paid: a liquidation always costs
    mode = "cross" if row.margin_mode == MarginMode.CROSS.value else "isolated"
    message = (f"{account}: the paper exchange liquidated the {mode} {row.side} {fmt(row.qty)} {row.symbol} at "
               f"{fmt(row.price)} ({row.ts.isoformat()}); realized loss {fmt(loss)} USDT incl. fees and funding")
    data = {
        "symbol": row.symbol, "side": row.side, "qty": fmt(row.qty), "price": fmt(row.price),
        "margin_mode": row.margin_mode, "realized_pnl": fmt(row.realized_pnl), "liquidation_fee": fmt(row.fee),
        "net_pnl": fmt(row.net_pnl), "realized_loss": fmt(loss), "position_id": row.position_uid,
        "liquidated_at": row.ts.isoformat(),
    }
    return message, data


def _pending(engine: Engine, names: list[str]) -> list[tuple[PaperLiquidation, str]]:
    query = (
        select(PaperLiquidation, PaperAccount.name)
        .join(PaperAccount, PaperAccount.id == PaperLiquidation.account_id)
        .where(PaperLiquidation.announced_at.is_(None), PaperAccount.name.in_(names))
        .order_by(PaperLiquidation.ts, PaperLiquidation.id)
    )
    with Session(engine, expire_on_commit=False) as session:
        return [(row, name) for row, name in session.execute(query).all()]


def _claim(engine: Engine, row_id: int, now: datetime) -> bool:
    with Session(engine) as session, session.begin():
        result = cast("CursorResult[Any]", session.execute(
            update(PaperLiquidation)
            .where(PaperLiquidation.id == row_id, PaperLiquidation.announced_at.is_(None))
            .values(announced_at=now)
        ))  # an UPDATE's Result is a CursorResult
        return result.rowcount == 1


def _release(engine: Engine, row_id: int) -> None:
    with Session(engine) as session, session.begin():
        session.execute(update(PaperLiquidation).where(PaperLiquidation.id == row_id).values(announced_at=None))


FEATURE = Feature(name="paper-notices", poll_hook=poll_hook)
