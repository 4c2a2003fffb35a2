"""What the HTTP endpoint and the dashboard read from a watch service, on any runtime.

Role: the structural type both ``controller.service.loop.WatchService`` (Docker,
native) and ``controller.service.swarmwatch.SwarmWatch`` (Swarm) satisfy, so that
``controller.service.httpd`` and ``controller.service.dashboard`` serve either
without knowing which. What differs per runtime (the live objects listed for a
page, the ``/status`` body, ``why``) is a ``controller.service.runtimeview.RuntimeView``.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Protocol

from controller.execution.result import PassResult
from controller.service.backoff import Backoff, CrashLoops
from controller.service.gitsource import GitSource
from controller.service.journalfeed import ServiceJournal
from controller.service.listeners import Listeners
from controller.service.metrics import WatchMetrics
from controller.service.readiness import Readiness


class Watched(Protocol):
    """A running watch service of one project (fields guarded by ``lock``)."""

    project: str
    git: GitSource | None
    journal: ServiceJournal | None
    lock: threading.Lock
    last_result: PassResult | None
    last_error: str | None
    last_pass_at: float | None
    runtime_error: str | None
    passes: int
    spec_dir_missing: bool
    spec_errors: list[dict[str, Any]]
    crash_loops: CrashLoops
    backoff: Backoff
    listeners: Listeners
    metrics: WatchMetrics
    readiness: Readiness

    @property
    def root(self) -> Path: ...

    def watch_status(self) -> dict[str, Any]: ...
