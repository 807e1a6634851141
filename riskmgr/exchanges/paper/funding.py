"""Funding on the paper exchange: the backtester's rule (``fills.funding_payment``) at the venues' funding instants.

Every position open at a funding instant (00:00, 08:00, 16:00 UTC) receives or pays ``quantity * price * rate`` at
the price the replayed market stood at then. The wallet moves at once; the payment is kept on the position so each
close's net P&L includes its share, and each payment is one ``paper_funding`` row.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from riskmgr.core.domain import ZERO, PositionSide
from riskmgr.exchanges import fills as fm
from riskmgr.exchanges.paper.ledger import Ledger, mark_of
from riskmgr.exchanges.paper.models import PaperFunding, money


def charge(ledger: Ledger, marks: Mapping[str, Decimal], at: datetime, rate: Decimal) -> bool:
    """Pay or receive funding on every open position at the instant ``at``; tell whether the books changed."""
    if rate == ZERO:
        return False
    positions = ledger.positions()
    for position in positions:
        price = mark_of(marks, position.symbol)
        amount = money(fm.funding_payment(PositionSide(position.side), position.size, price, rate))
        ledger.account.wallet_balance = money(ledger.account.wallet_balance + amount)
        position.funding = money(position.funding + amount)
        ledger.session.add(PaperFunding(
            account_id=ledger.account.id, ts=at, symbol=position.symbol, side=position.side,
            position_uid=position.uid, qty=position.size, price=money(price), rate=rate, amount=amount,
        ))
    return bool(positions)
