"""Two processes editing the risk limits at once lose no edit (compare-and-swap on the stored row)."""

from __future__ import annotations

import multiprocessing
from decimal import Decimal

from sqlalchemy import create_engine

from riskmgr.core.clock import FixedClock
from riskmgr.persistence.audit import AuditLog
from riskmgr.persistence.extensions import db
from riskmgr.risk.config import RiskLimits
from riskmgr.risk.limits_store import LimitsStore
from tests.conftest import T0, database_url, make_engine


def _store(url: str) -> LimitsStore:
    engine = make_engine(url)
    return LimitsStore(engine, AuditLog(engine, FixedClock(T0)), RiskLimits())


def test_an_edit_that_lost_the_race_is_applied_again_over_the_winner(tmp_path):
    url = database_url(tmp_path)
    db.metadata.create_all(create_engine(url))
    mine, theirs = _store(url), _store(url)
    real_raw = mine._raw
    calls = []

    def raw_then_someone_writes() -> str | None:
        value = real_raw()
        if not calls:  # between our read and our write, another process stores its edit
            theirs.update({"max_leverage": 3}, by="other")
        calls.append(value)
        return value

    mine._raw = raw_then_someone_writes  # type: ignore[method-assign]
    mine.update({"max_open_positions": 2}, by="me")

    limits = _store(url).current()
    assert (limits.max_leverage, limits.max_open_positions) == (3, 2)
    assert len(calls) == 2  # the first swap failed, the second read saw the other edit


def _edit(url: str, field: str, values: list[str], start) -> None:  # type: ignore[no-untyped-def]
    store = _store(url)
    start.wait()
    for value in values:
        store.update({field: value}, by=field)


def test_two_processes_editing_different_limits_at_once_both_keep_their_last_value(tmp_path):
    url = database_url(tmp_path)
    db.metadata.create_all(create_engine(url))
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Barrier(2)
    risk = [f"{Decimal('0.5') + Decimal(i) / 10}" for i in range(10)]
    loss = [f"{Decimal('1.5') + Decimal(i) / 10}" for i in range(10)]
    workers = [spawn.Process(target=_edit, args=(url, "risk_per_trade_pct", risk, start)),
               spawn.Process(target=_edit, args=(url, "daily_loss_limit_pct", loss, start))]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert [w.exitcode for w in workers] == [0, 0]

    limits = _store(url).current()
    assert limits.risk_per_trade_pct == Decimal(risk[-1]) and limits.daily_loss_limit_pct == Decimal(loss[-1])
