"""The retention job deletes old raw equity points, candle bars and finished intents, and never the audit log."""

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from riskmgr.accounts import equity_history
from riskmgr.accounts.watchdog_store import WatchedPosition
from riskmgr.app import retention
from riskmgr.app.jobs import job_table
from riskmgr.persistence.models import AuditEvent, EquityPoint, EquityRollup, OrderIntent
from riskmgr.scanner.models import CandleBar


def _count(runtime, model, *where):
    with Session(runtime.engine) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def _intent(cid, status, at, symbol="BTC/USDT:USDT"):
    return OrderIntent(client_id=cid, account="paper", created_at=at, updated_at=at, purpose="entry", actor="t",
                       status=status, request={"symbol": symbol, "stop_loss": "1"})


def _seed(runtime, old, new):
    with Session(runtime.engine) as session, session.begin():
        for ts in (old, new):
            session.add(EquityPoint(account="paper", ts=ts, equity=Decimal(1), wallet=Decimal(1),
                                    unrealized_pnl=Decimal(0)))
            session.add(CandleBar(source="s", symbol="X", timeframe="1h", ts=int(ts.timestamp() * 1000), open=1,
                                  high=1, low=1, close=1, volume=1))
        equity_history.record(session, [("paper", old, Decimal(1)), ("paper", new, Decimal(1))])
        session.add_all([_intent("old-denied", "denied", old), _intent("old-pending", "pending", old),
                         _intent("old-held", "accepted", old, "ETH/USDT:USDT"), _intent("new", "denied", new)])
        session.add(WatchedPosition(account="paper", symbol="ETH/USDT:USDT", side="long", open=True, identity="i",
                                    first_seen=new, last_seen=new))
        session.add(AuditEvent(ts=old, kind="test.old", actor="t", message="kept for ever"))


def test_retention_deletes_what_is_past_its_age_and_keeps_the_rest(runtime, clock):
    now = clock.now()
    _seed(runtime, now - timedelta(days=400), now - timedelta(days=1))
    gone = retention.prune(runtime)
    assert gone["equity_points"] == 1 and gone["candle_bars"] == 1 and gone["order_intents"] == 1
    assert _count(runtime, EquityPoint) == 1 and _count(runtime, CandleBar) == 1
    with Session(runtime.engine) as session:
        left = set(session.scalars(select(OrderIntent.client_id)))
    assert left == {"old-pending", "old-held", "new"}  # in flight, and the plan of a position still open
    assert _count(runtime, EquityRollup, EquityRollup.width_s == 60) == 1
    assert _count(runtime, EquityRollup, EquityRollup.width_s == 3600) == 2  # coarse roll-ups stay


def test_retention_never_touches_the_audit_log(runtime, clock):
    now = clock.now()
    _seed(runtime, now - timedelta(days=4000), now)
    before = _count(runtime, AuditEvent)
    retention.prune(runtime)
    assert _count(runtime, AuditEvent) == before >= 1


def test_retention_is_in_the_job_table(app):
    jobs = {job_id: seconds for job_id, seconds, _ in job_table(app)}
    assert jobs["retention"] == retention.INTERVAL_S
