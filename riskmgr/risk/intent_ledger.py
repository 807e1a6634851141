"""The gate's records of new-risk intents per account: the in-flight watermark and what may still fill.

An intent is *in flight* while it is pending (sent, no answer yet) or failed without an answer (it may be out),
until it is ``IN_FLIGHT_TTL`` old; an accepted one counts too when it was let
through after the venue reads being judged were started (the account's gate sequence number is the watermark),
because those reads cannot show it yet. Counting an order twice (on the venue and here) only denies more.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from riskmgr.persistence.models import AccountGate, OrderIntent
from riskmgr.risk.exposure import PendingEntry, entry_from_request, to_decimal

# a pending intent older than this is a crashed send, not one in flight: the venue reads show what became of it
IN_FLIGHT_TTL = timedelta(minutes=2)


class IntentLedger:
    """Read and advance the gate's per-account watermark; list intents in flight."""

    def __init__(self, engine: Engine):
        self._engine = engine

    def watermark(self, account: str) -> int:
        """Return the account's gate sequence number now (read before the venue reads a judgement uses)."""
        with Session(self._engine) as session:
            row = session.get(AccountGate, account)
            return row.seq if row is not None else 0

    def next_seq(self, account: str) -> int:
        """Advance and return the account's gate sequence number (called inside the account's gate lock)."""
        with Session(self._engine) as session, session.begin():
            dialect = session.get_bind().dialect.name
            maker = pg_insert if dialect == "postgresql" else sqlite_insert
            session.execute(maker(AccountGate).values(account=account, seq=0).on_conflict_do_nothing())
            session.execute(update(AccountGate).where(AccountGate.account == account).values(seq=AccountGate.seq + 1))
            return session.scalars(select(AccountGate.seq).where(AccountGate.account == account)).one()

    def in_flight(self, account: str, since_seq: int, now: datetime) -> list[PendingEntry]:
        """Return new-risk intents pending now, or let through after ``since_seq``, as pending entries."""
        stmt = select(OrderIntent).where(
            OrderIntent.account == account,
            OrderIntent.gate_seq.is_not(None),
            or_(
                OrderIntent.status.in_(("pending", "failed")) & (OrderIntent.created_at >= now - IN_FLIGHT_TTL),
                (OrderIntent.status == "accepted") & (OrderIntent.gate_seq > since_seq),
            ),
        )
        with Session(self._engine) as session:
            rows = list(session.scalars(stmt))
        return [e for e in (entry_from_request(r.client_id, r.request or {}) for r in rows) if e is not None]

    def entries_since(self, account: str, purpose: str, since: datetime) -> int:
        """Return how many new-risk intents of ``purpose`` the gate let through on ``account`` since ``since``.

        Accepted ones count, and so do pending and failed ones (they may be out: when unsure, count). Read inside the
        account's gate lock, the count includes every entry sent before, whichever process sent it.
        """
        stmt = select(func.count()).select_from(OrderIntent).where(
            OrderIntent.account == account, OrderIntent.purpose == purpose, OrderIntent.gate_seq.is_not(None),
            OrderIntent.status.in_(("accepted", "pending", "failed")), OrderIntent.created_at >= since,
        )
        with Session(self._engine) as session:
            return session.execute(stmt).scalar_one()

    def stops(self, account: str, client_ids: list[str]) -> dict[str, Decimal]:
        """Return the stop-loss each of ``client_ids`` was sent with, where the gate recorded one."""
        if not client_ids:
            return {}
        with Session(self._engine) as session:
            rows = session.scalars(select(OrderIntent).where(OrderIntent.account == account,
                                                             OrderIntent.client_id.in_(client_ids)))
            out = {}
            for row in rows:
                stop = to_decimal((row.request or {}).get("stop_loss"))
                if stop is not None:
                    out[row.client_id] = stop
            return out
