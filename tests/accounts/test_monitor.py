import threading
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from riskmgr.accounts.monitor import poll_cycle
from riskmgr.accounts.services import snapshot_view
from riskmgr.core.domain import AccountStatus
from riskmgr.core.errors import AuthError, TemporaryError
from riskmgr.persistence.models import AccountState, EquityPoint, PollRun
from tests.fakes import ReadOnlyFake
from tests.support.apps import runtime_on


@pytest.fixture
def fakes():
    return {name: ReadOnlyFake(name, equity) for name, equity in (("a", "1000"), ("b", "2500"), ("c", "400"))}


@pytest.fixture
def rt(tmp_path, clock, fakes):
    with runtime_on(tmp_path, clock, adapters=fakes) as runtime:
        yield runtime


def test_poll_reads_every_account_in_parallel(rt, fakes):
    barrier = threading.Barrier(len(fakes), timeout=5)  # only passes if all reads are in flight at once
    for fake in fakes.values():
        fake.before_read = barrier.wait
    snaps = poll_cycle(rt)
    assert [s.status for s in snaps] == [AccountStatus.OK] * 3


def test_poll_records_equity_history_and_the_run(rt, clock):
    poll_cycle(rt)
    clock.advance(5)
    poll_cycle(rt)
    with Session(rt.engine) as session:
        points = session.scalars(select(EquityPoint).where(EquityPoint.account == "b")).all()
        runs = session.scalars(select(PollRun)).all()
    assert [p.equity for p in points] == [Decimal(2500), Decimal(2500)]
    assert len(runs) == 2 and all(r.accounts_ok == 3 for r in runs)


def test_failed_read_keeps_last_real_figures_marked_stale_with_reason(rt, fakes, clock):
    poll_cycle(rt)
    good_time = clock.now()
    clock.advance(5)
    fakes["a"].fail_with = TemporaryError("connection reset", operation="fetch_balance")
    fakes["a"].balance = None  # would be a wrong figure if it were ever used
    snaps = {s.account: s for s in poll_cycle(rt)}
    stale = snaps["a"]
    assert stale.status is AccountStatus.STALE
    assert stale.fetched_at == good_time
    assert stale.balance.equity == Decimal(1000)
    assert "connection reset" in stale.error


def test_failed_read_never_adds_an_equity_point(rt, fakes, clock):
    poll_cycle(rt)
    clock.advance(5)
    fakes["a"].fail_with = TemporaryError("timeout")
    poll_cycle(rt)
    with Session(rt.engine) as session:
        count = len(session.scalars(select(EquityPoint).where(EquityPoint.account == "a")).all())
    assert count == 1


def test_account_never_read_has_no_figures_and_an_error(rt, fakes):
    fakes["c"].fail_with = TemporaryError("exchange unreachable")
    view = snapshot_view(rt)
    assert view["accounts"][2]["equity"] is None  # never polled yet
    poll_cycle(rt)
    view = snapshot_view(rt)
    c = next(a for a in view["accounts"] if a["name"] == "c")
    assert c["status"] == "error" and c["equity"] is None and c["fetched_at"] is None
    assert "exchange unreachable" in c["error"]
    assert view["totals"]["accounts_without_figures"] == ["c"]
    assert view["totals"]["equity"] == "3500"
    assert view["totals"]["complete"] is False


def test_authentication_failure_marks_the_account_in_error(rt, fakes, clock):
    poll_cycle(rt)
    clock.advance(5)
    fakes["b"].fail_with = AuthError("signature rejected", code="10007")
    snaps = {s.account: s for s in poll_cycle(rt)}
    assert snaps["b"].status is AccountStatus.ERROR
    assert "signature rejected" in snaps["b"].error


def test_dashboard_view_shows_stale_since_and_reason(rt, fakes, clock):
    poll_cycle(rt)
    clock.advance(7)
    fakes["a"].fail_with = TemporaryError("timeout after 10 s")
    poll_cycle(rt)
    a = snapshot_view(rt)["accounts"][0]
    assert a["status"] == "stale"
    assert a["stale_since"] == a["fetched_at"]
    assert a["equity"] == "1000"
    assert "timeout after 10 s" in a["error"]


def test_day_baseline_and_peak_survive_in_the_database(rt, fakes, clock):
    poll_cycle(rt)
    fakes["a"].balance = fakes["a"].balance.__class__("USDT", *(Decimal(1200),) * 3, Decimal(0), Decimal(0))
    clock.advance(5)
    poll_cycle(rt)
    fakes["a"].balance = fakes["a"].balance.__class__("USDT", *(Decimal(900),) * 3, Decimal(0), Decimal(0))
    clock.advance(5)
    poll_cycle(rt)
    with Session(rt.engine) as session:
        state = session.get(AccountState, "a")
    assert (state.day_start_equity, state.peak_equity) == (Decimal(1000), Decimal(1200))
    view = snapshot_view(rt)["accounts"][0]
    assert view["day_pnl"] == "-100" and view["drawdown_pct"] == "25"


def test_new_risk_day_starts_a_new_baseline(rt, fakes, clock):
    poll_cycle(rt)
    fakes["a"].balance = fakes["a"].balance.__class__("USDT", *(Decimal(950),) * 3, Decimal(0), Decimal(0))
    clock.advance(hours=13)  # 12:00 UTC + 13 h is the next UTC day
    poll_cycle(rt)
    with Session(rt.engine) as session:
        state = session.get(AccountState, "a")
    assert state.day_start_equity == Decimal(950)


def test_poll_announces_the_cycle_and_each_failed_read(rt, fakes):
    seen = []
    rt.events.subscribe(seen.append)
    fakes["b"].fail_with = TemporaryError("reset by peer")
    poll_cycle(rt)
    kinds = [(e.kind, e.account) for e in seen]
    assert ("exchange.error", "b") in kinds
    assert kinds[-1] == ("poll.cycle", None)
    error = next(e for e in seen if e.kind == "exchange.error")
    assert error.data["error_class"] == "TemporaryError"


def test_consecutive_failed_polls_are_counted_and_reset_on_success(rt, fakes, clock):
    poll_cycle(rt)
    fakes["a"].fail_with = TemporaryError("down")
    for _ in range(3):
        clock.advance(5)
        poll_cycle(rt)
    assert rt.snapshots.latest()["a"].extra["failed_polls"] == 3
    fakes["a"].fail_with = None
    clock.advance(5)
    poll_cycle(rt)
    assert rt.snapshots.latest()["a"].extra.get("failed_polls", 0) == 0


def test_a_failing_poll_hook_does_not_stop_the_next_one(rt):
    calls = []

    def broken(runtime, snaps):
        raise RuntimeError("boom")

    poll_cycle(rt, [broken, lambda runtime, snaps: calls.append(len(snaps))])
    assert calls == [3]
