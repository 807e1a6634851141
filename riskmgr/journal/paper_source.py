"""Closed trades of a paper account, rebuilt from its fill history (every figure is the ledger's own).

The paper book is one-way (one position per symbol). Replaying the fills oldest first gives each close the
position it reduced: the entry time (first opening fill after flat), the weighted entry price, the opening fees'
share the ledger charged it (``entry_fees * qty / size``, as ``PaperLedger._reduce`` does) and so the funding it
carried: ``net = realized - fee - share + funding`` is stored per close, hence ``funding = net - realized + fee +
share``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from riskmgr.core.domain import ZERO, OrderSide, PositionSide
from riskmgr.core.errors import MalformedResponseError
from riskmgr.exchanges.fills import FillReason
from riskmgr.exchanges.paper.models import PaperAccount, PaperFill, PaperOrder, money
from riskmgr.journal import intents as intent_mod
from riskmgr.journal.trades import LIQUIDATION, STOP, TARGET, UNKNOWN, JournalTrade, SignalRef

PNL_BASIS = "after trading fees and funding (paper ledger)"
FILL_REASONS = {FillReason.STOP_LOSS.value: STOP, FillReason.TAKE_PROFIT.value: TARGET,
                FillReason.LIQUIDATION.value: LIQUIDATION}


@dataclass
class _Open:
    """The open position of one symbol while replaying."""

    side: PositionSide
    opened_at: datetime
    opener: str | None
    qty: Decimal = ZERO
    cost: Decimal = ZERO
    fees: Decimal = ZERO
    client_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Close:
    fill: PaperFill
    client_id: str | None
    position: _Open
    entry_price: Decimal
    share: Decimal


def paper_trades(engine: Engine, account: str, since: datetime, until: datetime) -> list[JournalTrade]:
    """Return the closes of paper ``account`` between ``since`` and ``until``, newest first."""
    with Session(engine) as session:
        account_id = session.scalars(select(PaperAccount.id).where(PaperAccount.name == account)).first()
        if account_id is None:
            return []
        fills = list(session.scalars(select(PaperFill).where(PaperFill.account_id == account_id, PaperFill.ts <= until)
                                     .order_by(PaperFill.ts, PaperFill.id)))
        order_ids = {f.order_id for f in fills if f.order_id is not None}
        clients = dict(session.execute(select(PaperOrder.id, PaperOrder.client_id)
                                       .where(PaperOrder.id.in_(order_ids))).all()) if order_ids else {}
    closes = [c for c in _replay(fills, clients) if c.fill.ts >= since]
    wanted = [c.client_id for c in closes if c.client_id] + [c.position.opener for c in closes if c.position.opener]
    gate = intent_mod.intents(engine, wanted)
    opened_by_signal = intent_mod.signals(engine, [c.position.opener for c in closes if c.position.opener])
    trades = [_trade(account, c, gate, opened_by_signal) for c in closes]
    return sorted(trades, key=lambda t: (t.exit_time, t.id), reverse=True)


def _replay(fills: list[PaperFill], clients: dict[int, str | None]) -> list[_Close]:
    book: dict[str, _Open] = {}
    closes: list[_Close] = []
    for fill in fills:
        client_id = clients.get(fill.order_id) if fill.order_id is not None else None
        if fill.side not in (OrderSide.BUY.value, OrderSide.SELL.value):
            raise MalformedResponseError(f"paper fill {fill.id} has side {fill.side!r}, neither buy nor sell")
        if not fill.closes:
            side = PositionSide.LONG if fill.side == OrderSide.BUY.value else PositionSide.SHORT
            opening = book.setdefault(fill.symbol, _Open(side, fill.ts, client_id))
            opening.qty += fill.qty
            opening.cost += fill.price * fill.qty
            opening.fees += fill.fee
            continue
        held = book.get(fill.symbol)
        if held is None or held.qty <= 0:  # history starts mid-position (a reset or a cut): nothing to tie it to
            closes.append(_Close(fill, client_id, _Open(_closed_side(fill), fill.ts, None, fill.qty), ZERO, ZERO))
            continue
        entry = held.cost / held.qty
        share = money(held.fees * fill.qty / held.qty)
        closes.append(_Close(fill, client_id, held, entry, share))
        held.qty -= fill.qty
        held.cost = entry * held.qty
        held.fees -= share
        if held.qty <= 0:
            del book[fill.symbol]
    return closes


def _closed_side(fill: PaperFill) -> PositionSide:
    return PositionSide.LONG if fill.side == OrderSide.SELL.value else PositionSide.SHORT


def _trade(account: str, close: _Close, gate: dict[str, intent_mod.IntentInfo],
           opened_by_signal: Mapping[str, SignalRef]) -> JournalTrade:
    fill, held = close.fill, close.position
    if fill.net_pnl is None:
        raise MalformedResponseError(f"paper fill {fill.id} closes a position but has no net P&L")
    known = close.entry_price > 0  # False: the opening fills are not in the history
    reason = FILL_REASONS.get(fill.reason)
    info = gate.get(close.client_id or "")
    detail = fill.reason.replace("_", "-") if reason else ""
    if reason is None:
        reason, detail = intent_mod.describe(info)
        if info is None:
            detail = "closing order not sent through riskmgr's gate" if close.client_id is None else ""
    opener = gate.get(held.opener or "") if known else None
    return JournalTrade(
        id=f"paper:{account}:{fill.id}", account=account, exchange="paper", symbol=fill.symbol,
        side=held.side.value, exit_time=fill.ts, realized_pnl=fill.net_pnl, pnl_basis=PNL_BASIS,
        entry_time=held.opened_at if known else None, entry_price=close.entry_price if known else None,
        exit_price=fill.price, qty=fill.qty,
        fees=fill.fee + close.share if known else None,
        funding=fill.net_pnl - fill.realized_pnl + fill.fee + close.share if known else None,
        exit_reason=reason or UNKNOWN, exit_detail=detail,
        opened_by=opener.purpose if opener else None,
        signal=opened_by_signal.get(held.opener or "") if known else None,
        close_client_id=close.client_id,
    )
