"""Waiting for a container reported dead to show stopped before a pass.

Role: Docker emits ``die`` before it marks the container stopped (network
teardown comes first, and takes long on a busy host), so a pass right after the
event can still see it running. :class:`DeathWatch` takes the ids of the deaths
the event watcher saw and enqueues once the runtime lists them as not running.
Containers adopted from docker-compose carry compose's labels, not the project's
(``controller.planning.adoption``): while there are some, every container is
listed. Neighbours: ``controller.service.triggers`` (``EventWatcher`` feeds it;
the enqueue target), ``runtime.driver.Driver.list_containers``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

import structlog

from runtime.driver import Driver
from runtime.types import LABEL_PROJECT

log = structlog.get_logger("dockwright.watch")

Enqueue = Callable[[str], None]  # called with the trigger's source name


class DriverHandle(Protocol):
    """The loop's current driver; ``invalidate`` asks for a fresh one."""

    def get(self) -> Driver: ...

    def invalidate(self, driver: Driver, exc: BaseException) -> None: ...


class DeathWatch:
    """Enqueues once a container reported dead is no longer running in the runtime.

    One list call per ``interval`` while some death is pending (none when idle);
    after ``give_up`` seconds it enqueues anyway.
    """

    def __init__(self, project: str, handle: DriverHandle, enqueue: Enqueue,
                 stopping: threading.Event, adopted: Callable[[], frozenset[str]] = frozenset,
                 interval: float = 0.05, give_up: float = 5.0) -> None:
        self.project, self._handle, self._enqueue = project, handle, enqueue
        self._adopted = adopted  # the project's containers without its label
        self._stopping, self.interval, self.give_up = stopping, interval, give_up
        self._cond = threading.Condition()
        self._pending: dict[str, float] = {}  # container id -> monotonic deadline
        self._thread = threading.Thread(target=self._run, name="dw-deaths", daemon=True)

    def add(self, container_id: str) -> None:
        with self._cond:
            self._pending.setdefault(container_id, time.monotonic() + self.give_up)
            self._cond.notify()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._cond.notify()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        while not self._stopping.is_set():
            with self._cond:
                if not self._pending:
                    self._cond.wait(0.5)
                    continue
                pending = dict(self._pending)
            try:
                # adopted containers carry compose's labels: then every container is listed
                labels = None if self._adopted() else {LABEL_PROJECT: self.project}
                rows = self._handle.get().list_containers(labels=labels)
                live = {c.id for c in rows if c.state.value in ("running", "restarting")}
            except Exception as exc:  # runtime away: the event watcher handles that
                log.debug("death_watch_failed", error=str(exc))
                live = set()
            now = time.monotonic()
            settled = [cid for cid, deadline in pending.items()
                       if not any(x.startswith(cid) or cid.startswith(x) for x in live)
                       or now > deadline]
            if settled:
                with self._cond:
                    for cid in settled:
                        self._pending.pop(cid, None)
                self._enqueue("runtime")
            self._stopping.wait(self.interval)
