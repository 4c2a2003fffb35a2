"""Per-resource exponential backoff and crash-loop detection for the watch loop.

Role: the only place that decides *when* a failing resource is tried again
(principle 6: drivers classify errors, the loop retries). A resource whose
action failed, or a container that crash-loops, is left alone (``Options.skip``
of ``controller.execution.reconcile``) until its delay has passed: 1 s doubling up to
5 min, reset on success. A container is crash-looping when the loop had to
restart it ``threshold`` times within ``window`` seconds; it stays so until it
has run ``stable_after`` seconds without a restart, so long delays never turn
back into a hot loop. Neighbours: ``controller.service.loop`` feeds both from pass
results and schedules a retry with ``controller.service.queue.WorkQueue.add_after``;
``controller.service.httpd`` shows :meth:`Backoff.snapshot` and
:meth:`CrashLoops.snapshot` in ``/status``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Clock = Callable[[], float]


@dataclass
class _Entry:
    failures: int
    delay: float
    until: float  # monotonic time before which the resource is skipped
    reason: str
    since: float  # wall-clock time of the first failure in this streak


class Backoff:
    """Exponential per-key delays: ``base * factor**(n-1)``, capped at ``cap``."""

    def __init__(
        self, base: float = 1.0, factor: float = 2.0, cap: float = 300.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.base, self.factor, self.cap = base, factor, cap
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}

    def failure(self, key: str, reason: str, *, at_least: float = 0.0) -> float:
        """Record one failure of ``key``; return the delay before the next try (never
        shorter than ``at_least``: a transient error's ``retry_after``)."""
        with self._lock:
            now = self._clock()
            entry = self._entries.get(key)
            failures = 1 if entry is None else entry.failures + 1
            delay = max(at_least, min(self.cap, self.base * self.factor ** (failures - 1)))
            since = time.time() if entry is None else entry.since
            self._entries[key] = _Entry(failures, delay, now + delay, reason, since)
            return delay

    def success(self, key: str) -> bool:
        """Forget ``key``'s failures; True when it was backing off."""
        with self._lock:
            return self._entries.pop(key, None) is not None

    def active(self) -> frozenset[str]:
        """Keys still inside their delay: skip them this pass."""
        with self._lock:
            now = self._clock()
            return frozenset(k for k, e in self._entries.items() if e.until > now)

    def known(self) -> frozenset[str]:
        """Keys with a failure streak (inside their delay or due for a retry)."""
        with self._lock:
            return frozenset(self._entries)

    def remaining(self, key: str) -> float:
        with self._lock:
            entry = self._entries.get(key)
            return 0.0 if entry is None else max(0.0, entry.until - self._clock())

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """JSON-able view for ``/status``: failures, delay, seconds left, reason."""
        with self._lock:
            now = self._clock()
            return {
                key: {
                    "failures": e.failures,
                    "delay": e.delay,
                    "retry_in": round(max(0.0, e.until - now), 3),
                    "reason": e.reason,
                    "since": e.since,
                }
                for key, e in sorted(self._entries.items())
            }


class CrashLoops:
    """Containers the loop keeps having to restart."""

    def __init__(
        self, threshold: int = 3, window: float = 60.0, stable_after: float = 60.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.threshold, self.window, self.stable_after = threshold, window, stable_after
        self._clock = clock
        self._lock = threading.Lock()
        self._restarts: dict[str, deque[float]] = {}
        self._looping: dict[str, float] = {}  # resource -> wall time it started looping
        self._total: dict[str, int] = {}

    def restarted(self, resource: str) -> bool:
        """The loop restarted ``resource`` (it had died); True when it is crash-looping."""
        with self._lock:
            now = self._clock()
            times = self._restarts.setdefault(resource, deque())
            times.append(now)
            self._total[resource] = self._total.get(resource, 0) + 1
            while times and times[0] < now - self.window:
                times.popleft()
            if resource in self._looping or len(times) >= self.threshold:
                self._looping.setdefault(resource, time.time())
                return True
            return False

    def settle(self) -> list[str]:
        """Clear resources that ran ``stable_after`` s without a restart; return them."""
        with self._lock:
            now = self._clock()
            cleared = []
            for resource in list(self._looping):
                times = self._restarts.get(resource)
                if not times or times[-1] < now - self.stable_after:
                    del self._looping[resource]
                    cleared.append(resource)
            for resource, times in list(self._restarts.items()):
                if resource not in self._looping and times and times[-1] < now - self.window:
                    del self._restarts[resource]
            return cleared

    def looping(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._looping)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """JSON-able view for ``/status``: restarts in the window, total, since."""
        with self._lock:
            now = self._clock()
            return {
                resource: {
                    "crash_looping": True,
                    "since": since,
                    "restarts_in_window": sum(
                        1 for t in self._restarts.get(resource, ()) if t >= now - self.window
                    ),
                    "restarts_total": self._total.get(resource, 0),
                }
                for resource, since in sorted(self._looping.items())
            }
