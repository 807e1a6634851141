"""Closed trades of a live venue account, from its closed-trade history (``fetch_closed_trades``).

The venues' reports carry the close time, the realized P&L and (mostly) the symbol and side; entry and exit prices,
size, fees and funding are not part of that contract, so they stay None ("unknown"). The exit reason comes from
riskmgr's own closing intent on the same symbol just before the close, when there is one.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import Engine

from riskmgr.exchanges.reader import AccountReader
from riskmgr.journal import intents as intent_mod
from riskmgr.journal import store
from riskmgr.journal.trades import JournalTrade
from riskmgr.risk.context import ClosedTrade

PNL_BASIS = {
    "bitget": "net profit as Bitget reports it (after trading fees and funding, not itemised: the docs leave their "
              "signs open); size is the closed quantity",
    "bitunix": "realized P&L less the trading fee, as Bitunix reports them (funding not included: the docs leave its "
               "sign open); size is the position's largest size",
    "binance": "realized P&L less the closing fill's commission (Binance income history; opening fee not deducted)",
}


def capture(engine: Engine, reader: AccountReader, since: datetime, now: datetime) -> int:
    """Read the venue's closes since ``since`` and store the new ones; return how many were new (raises on failure)."""
    reported = reader.fetch_closed_trades(since)
    return store.save(engine, reader.account, reader.exchange,
                      [(trade_id(reader.exchange, reader.account, t), t) for t in reported], now)


def venue_trades(engine: Engine, reader: AccountReader, since: datetime, until: datetime,
                 now: datetime) -> list[JournalTrade]:
    """Read the venue's closes (storing new ones), then return every stored close between ``since`` and ``until``.

    Stored closes the venue no longer reports (older than its history window) stay in the journal.
    """
    capture(engine, reader, since, now)
    return stored_trades(engine, reader, since, until)


def stored_trades(engine: Engine, reader: AccountReader, since: datetime, until: datetime) -> list[JournalTrade]:
    """Return the stored closes of ``reader``'s account between ``since`` and ``until``, newest first."""
    candidates = intent_mod.closing_intents(engine, reader.account, since)
    trades = [_trade(reader, tid, t, candidates) for tid, t in store.load(engine, reader.account, since, until)]
    return sorted(trades, key=lambda t: (t.exit_time, t.id), reverse=True)


def _trade(reader: AccountReader, tid: str, trade: ClosedTrade,
           candidates: list[intent_mod.IntentInfo]) -> JournalTrade:
    info = intent_mod.match_close(candidates, trade.symbol, trade.closed_at)
    reason, detail = intent_mod.describe(info)
    side = trade.side.value if trade.side is not None else None
    return JournalTrade(
        id=tid, account=reader.account,
        exchange=reader.exchange, symbol=trade.symbol, side=side, exit_time=trade.closed_at,
        realized_pnl=trade.realized_pnl,
        pnl_basis=PNL_BASIS.get(reader.exchange, f"realized P&L as {reader.exchange} reports it"),
        entry_time=trade.opened_at, entry_price=trade.entry_price, exit_price=trade.exit_price, qty=trade.qty,
        fees=trade.trading_fees,
        exit_reason=reason, exit_detail=detail or "no riskmgr close order matched; the venue does not say why",
        close_client_id=info.client_id if info else None,
    )


def trade_id(exchange: str, account: str, trade: ClosedTrade) -> str:
    """Return a stable id of one venue close: the venue's position id, else a digest of what identifies it."""
    if trade.venue_id:
        return f"{exchange}:{account}:{trade.venue_id}"
    side = trade.side.value if trade.side is not None else None
    raw = f"{account}|{trade.closed_at.isoformat()}|{trade.symbol}|{side}|{trade.realized_pnl}"
    return f"{exchange}:{account}:{hashlib.sha256(raw.encode()).hexdigest()[:16]}"
