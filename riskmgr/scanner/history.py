"""The scanner's memory in the database: scan runs, every signal seen, auto-trading decisions and outcomes.

One ``SignalRecord`` per distinct signal (rule, source, symbol, bar, side): a signal seen again by the next
scan is the same record. Its status moves once, from ``active`` to taken, denied, rejected, expired or
dropped, and never back. A decision is claimed per (signal, account) before anything is sent, so two scans
(two processes) can never both act on one signal for one account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from riskmgr.core.clock import Clock, to_ms
from riskmgr.core.domain import PositionSide
from riskmgr.core.formatting import dec
from riskmgr.scanner.models import ScanRun, SignalDecision, SignalRecord
from riskmgr.signals.conservative import Signal
from riskmgr.signals.quality import Quality

KEEP_RUNS = 200


@dataclass(frozen=True)
class Recorded:
    """A signal's record after this scan: its id, key, current status and whether it was new."""

    id: int
    key: str
    status: str
    new: bool


@dataclass(frozen=True)
class Outcome:
    """How a decision ended, if it has: ``result`` taken, denied, rejected or skipped."""

    result: str
    reason: str
    order_id: str | None = None
    client_id: str | None = None
    qty: Decimal | None = None
    verdicts: list[dict[str, Any]] | None = None


class OpenTrade(NamedTuple):
    """A taken trade whose outcome is not known yet; ``until``: the next entry on the same symbol, if any."""

    decision_id: int
    account: str
    symbol: str
    side: PositionSide
    taken_at: datetime
    until: datetime | None


def signal_key(rule: str, source: str, signal: Signal) -> str:
    """Return the identity of a signal: the same bar of the same symbol is the same signal."""
    return f"{rule}|{source}|{signal.symbol}|{signal.timeframe}|{to_ms(signal.created_at)}|{signal.side.value}"


def signal_detail(signal: Signal, quality: Quality) -> dict[str, Any]:
    """Return the parts of a signal worth keeping beside its columns (JSON-safe)."""
    return {
        "components": dict(signal.components),
        "quality": {name: dec(points) for name, points in quality.components.items()},
        "notes": list(quality.notes),
        "missing": dict(quality.missing),
        "reasons": list(signal.reasons),
        "indicators": {name: round(value, 8) for name, value in signal.indicators.items()},
        "market_condition": signal.market_condition,
        "atr": dec(signal.atr),
    }


class SignalHistory:
    """Read and write scan runs, signal records and decisions."""

    def __init__(self, engine: Engine, clock: Clock):
        self._engine = engine
        self._clock = clock

    # -- scan runs -----------------------------------------------------------------------------------
    def save_run(self, started: datetime, source: str, timeframe: str, trigger: str, data: dict[str, Any]) -> int:
        """Store one scan's result and prune old runs; return its id."""
        with Session(self._engine) as session, session.begin():
            run = ScanRun(started_at=started, finished_at=self._clock.now(), source=source, timeframe=timeframe,
                          trigger=trigger, data=data)
            session.add(run)
            session.flush()
            session.execute(delete(ScanRun).where(ScanRun.id <= run.id - KEEP_RUNS))
            return run.id

    def latest_run(self) -> ScanRun | None:
        """Return the latest scan run, if any."""
        with Session(self._engine, expire_on_commit=False) as session:
            return session.scalars(select(ScanRun).order_by(ScanRun.id.desc()).limit(1)).first()

    # -- signal records ------------------------------------------------------------------------------
    def record(self, rule: str, source: str, signal: Signal, quality: Quality, status: str, reason: str
               ) -> Recorded:
        """Create the record of a signal seen for the first time, or note that it was seen again.

        An ``active`` record may become dropped or expired here; any other status is final.
        """
        now = self._clock.now()
        key = signal_key(rule, source, signal)
        with Session(self._engine) as session, session.begin():
            row = session.scalars(select(SignalRecord).where(SignalRecord.key == key)).first()
            if row is not None:
                row.last_seen_at = now
                if row.status == "active" and status != "active":
                    row.status, row.status_reason, row.status_at = status, reason, now
                return Recorded(row.id, key, row.status, False)
            row = SignalRecord(
                key=key, rule=rule, source=source, symbol=signal.symbol, timeframe=signal.timeframe,
                side=signal.side.value, entry=signal.entry, stop=signal.stop, target=signal.target,
                reward_risk=signal.reward_risk, confidence=signal.confidence, quality=quality.score,
                detail=signal_detail(signal, quality), created_at=signal.created_at,
                valid_until=signal.valid_until, first_seen_at=now, last_seen_at=now, status=status,
                status_reason=reason, status_at=now,
            )
            session.add(row)
            session.flush()
            return Recorded(row.id, key, status, True)

    def expire(self, now: datetime) -> int:
        """Mark active signals whose validity has passed as expired; return how many."""
        with Session(self._engine) as session, session.begin():
            rows = session.scalars(select(SignalRecord).where(
                SignalRecord.status == "active", SignalRecord.valid_until <= now)).all()
            for row in rows:
                row.status, row.status_at = "expired", now
                row.status_reason = f"not taken before it expired at {row.valid_until.isoformat()}"
            return len(rows)

    def statuses(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        """Return {key: {"status", "status_reason", "decisions"}} for the records with these keys."""
        if not keys:
            return {}
        with Session(self._engine) as session:
            rows = session.scalars(select(SignalRecord).where(SignalRecord.key.in_(keys))).all()
            by_id = {row.id: row.key for row in rows}
            out: dict[str, dict[str, Any]] = {row.key: {"status": row.status, "status_reason": row.status_reason,
                             "status_at": _iso(row.status_at), "decisions": []} for row in rows}
            decisions = session.scalars(select(SignalDecision).where(SignalDecision.signal_id.in_(list(by_id)))
                                        .order_by(SignalDecision.id)).all()
            for d in decisions:
                out[by_id[d.signal_id]]["decisions"].append(decision_view(d))
            return out

    def find(self, key: str) -> dict[str, Any] | None:
        """Return one signal record by its key (with its decisions), or None."""
        with Session(self._engine) as session:
            row = session.scalars(select(SignalRecord).where(SignalRecord.key == key)).first()
            if row is None:
                return None
            decisions = session.scalars(select(SignalDecision).where(SignalDecision.signal_id == row.id)
                                        .order_by(SignalDecision.id)).all()
            return record_view(row, [decision_view(d) for d in decisions])

    def history(self, limit: int, symbol: str | None = None) -> list[dict[str, Any]]:
        """Return the latest signal records (newest first) with their decisions and outcomes."""
        stmt = select(SignalRecord).order_by(SignalRecord.id.desc()).limit(limit)
        if symbol:
            stmt = stmt.where(SignalRecord.symbol == symbol)
        with Session(self._engine) as session:
            rows = session.scalars(stmt).all()
            ids = [row.id for row in rows]
            decisions: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
            for d in session.scalars(select(SignalDecision).where(SignalDecision.signal_id.in_(ids))
                                     .order_by(SignalDecision.id)):
                decisions[d.signal_id].append(decision_view(d))
            return [record_view(row, decisions[row.id]) for row in rows]

    # -- decisions -----------------------------------------------------------------------------------
    def claim(self, signal_id: int, account: str) -> bool:
        """Reserve the decision on one signal for one account; False if it was decided (or is being) already."""
        try:
            with Session(self._engine) as session, session.begin():
                session.add(SignalDecision(signal_id=signal_id, account=account, decided_at=self._clock.now(),
                                           decision="pending", reason="being decided"))
            return True
        except IntegrityError:
            return False

    def finish(self, signal_id: int, account: str, outcome: Outcome) -> None:
        """Record what was decided, and move the signal's status if the decision was final for it."""
        with Session(self._engine) as session, session.begin():
            row = session.scalars(select(SignalDecision).where(
                SignalDecision.signal_id == signal_id, SignalDecision.account == account)).one()
            row.decision, row.reason, row.decided_at = outcome.result, outcome.reason, self._clock.now()
            row.order_id, row.client_id, row.qty, row.verdicts = (
                outcome.order_id, outcome.client_id, outcome.qty, outcome.verdicts)
            record = session.get(SignalRecord, signal_id)
            # one account's entry outweighs another's denial: "taken" is what became of the signal
            moves = outcome.result != "skipped" and record is not None and (
                record.status == "active" or (outcome.result == "taken" and record.status in ("denied", "rejected")))
            if moves and record is not None:  # moves only with a record
                record.status, record.status_at = outcome.result, row.decided_at
                record.status_reason = f"{outcome.result} on {account}: {outcome.reason}"

    def decided(self, signal_id: int) -> set[str]:
        """Return the accounts that have a decision (or a claim) on a signal."""
        with Session(self._engine) as session:
            return set(session.scalars(select(SignalDecision.account).where(SignalDecision.signal_id == signal_id)))

    def last_taken_at(self) -> dict[str, datetime]:
        """Return, per symbol, when a signal on it was last taken on any account (for the cooldown)."""
        stmt = (select(SignalRecord.symbol, func.max(SignalDecision.decided_at))
                .join(SignalDecision, SignalDecision.signal_id == SignalRecord.id)
                .where(SignalDecision.decision == "taken").group_by(SignalRecord.symbol))
        with Session(self._engine) as session:
            return {symbol: when for symbol, when in session.execute(stmt)}

    def recorded_win_rate(self, rule: str, source: str, symbol: str, timeframe: str) -> tuple[int, int]:
        """Return (closed trades, winners) of this rule on this symbol from recorded outcomes."""
        stmt = (select(SignalDecision.outcome, func.count())
                .join(SignalRecord, SignalDecision.signal_id == SignalRecord.id)
                .where(SignalRecord.rule == rule, SignalRecord.source == source, SignalRecord.symbol == symbol,
                       SignalRecord.timeframe == timeframe, SignalDecision.outcome.in_(("win", "loss", "flat")))
                .group_by(SignalDecision.outcome))
        with Session(self._engine) as session:
            counts = dict(session.execute(stmt).all())
        return sum(counts.values()), counts.get("win", 0)

    def open_trades(self) -> list[OpenTrade]:
        """Return the taken trades without an outcome yet, oldest first."""
        with Session(self._engine) as session:
            taken = session.execute(
                select(SignalDecision.id, SignalDecision.account, SignalRecord.symbol, SignalRecord.side,
                       SignalDecision.decided_at, SignalDecision.outcome)
                .join(SignalRecord, SignalDecision.signal_id == SignalRecord.id)
                .where(SignalDecision.decision == "taken").order_by(SignalDecision.decided_at)).all()
        out = []
        for k, (ident, account, symbol, side, at, outcome) in enumerate(taken):
            if outcome is not None:
                continue
            later = [t[4] for t in taken[k + 1:] if t[1] == account and t[2] == symbol]
            out.append(OpenTrade(ident, account, symbol, PositionSide(side), at, later[0] if later else None))
        return out

    def set_outcome(self, decision_id: int, outcome: str, pnl: Decimal | None, at: datetime | None, note: str
                    ) -> None:
        """Record how a taken trade ended."""
        with Session(self._engine) as session, session.begin():
            row = session.get(SignalDecision, decision_id)
            if row is not None:
                row.outcome, row.outcome_pnl, row.outcome_at, row.outcome_note = outcome, pnl, at, note


def decision_view(d: SignalDecision) -> dict[str, Any]:
    """Describe one decision for the API."""
    return {
        "account": d.account, "decision": d.decision, "reason": d.reason, "decided_at": d.decided_at.isoformat(),
        "order_id": d.order_id, "qty": dec(d.qty), "verdicts": d.verdicts or [],
        "outcome": d.outcome, "outcome_pnl": dec(d.outcome_pnl),
        "outcome_at": d.outcome_at.isoformat() if d.outcome_at else None, "outcome_note": d.outcome_note,
    }


def record_view(row: SignalRecord, decisions: list[dict[str, Any]]) -> dict[str, Any]:
    """Describe one signal record for the API."""
    return {
        "key": row.key, "rule": row.rule, "source": row.source, "symbol": row.symbol, "timeframe": row.timeframe,
        "side": row.side, "entry": dec(row.entry), "stop": dec(row.stop), "target": dec(row.target),
        "reward_risk": dec(row.reward_risk), "confidence": row.confidence, "quality": dec(row.quality),
        "created_at": row.created_at.isoformat(), "valid_until": row.valid_until.isoformat(),
        "first_seen_at": row.first_seen_at.isoformat(), "status": row.status, "status_reason": row.status_reason,
        "status_at": _iso(row.status_at),
        "detail": row.detail, "decisions": decisions,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def day_start(now: datetime, zone: Any) -> datetime:
    """Return the start of the risk day containing ``now`` (midnight in ``zone``), as an aware datetime."""
    return now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
