"""The emergency stop's kept threads: a step's calls start on threads already running, all at once, each with its own
deadline; a hung call never holds up another, and one worker still means one call at a time.
"""

from __future__ import annotations

import threading
import time

from riskmgr.core.errors import TemporaryError
from riskmgr.risk.emergency.feature import service
from riskmgr.risk.emergency.pool import Workers, in_parallel
from riskmgr.risk.emergency.service import EmergencyService
from tests.risk.emergency.test_sequence import SYMBOLS, _dispose, _positions, build_world


def _threads_named(prefix: str) -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith(prefix))


def test_warmed_threads_take_a_steps_calls_all_at_once_without_starting_a_thread():
    workers = Workers(8)
    workers.warm(4)
    time.sleep(0.1)  # each has handed back its warming call and waits for work
    started = threading.active_count()
    together = threading.Barrier(4, timeout=5)  # breaks unless all four calls run at the same time

    outcomes = in_parallel({i: (lambda i=i: (together.wait(), i)[1]) for i in range(4)}, 4, 5, workers)

    assert outcomes == {0: 0, 1: 1, 2: 2, 3: 3}
    assert threading.active_count() == started  # every call ran on a thread that was already there


def test_a_call_that_raises_hands_back_its_exception_from_a_kept_thread():
    def broken() -> None:
        raise TemporaryError("exchange busy", operation="close_position")

    outcomes = in_parallel({"a": broken, "b": lambda: "ok"}, 4, 5, Workers(4))

    assert isinstance(outcomes["a"], TemporaryError) and outcomes["b"] == "ok"


def test_hung_calls_keep_their_threads_and_the_next_calls_get_threads_of_their_own():
    workers = Workers(2)
    release = threading.Event()
    try:
        hung = in_parallel({i: (lambda: release.wait(30)) for i in range(2)}, 2, 0.2, workers)
        assert all(isinstance(o, TimeoutError) for o in hung.values())  # both kept threads still hang

        began = time.monotonic()
        answered = in_parallel({i: (lambda i=i: i * 10) for i in range(2)}, 2, 5, workers)

        assert answered == {0: 0, 1: 10}
        assert time.monotonic() - began < 2  # not queued behind the hung calls
    finally:
        release.set()


def test_one_worker_runs_one_call_at_a_time_even_with_kept_threads_free():
    workers = Workers(8)
    workers.warm(8)
    running, most = [0], [0]
    lock = threading.Lock()

    def call(i: int) -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.02)
        with lock:
            running[0] -= 1
        return i

    outcomes = in_parallel({i: (lambda i=i: call(i)) for i in range(5)}, 1, 5, workers)

    assert outcomes == {i: i for i in range(5)} and most[0] == 1


def test_step_three_closes_on_threads_started_before_it_and_the_threads_end_with_the_sequence(
        tmp_path, clock, monkeypatch):
    w = build_world(tmp_path, clock, rate=0.0)
    try:
        store = w.rt.feature(EmergencyService).store
        before_step_three: set[int] = set()
        closed_on: set[int] = set()
        started = store.step_started

        def note_threads(seq_id, number, *args, **kwargs):  # type: ignore[no-untyped-def]
            if number == 3:
                before_step_three.update(t.ident for t in threading.enumerate() if t.ident is not None)
            return started(seq_id, number, *args, **kwargs)

        monkeypatch.setattr(store, "step_started", note_threads)
        for adapter in w.adapters.values():
            close = adapter.close_position

            def noted_close(symbol, side, client_id=None, close=close):  # type: ignore[no-untyped-def]
                closed_on.add(threading.get_ident())
                return close(symbol, side, client_id)

            monkeypatch.setattr(adapter, "close_position", noted_close)
        svc = service(w.rt)
        threads_before = _threads_named("emergency_")

        view = svc.wait(svc.start("threads", actor="tester", trigger="test").id, timeout=60)

        assert view["status"] == "flat" and _positions(w) == []
        assert closed_on and closed_on <= before_step_three  # no thread was started for a close
        deadline = time.monotonic() + 5
        while _threads_named("emergency_") > threads_before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _threads_named("emergency_") <= threads_before  # none kept once the sequence is over
    finally:
        _dispose(w)


def test_a_read_started_in_step_two_that_broke_is_made_again_in_step_three_and_its_positions_closed(
        tmp_path, clock, monkeypatch):
    w = build_world(tmp_path, clock, rate=0.0)
    try:
        beta = w.adapters["beta"]
        read, calls = beta.fetch_positions, []

        def first_read_breaks():  # type: ignore[no-untyped-def]
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("reply could not be parsed")  # not temporary: no retry inside the call
            return read()

        monkeypatch.setattr(beta, "fetch_positions", first_read_breaks)
        svc = service(w.rt)

        view = svc.wait(svc.start("broken prefetch", actor="tester", trigger="test").id, timeout=60)

        assert view["status"] == "flat" and _positions(w) == []
        closes = [o for o in view["orders"] if o["action"] == "close" and o["account"] == "beta"]
        assert len(closes) == len(SYMBOLS) and all(o["step"] == 3 and o["ok"] for o in closes)  # closed in step 3
        assert view["steps"][2]["status"] == "done"
        verified = view["steps"][3]["detail"]
        assert verified.startswith("verified flat") and "after 1 re-read" in verified
    finally:
        _dispose(w)
