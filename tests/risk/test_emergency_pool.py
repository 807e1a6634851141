"""The emergency stop's threads: step 3's are started only once step 2's calls have left, then all at once."""

import threading
from concurrent.futures import ThreadPoolExecutor

from riskmgr.risk.emergency_pool import in_parallel, warm_pool_after


def test_in_parallel_says_when_every_call_is_on_its_thread():
    sent = threading.Event()
    release = threading.Event()

    def call() -> bool:
        return release.wait(timeout=5)

    runner = ThreadPoolExecutor(max_workers=1)
    outcome = runner.submit(in_parallel, {i: call for i in range(4)}, 4, 5, None, sent)

    assert sent.wait(timeout=5)  # set while the calls are still running
    assert not outcome.done()
    release.set()
    assert outcome.result(timeout=5) == dict.fromkeys(range(4), True)
    runner.shutdown()


def test_warming_waits_until_the_calls_that_go_first_have_left():
    first, second = threading.Event(), threading.Event()
    runner = ThreadPoolExecutor(max_workers=1)
    warming = runner.submit(warm_pool_after, (first, second), 6)

    first.set()
    assert not warming.done() and not second.wait(timeout=0.2) and not warming.done()
    second.set()
    pool = warming.result(timeout=5)

    before = {t.name for t in threading.enumerate()}
    names = in_parallel({i: lambda: threading.current_thread().name for i in range(6)}, 6, 5, pool=pool)
    assert set(names.values()) <= before  # its threads were all started already
    runner.shutdown()
