"""A bounded stop of the background jobs: which jobs run now, every thread's stack, a watchdog on the exit itself.

``flask scheduler run`` (and a gunicorn worker leaving) stops the scheduler on a signal: no job starts from then on,
the jobs running get a grace period (``SHUTDOWN_GRACE_SECONDS``) to finish, and a job still running when it ends is
named in the log with every thread's stack. The process then exits; when it was forced, with ``FORCED_EXIT_CODE``.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator

log = logging.getLogger(__name__)
FORCED_EXIT_CODE = 3  # the grace ran out: jobs or threads were still running and the process was ended anyway
WATCHDOG_SLACK_SECONDS = 1.0  # the exit watchdog fires this long after the grace (the stop itself acts at the grace)


class RunningJobs:
    """The background jobs running in this process now, so a stop can wait for them and name the late ones."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._running: dict[int, tuple[str, str]] = {}  # run number -> (job name, thread name)
        self._numbers = itertools.count(1)

    @contextlib.contextmanager
    def track(self, name: str) -> Iterator[None]:
        """Count the body of the ``with`` block as a run of the job ``name``."""
        with self._changed:
            number = next(self._numbers)
            self._running[number] = (name, threading.current_thread().name)
        try:
            yield
        finally:
            with self._changed:
                del self._running[number]
                self._changed.notify_all()

    def names(self) -> list[str]:
        """Return the names of the jobs running now, each with the thread it runs on."""
        with self._changed:
            return sorted(f"{job} (thread {thread})" for job, thread in self._running.values())

    def wait_idle(self, deadline: float) -> list[str]:
        """Wait until no job runs or the monotonic ``deadline`` passes; return the jobs still running (none: idle)."""
        with self._changed:
            while self._running:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(min(left, 0.5))
        return self.names()


def thread_stacks() -> str:
    """Return every thread's current stack, each headed by the thread's name, daemon flag and id."""
    threads = {t.ident: t for t in threading.enumerate()}
    parts = []
    for ident, frame in sys._current_frames().items():
        thread = threads.get(ident)
        name = f"{thread.name}{' (daemon)' if thread.daemon else ''}" if thread else "(unknown thread)"
        parts.append(f"--- thread {name} id {ident}:\n{''.join(traceback.format_stack(frame)).rstrip()}")
    return "\n".join(parts)


def force_exit(reason: str, running: list[str], release: Callable[[], None] | None = None) -> None:
    """Log why, the jobs still running and every thread's stack; release the leader lock; end the process now."""
    log.error("%s; still running: %s; exiting with code %d. Every thread's stack:\n%s", reason,
              ", ".join(running) or "no job (a thread kept the process alive)", FORCED_EXIT_CODE, thread_stacks())
    if release is not None:
        try:
            release()
        except Exception:  # the process ends in a moment either way; the OS drops a file lock with it
            log.exception("releasing the scheduler lock failed")
    for handler in logging.getLogger().handlers:
        with contextlib.suppress(Exception):
            handler.flush()
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(FORCED_EXIT_CODE)


def arm_exit_watchdog(deadline: float, running: RunningJobs, release: Callable[[], None] | None = None) -> None:
    """End the process shortly after the monotonic ``deadline`` if it is still alive then, logging what still ran.

    The stop itself ends the process at the deadline when jobs are late; this covers what comes after it: a thread
    that holds up the interpreter's exit (the exit joins every pool worker, and one may sit in a hung venue call).
    The watchdog is a daemon thread, which the exit does not wait for, so it still runs while a hung thread keeps the
    exit waiting."""

    def watch() -> None:
        time.sleep(max(0.0, deadline + WATCHDOG_SLACK_SECONDS - time.monotonic()))
        force_exit("the shutdown grace ran out before the process could exit", running.names(), release)

    threading.Thread(target=watch, name="shutdown-watchdog", daemon=True).start()
