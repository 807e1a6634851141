"""The per-account gate lock: one holder per account across threads and processes, accounts never wait for each
other, waiting is bounded, and a thread may take its own lock again. PostgreSQL cases run when TEST_DATABASE_URL
points at a server (its advisory locks); everything else runs on SQLite files."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time

import pytest
from sqlalchemy import create_engine

from riskmgr.risk.gate_lock import GateBusyError, GateLock

PG_URL = os.environ.get("TEST_DATABASE_URL", "")




@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):  # type: ignore[no-untyped-def]
    if request.param == "postgresql":
        if not PG_URL.startswith("postgresql"):
            pytest.skip("TEST_DATABASE_URL does not point at a PostgreSQL server")
        return PG_URL
    return f"sqlite:///{tmp_path / 'gate.db'}"


def test_a_second_holder_of_the_same_account_waits_until_the_first_lets_go(url):
    first, second = GateLock(create_engine(url)), GateLock(create_engine(url))  # two processes' locks
    order: list[str] = []
    held = threading.Event()

    def hold() -> None:
        with first.hold("acct"):
            held.set()
            time.sleep(0.3)
            order.append("first done")

    worker = threading.Thread(target=hold)
    worker.start()
    assert held.wait(5)
    with second.hold("acct"):
        order.append("second in")
    worker.join()

    assert order == ["first done", "second in"]


def test_accounts_never_wait_for_each_other(url):
    first, second = GateLock(create_engine(url)), GateLock(create_engine(url))
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with first.hold("a"):
            held.set()
            release.wait(5)

    worker = threading.Thread(target=hold)
    worker.start()
    assert held.wait(5)
    started = time.monotonic()
    with second.hold("b"):
        waited = time.monotonic() - started
    release.set()
    worker.join()

    assert waited < 0.5


def test_waiting_past_the_timeout_is_a_temporary_error_and_nothing_runs(url):
    first, second = GateLock(create_engine(url)), GateLock(create_engine(url), timeout=0.2)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with first.hold("acct"):
            held.set()
            release.wait(5)

    worker = threading.Thread(target=hold)
    worker.start()
    assert held.wait(5)
    ran = []
    with pytest.raises(GateBusyError), second.hold("acct"):
        ran.append(True)
    release.set()
    worker.join()

    assert ran == []


def test_a_thread_may_take_its_own_lock_again(url):
    gate = GateLock(create_engine(url), timeout=0.5)

    with gate.hold("acct"), gate.hold("acct"):
        inside = True

    assert inside


def _hold_in_child(url: str, seconds: float, ready) -> None:  # type: ignore[no-untyped-def]
    with GateLock(create_engine(url)).hold("acct"):
        ready.set()
        time.sleep(seconds)


def test_a_lock_held_by_another_process_is_respected_and_released_when_it_dies(tmp_path):
    url = f"sqlite:///{tmp_path / 'gate.db'}"
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    child = ctx.Process(target=_hold_in_child, args=(url, 30, ready))
    child.start()
    assert ready.wait(30)

    with pytest.raises(GateBusyError), GateLock(create_engine(url), timeout=0.2).hold("acct"):
        pass
    child.kill()  # a crash mid-send: the OS drops the lock with the process
    child.join(10)
    with GateLock(create_engine(url), timeout=5).hold("acct"):
        got_it = True

    assert got_it
