"""A bounded work queue drained by one background thread, so a slow consumer never blocks the producer.

The poll cycle and the emergency stop emit events synchronously; alert delivery (HTTP, SMTP) and counter
writes (database) happen here instead. ``put`` never blocks: when the queue is full the item is counted as
dropped and the producer carries on. The thread starts on the first item and ends after a quiet spell, so an
app that never alerts never holds a thread.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class BackgroundQueue:
    """Run ``handler(item)`` for each item on a daemon thread; ``put`` never waits."""

    def __init__(self, name: str, handler: Callable[[Any], None], maxsize: int, idle_seconds: float = 30.0):
        self.name = name
        self._handler = handler
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=maxsize)
        self._idle = idle_seconds
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._dropped = 0

    def put(self, item: Any) -> bool:
        """Queue ``item`` for the worker; return False (and count it) when the queue is full."""
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            with self._lock:
                self._dropped += 1
            log.warning("%s queue is full (%d items); an item was dropped", self.name, self._queue.maxsize)
            return False
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=f"{self.name}-worker", daemon=True)
                self._thread.start()
        return True

    def take_dropped(self) -> int:
        """Return how many items were dropped since the last call, and reset the count."""
        with self._lock:
            dropped, self._dropped = self._dropped, 0
            return dropped

    def stats(self) -> dict[str, int]:
        """Return the number of items waiting and dropped (this process only)."""
        with self._lock:
            return {"pending": self._queue.unfinished_tasks, "dropped": self._dropped, "capacity": self._queue.maxsize}

    def drain(self, timeout: float) -> bool:
        """Wait until every queued item was handled; return False if ``timeout`` seconds passed first."""
        deadline = time.monotonic() + timeout
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._queue.all_tasks_done.wait(left)
        return True

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=self._idle)
            except queue.Empty:
                with self._lock:
                    # put() adds before it checks the thread, so an item added now is either seen here
                    # or finds no live thread and starts a new one.
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            try:
                self._handler(item)
            except Exception:  # one bad item must not stop delivery of the next ones
                log.exception("%s worker failed on an item", self.name)
            finally:
                self._queue.task_done()
