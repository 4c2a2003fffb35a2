"""The watch service's current driver, re-created after the runtime went away.

Role: ``controller.service.loop.WatchService`` gets its driver through one
:class:`RuntimeHandle`; a pass that finds the runtime gone invalidates it, and the
next ``get()`` builds a fresh driver (a fresh connection; the event stream follows).
Neighbours: ``controller.service.loop`` (owns it), ``controller.service.readiness``
(pings through it), ``controller.service.triggers`` (the event watcher reads
through it), ``runtime.driver.Driver``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog

from runtime.driver import Driver

log = structlog.get_logger("dockwright.watch")


class RuntimeHandle:
    """The current driver, re-created after the runtime went away."""

    def __init__(self, factory: Callable[[], Driver]) -> None:
        self._factory = factory
        self._driver: Driver | None = None
        self._lock = threading.Lock()

    def get(self) -> Driver:
        with self._lock:
            if self._driver is None:
                self._driver = self._factory()
            return self._driver

    def invalidate(self, driver: Driver, exc: BaseException) -> None:
        with self._lock:
            if self._driver is driver:
                self._driver = None
            else:
                return
        try:
            driver.close()
        except Exception as close_exc:  # a dead connection may fail to close; that is fine
            log.debug("driver_close_failed", error=str(close_exc), cause=str(exc))

    def close(self) -> None:
        with self._lock:
            driver, self._driver = self._driver, None
        if driver is not None:
            driver.close()
