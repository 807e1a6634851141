"""The retention job (hourly): delete raw equity points, candle bars and finished order intents past their age.

Ages come from ``RETAIN_EQUITY_DAYS``, ``RETAIN_CANDLE_DAYS`` and ``RETAIN_INTENT_DAYS``. The 15 min and 1 h equity
roll-ups are kept (the long chart windows read them); the 1 min ones go with the raw points. An accepted intent on
a symbol whose position is still open is kept: the watchdog reads the stop it was sent with. The audit log is never
touched.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from riskmgr.accounts.watchdog_store import WatchedPosition
from riskmgr.app.runtime import current_runtime
from riskmgr.persistence.models import EquityPoint, EquityRollup, OrderIntent
from riskmgr.scanner.models import CandleBar

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime

log = logging.getLogger(__name__)
FINISHED = ("accepted", "denied", "rejected", "failed")
INTERVAL_S = 3600  # hourly: a process restarted every day (a dyno) would never reach a 24 h interval


def prune(runtime: Runtime) -> dict[str, int]:
    """Delete what is past its retention age; return how many rows of each kind went."""
    now = runtime.clock.now()
    s = runtime.settings
    with Session(runtime.engine) as session, session.begin():
        equity_cut = now - timedelta(days=s.retain_equity_days)
        gone = {
            "equity_points": _count(session.execute(delete(EquityPoint).where(EquityPoint.ts < equity_cut))),
            "equity_rollups_1min": _count(session.execute(
                delete(EquityRollup).where(EquityRollup.width_s == 60, EquityRollup.bucket < equity_cut))),
            "candle_bars": _count(session.execute(delete(CandleBar).where(
                CandleBar.ts < int((now - timedelta(days=s.retain_candle_days)).timestamp() * 1000)))),
            "order_intents": _prune_intents(session, now - timedelta(days=s.retain_intent_days)),
        }
    log.info("retention: deleted %s", ", ".join(f"{n} {kind}" for kind, n in gone.items()))
    return gone


def _prune_intents(session: Session, cut: datetime) -> int:
    held = {(r.account, r.symbol) for r in session.execute(
        select(WatchedPosition.account, WatchedPosition.symbol).where(WatchedPosition.open))}
    old = session.execute(select(OrderIntent.client_id, OrderIntent.account, OrderIntent.status, OrderIntent.request)
                          .where(OrderIntent.status.in_(FINISHED), OrderIntent.updated_at < cut)).all()
    doomed = [r.client_id for r in old
              if r.status != "accepted" or (r.account, (r.request or {}).get("symbol")) not in held]
    for start in range(0, len(doomed), 500):
        session.execute(delete(OrderIntent).where(OrderIntent.client_id.in_(doomed[start:start + 500])))
    return len(doomed)


def _count(result) -> int:
    return int(result.rowcount or 0)


def retention_job() -> None:
    """Run the retention once (the job table runs it every hour)."""
    prune(current_runtime())
