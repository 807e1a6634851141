"""What one close order realized: its fill price and realized P&L when known, honestly "pending" otherwise.

``close_result(runtime, account, client_id)`` is the read-side call for any panel that sent a close through the
gate (the emergency panel here; the dashboard's per-position Close can call it with ``GatewayResult.client_id``).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from riskmgr.core.errors import ExchangeError
from riskmgr.core.formatting import dec
from riskmgr.exchanges.paper.models import PaperAccount, PaperFill, PaperOrder
from riskmgr.journal import intents as intent_mod
from riskmgr.persistence.models import OrderIntent

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime

FILLED, PENDING, UNKNOWN = "filled", "pending", "unknown"


def close_result(runtime: Runtime, account: str, client_id: str) -> dict[str, Any]:
    """Return ``{status, fill_price, qty, realized_pnl, closed_at, note}`` of the close sent as ``client_id``.

    status: ``filled`` (figures from the paper ledger or the venue's closed-trade history), ``pending`` (no fill
    reported yet) or ``unknown`` (the account's history cannot be read; ``note`` says why).
    """
    reader = runtime.accounts.get(account)
    if reader is None:
        return _answer(UNKNOWN, note=f"{account!r} is not a configured account")
    if reader.mode == "paper":
        return _paper(runtime, account, client_id)
    return _venue(runtime, account, client_id)


def _answer(status: str, *, note: str = "", **figures: Any) -> dict[str, Any]:
    base = {"fill_price": None, "qty": None, "realized_pnl": None, "closed_at": None}
    return {"status": status, "note": note} | base | figures


def _paper(runtime: Runtime, account: str, client_id: str) -> dict[str, Any]:
    with Session(runtime.engine) as session:
        query = (select(PaperFill).join(PaperOrder, PaperOrder.id == PaperFill.order_id)
                 .join(PaperAccount, PaperAccount.id == PaperFill.account_id)
                 .where(PaperAccount.name == account, PaperOrder.client_id == client_id, PaperFill.closes.is_(True)))
        fills = list(session.scalars(query))
    if not fills:
        return _answer(PENDING, note="no fill recorded for this close yet")
    qty = sum((f.qty for f in fills), Decimal(0))
    price = sum((f.price * f.qty for f in fills), Decimal(0)) / qty
    pnl = sum((f.net_pnl for f in fills if f.net_pnl is not None), Decimal(0))
    return _answer(FILLED, fill_price=dec(price), qty=dec(qty), realized_pnl=dec(pnl),
                   closed_at=max(f.ts for f in fills).isoformat(),
                   note="after trading fees and funding (paper ledger)")


def _venue(runtime: Runtime, account: str, client_id: str) -> dict[str, Any]:
    with Session(runtime.engine) as session:
        row = session.get(OrderIntent, client_id)
        intent = intent_mod.info_of(row) if row is not None and row.account == account else None
    if intent is None:
        return _answer(UNKNOWN, note="the gate has no record of this close")
    try:
        reported = runtime.accounts[account].fetch_closed_trades(intent.created_at - timedelta(seconds=5))
    except ExchangeError as exc:
        return _answer(UNKNOWN, note=f"closed-trade history unavailable — {exc.describe()}")
    found = [t for t in reported if t.symbol == intent.symbol
             and intent.created_at - timedelta(seconds=5) <= t.closed_at <= intent.created_at + intent_mod.MATCH_WINDOW]
    if not found:
        return _answer(PENDING, note="the venue reports no close of this position yet")
    trade = min(found, key=lambda t: t.closed_at)
    return _answer(FILLED, realized_pnl=dec(trade.realized_pnl), closed_at=trade.closed_at.isoformat(),
                   note="fill price unknown: the venue's closed-trade report carries no exit price")
