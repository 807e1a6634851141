"""The poll cycle reads an account's three reads at once where its venue allows, bounded by POLL_MAX_WORKERS."""

import threading

import pytest

from riskmgr import create_app
from riskmgr.accounts.monitor import poll_cycle
from riskmgr.app.config import Settings
from riskmgr.core.domain import AccountStatus
from riskmgr.core.errors import ConfigError, TemporaryError
from riskmgr.persistence.extensions import db
from tests.conftest import make_settings
from tests.fakes import ReadOnlyFake


class ConcurrentFake(ReadOnlyFake):
    """A fake whose venue takes concurrent reads; every read waits at a shared barrier when one is set."""

    concurrent_reads = True

    def __init__(self, account: str, barrier: threading.Barrier | None = None):
        super().__init__(account)
        self.barrier = barrier

    def _wait(self) -> None:
        if self.barrier is not None:
            self.barrier.wait()

    def fetch_positions(self):  # type: ignore[no-untyped-def]
        self._wait()
        return super().fetch_positions()

    def fetch_open_orders(self):  # type: ignore[no-untyped-def]
        self._wait()
        return super().fetch_open_orders()


def _runtime(tmp_path, clock, adapters, **changes):
    app = create_app(make_settings(tmp_path, extra={"clock": clock, "adapters": adapters}, **changes))
    with app.app_context():
        db.create_all()
    return app.extensions["riskmgr"]


def test_an_account_whose_venue_allows_it_reads_balance_positions_and_orders_at_once(tmp_path, clock):
    barrier = threading.Barrier(3, timeout=5)  # passes only if all three reads are in flight together
    fake = ConcurrentFake("a", barrier)
    fake.before_read = barrier.wait
    snaps = poll_cycle(_runtime(tmp_path, clock, {"a": fake}))
    assert snaps[0].status is AccountStatus.OK and snaps[0].balance is not None


def test_a_failed_read_among_concurrent_ones_keeps_the_account_stale_with_its_reason(tmp_path, clock):
    fake = ConcurrentFake("a")
    rt = _runtime(tmp_path, clock, {"a": fake})
    poll_cycle(rt)
    fake.fail_with = TemporaryError("connection reset", operation="fetch_positions")
    snap = poll_cycle(rt)[0]
    assert snap.status is AccountStatus.STALE and "connection reset" in snap.error


def test_poll_max_workers_bounds_the_venue_calls_in_flight(tmp_path, clock):
    in_flight, most = [0], [0]
    lock = threading.Lock()

    def enter() -> None:
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        threading.Event().wait(0.05)
        with lock:
            in_flight[0] -= 1

    fakes = {name: ReadOnlyFake(name) for name in "abcdef"}
    for fake in fakes.values():
        fake.before_read = enter
    snaps = poll_cycle(_runtime(tmp_path, clock, fakes, poll_max_workers=2))
    assert all(s.status is AccountStatus.OK for s in snaps) and most[0] == 2


def test_paper_accounts_read_one_call_after_another():
    from riskmgr.exchanges.paper.exchange import PaperExchange

    assert PaperExchange.concurrent_reads is False


@pytest.mark.parametrize(("name", "value"), [("POLL_MAX_WORKERS", "0"), ("RETAIN_EQUITY_DAYS", "7"),
                                             ("RETAIN_CANDLE_DAYS", "5000"), ("RETAIN_INTENT_DAYS", "1")])
def test_poll_and_retention_settings_out_of_range_are_refused_naming_the_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


def test_the_poll_threads_are_reused_from_cycle_to_cycle(tmp_path, clock):
    seen: set[threading.Thread] = set()
    fakes = {name: ConcurrentFake(name) for name in "abcd"}
    for fake in fakes.values():
        fake.before_read = lambda: (seen.add(threading.current_thread()), threading.Event().wait(0.02))
    rt = _runtime(tmp_path, clock, fakes)
    for _ in range(5):
        poll_cycle(rt)
    # 4 accounts x 3 reads: one pool of at most 12 threads serves all five cycles (a pool per cycle would start
    # up to 12 new threads each time)
    assert 0 < len(seen) <= 12


def test_a_call_hung_past_the_timeout_does_not_hold_up_the_next_cycle(tmp_path, clock):
    release = threading.Event()
    hung = ConcurrentFake("slow")
    rt = _runtime(tmp_path, clock, {"slow": hung, "fine": ConcurrentFake("fine")}, fetch_timeout_seconds=1,
                  poll_max_workers=6)
    poll_cycle(rt)
    hung.before_read = lambda: release.wait(30)
    try:
        first = {s.account: s for s in poll_cycle(rt)}
        assert first["slow"].status is AccountStatus.STALE and "did not answer" in first["slow"].error
        hung.before_read = None  # the venue answers again, but the hung calls of the last cycle still run
        second = {s.account: s for s in poll_cycle(rt)}
        assert second["slow"].status is AccountStatus.OK and second["fine"].status is AccountStatus.OK
    finally:
        release.set()
