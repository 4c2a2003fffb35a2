"""A coalescing work queue of keys, with delayed adds (controller-runtime style).

Role: the hand-off between triggers (file changes, runtime events, the resync
timer, the git poller, ``POST /hooks/git``) and the single worker of the watch
service. Requests carry only a key (the project name): the pass that follows
re-reads everything (principle 1), so a key enqueued N times while it waits
runs once. A key being processed that is added again is marked dirty and runs
once more after ``done()``; it is never handed to two workers at once.
Neighbours: ``controller.service.triggers`` and ``controller.service.gitsource`` call
:meth:`WorkQueue.add`; ``controller.service.loop`` calls :meth:`WorkQueue.get` /
:meth:`WorkQueue.done` and :meth:`WorkQueue.add_after` for backoff retries;
``controller.service.httpd`` reports :meth:`WorkQueue.depth`.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections import deque


class ShutDown(Exception):
    """The queue was shut down: the worker should stop."""


class WorkQueue:
    """Keys waiting to be processed; each key at most once in the queue."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: deque[str] = deque()
        self._dirty: set[str] = set()  # queued or to be re-queued after done()
        self._processing: set[str] = set()
        self._delayed: list[tuple[float, int, str]] = []  # (due, seq, key) heap
        self._seq = 0
        self._shutdown = False

    # producers ---------------------------------------------------------------
    def add(self, key: str) -> None:
        """Enqueue ``key`` unless it already waits (coalescing)."""
        with self._cond:
            if self._shutdown or key in self._dirty:
                return
            self._dirty.add(key)
            if key not in self._processing:
                self._queue.append(key)
                self._cond.notify()

    def add_after(self, key: str, delay: float) -> None:
        """Enqueue ``key`` after ``delay`` seconds (at once when ``delay`` <= 0)."""
        if delay <= 0:
            self.add(key)
            return
        with self._cond:
            if self._shutdown:
                return
            self._seq += 1
            heapq.heappush(self._delayed, (time.monotonic() + delay, self._seq, key))
            self._cond.notify()

    # the worker --------------------------------------------------------------
    def get(self, timeout: float | None = None) -> str | None:
        """The next key (marked as processing), or None after ``timeout`` seconds.

        Raises :class:`ShutDown` once the queue is shut down.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                if self._shutdown:
                    raise ShutDown()
                self._promote_due()
                if self._queue:
                    key = self._queue.popleft()
                    self._processing.add(key)
                    self._dirty.discard(key)
                    return key
                now = time.monotonic()
                wait = None if deadline is None else deadline - now
                if wait is not None and wait <= 0:
                    return None
                if self._delayed:
                    until_due = self._delayed[0][0] - now
                    wait = until_due if wait is None else min(wait, until_due)
                self._cond.wait(timeout=None if wait is None else max(wait, 0.0))

    def done(self, key: str) -> None:
        """Processing of ``key`` finished; re-queue it if it was added meanwhile."""
        with self._cond:
            self._processing.discard(key)
            if key in self._dirty and not self._shutdown:
                self._queue.append(key)
                self._cond.notify()

    def _promote_due(self) -> None:
        now = time.monotonic()
        while self._delayed and self._delayed[0][0] <= now:
            _, _, key = heapq.heappop(self._delayed)
            if key not in self._dirty:
                self._dirty.add(key)
                if key not in self._processing:
                    self._queue.append(key)

    # lifecycle and introspection ---------------------------------------------
    def shutdown(self) -> None:
        """Wake every waiting worker with :class:`ShutDown`; later adds are ignored."""
        with self._cond:
            self._shutdown = True
            self._cond.notify_all()

    def depth(self) -> int:
        """Keys ready to run now (not counting delayed ones)."""
        with self._cond:
            self._promote_due()
            return len(self._queue)

    def delayed(self) -> int:
        with self._cond:
            return len(self._delayed)
