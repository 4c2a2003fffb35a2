"""Observers of the watch service: told of each action as it starts and ends, and of
each finished (or failed) pass.

Role: the seam through which ``controller.service.dashboard`` follows
``controller.service.loop.WatchService`` without the loop knowing about it. The loop
calls :meth:`Listeners.progress` with every progress event of
``controller.execution.reconcile.reconcile`` (``{"event": "action", "phase": "start"
| "done", "resource": ..., "cause": ...}``) and :meth:`Listeners.finished` after each
pass (the typed ``PassResult``, or None when the pass failed or the runtime went
away). A listener that raises is logged and never stops a pass. Both run on the
worker thread: listeners must return quickly.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

import structlog

from controller.execution.result import PassResult

log = structlog.get_logger("dockwright.watch")


class Listener(Protocol):
    def progress(self, event: dict[str, Any]) -> None: ...

    def finished(self, result: PassResult | None) -> None: ...


class Listeners:
    """A thread-safe list of :class:`Listener`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: tuple[Listener, ...] = ()

    def add(self, listener: Listener) -> None:
        with self._lock:
            self._items = (*self._items, listener)

    def remove(self, listener: Listener) -> None:
        with self._lock:
            self._items = tuple(x for x in self._items if x is not listener)

    def progress(self, event: dict[str, Any]) -> None:
        for listener in self._items:
            try:
                listener.progress(event)
            except Exception as exc:  # an observer's bug never stops a pass
                log.error("listener_failed", listener=type(listener).__name__, error=str(exc),
                          exc_info=True)

    def finished(self, result: PassResult | None) -> None:
        for listener in self._items:
            try:
                listener.finished(result)
            except Exception as exc:
                log.error("listener_failed", listener=type(listener).__name__, error=str(exc),
                          exc_info=True)
