"""Liquidation on the paper exchange (the rules are in ``fills.py``).

An isolated liquidation costs exactly the position's margin: realized P&L at the liquidation price plus the rest of
the margin (the maintenance margin) forfeited as the liquidation fee. A cross liquidation closes every cross
position (the one that crossed at its liquidation price, the others at their marks) and leaves the cross part of
the account (wallet minus isolated margins) at zero. Liquidated symbols lose all their open orders.

Every liquidated position is also written to ``paper_liquidation``, from which ``paper_notices`` makes one audit
event and one alert each (the paper books are locked here, so they cannot be written from inside this transaction).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from riskmgr.core.domain import ZERO, MarginMode, PositionSide
from riskmgr.exchanges import fills as fm
from riskmgr.exchanges.paper.ledger import FillContext, Ledger, mark_of
from riskmgr.exchanges.paper.models import PaperLiquidation, PaperPosition, money


def liquidate(
    ledger: Ledger, position: PaperPosition, price: Decimal, marks: Mapping[str, Decimal], ts: datetime
) -> None:
    """Liquidate ``position`` at ``price`` (and, for cross margin, every other cross position at its mark)."""
    how = FillContext(None, False, fm.FillReason.LIQUIDATION, ts)
    if position.margin_mode == MarginMode.ISOLATED.value:
        maintenance = money(ledger.maintenance(position))
        _close(ledger, position, price, maintenance - position.margin, maintenance, how)
        return
    legs = []
    for other in ledger.positions():
        if other.margin_mode != MarginMode.CROSS.value:
            continue
        leg_price = price if other.id == position.id else mark_of(marks, other.symbol)
        realized = money(fm.pnl(PositionSide(other.side), other.entry_price, other.size, leg_price))
        legs.append((other, leg_price, realized, money(ledger.maintenance(other))))
    cross_balance = ledger.account.wallet_balance - ledger.isolated_margin()
    left = cross_balance + sum((realized - maintenance for _, _, realized, maintenance in legs), ZERO)
    for other, leg_price, realized, maintenance in legs:
        # the cross part ends at zero: a gap past the price is the insurance fund's, a rounding crumb is forfeit
        adjusted = realized - left if other.id == position.id else realized
        _close(ledger, other, leg_price, adjusted, maintenance, how)


def _close(
    ledger: Ledger, position: PaperPosition, price: Decimal, realized: Decimal, fee: Decimal, how: FillContext
) -> None:
    side = PositionSide(position.side)
    ledger.account.wallet_balance = money(ledger.account.wallet_balance + realized - fee)
    net = money(realized - fee - position.entry_fees + position.funding)
    ledger.add_fill(position.symbol, side.close_order_side, position.size, price, fee, how, realized, net)
    ledger.session.add(PaperLiquidation(
        account_id=ledger.account.id, ts=how.ts, symbol=position.symbol, side=position.side,
        position_uid=position.uid, margin_mode=position.margin_mode, qty=position.size, price=money(price),
        realized_pnl=money(realized), fee=money(fee), net_pnl=net, announced_at=None,
    ))
    ledger.remove_position(position, keep_orders=False)

