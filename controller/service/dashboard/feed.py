"""The dashboard's live side: what the watch service is doing now, and who to wake.

Role: a :class:`Feed` is a ``controller.service.listeners.Listener`` of one watch
service (``controller.service.watched.Watched``: Docker, native or Swarm). From the
worker thread it records each action as it starts (``in_flight``: a container being
started again after it died is *drifted* until the action ends) and each finished pass,
and appends a :class:`Message` (``action``, ``pass`` or ``change``) with a growing
version to a short ring; ``/events`` streams (``controller.service.dashboard.routes``)
wait on :meth:`Feed.wait` and send every message in order, so a browser sees a drift
before the pass that healed it. It also keeps the project's live objects (``listing``,
through the ``controller.service.runtimeview.RuntimeView``: containers, volumes and
networks, or Swarm services with their tasks; reused until the next pass or for
``FRESH`` seconds) so that pages never call the runtime more than that. Neighbours:
``controller.service.dashboard.views`` reads it.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import structlog

from controller.execution.result import PassResult
from controller.planning.actions import Cause
from controller.service.runtimeview import Listing, RuntimeView
from controller.service.watched import Watched

log = structlog.get_logger("dockwright.watch")

FRESH = 2.0  # seconds a container list is reused when no pass ended meanwhile
VIEWED = 600.0  # seconds after a page asked for the list that a pass refreshes it at once
KEEP = 256  # messages kept for streams that fall behind


@dataclass(frozen=True)
class InFlight:
    """An action under way: ``drift`` when it puts back what changed behind dockwright."""

    resource: str
    name: str
    action: str
    cause: str
    reason: str

    @property
    def drift(self) -> bool:
        return self.cause == Cause.DRIFT.value


@dataclass(frozen=True)
class Message:
    version: int
    event: str  # action | pass | change
    data: str  # JSON

    def encode(self) -> bytes:
        return f"id: {self.version}\nevent: {self.event}\ndata: {self.data}\n\n".encode()


class Feed:
    """See the module doc; every method is thread-safe."""

    def __init__(self, service: Watched, view: RuntimeView, *, keep: int = KEEP) -> None:
        self.service, self.view = service, view
        self._cond = threading.Condition()
        self._version = 0
        self._messages: deque[Message] = deque(maxlen=keep)
        self._in_flight: dict[str, InFlight] = {}
        self._closed = False
        self._passes = 0  # passes this feed saw end (the container list's freshness)
        self._listed: tuple[int, float, Listing] | None = None
        self._list_lock = threading.Lock()
        self._runtime: str | None = None
        self._asked = float("-inf")  # monotonic time a page last asked for the list
        self._refresh = threading.Event()
        threading.Thread(target=self._refresher, name="dw-dashboard-list", daemon=True).start()
        service.listeners.add(self)

    # Listener -------------------------------------------------------------------------
    def progress(self, event: dict[str, Any]) -> None:
        if event.get("event") != "action":
            return
        resource = str(event.get("resource") or "")
        if event.get("phase") == "start":
            item = InFlight(resource, str(event.get("name") or resource),
                            str(event.get("action") or ""), str(event.get("cause") or ""),
                            str(event.get("reason") or ""))
            with self._cond:
                self._in_flight[item.name] = item
            label, tone = ("drifted", "warn") if item.drift else ("changing", "busy")
            self.push("action", {"resource": resource, "name": item.name,
                                 "action": item.action, "cause": item.cause,
                                 "reason": item.reason, "label": label, "tone": tone})
        elif event.get("phase") == "done":
            with self._cond:
                self._in_flight.pop(str(event.get("name") or resource), None)

    def finished(self, result: PassResult | None) -> None:
        with self._cond:
            self._in_flight.clear()
            self._passes += 1
            viewed = time.monotonic() - self._asked < VIEWED
        if viewed and not self._closed:  # someone looks: have the next page's list ready
            self._refresh.set()
        data: dict[str, Any] = {"passes": self.service.passes}
        if result is not None:
            data.update(reconcile_id=result.reconcile_id, changed=result.changed,
                        ok=result.ok, duration=round(result.duration, 4))
        self.push("pass" if result is not None else "change", data)

    # messages -------------------------------------------------------------------------
    def push(self, event: str, data: dict[str, Any]) -> None:
        with self._cond:
            if self._closed:
                return
            self._version += 1
            self._messages.append(Message(self._version, event, json.dumps(data)))
            self._cond.notify_all()

    @property
    def version(self) -> int:
        with self._cond:
            return self._version

    def wait(self, after: int, timeout: float) -> tuple[list[Message], bool]:
        """Messages newer than ``after`` (waiting up to ``timeout`` for one) and whether the
        feed is closed. A stream that fell further behind than the ring gets one ``pass``
        message: the page refreshes."""
        with self._cond:
            self._cond.wait_for(lambda: self._version > after or self._closed, timeout)
            newer = [m for m in self._messages if m.version > after]
            if self._version > after and (not newer or newer[0].version > after + 1):
                newer = [Message(self._version, "pass", json.dumps({"resync": True}))]
            return newer, self._closed

    def close(self) -> None:
        """Wake every stream and end it (the server stops)."""
        self.service.listeners.remove(self)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._refresh.set()

    def _refresher(self) -> None:
        while True:
            self._refresh.wait()
            self._refresh.clear()
            if self._closed:
                return
            self._list()

    def runtime(self) -> str:
        """The runtime's name (``docker``, ``native`` ...)."""
        if self._runtime is None:
            if self.service.journal is not None:
                self._runtime = self.service.journal.runtime
            else:
                try:
                    self._runtime = self.view.name()
                except Exception:  # the runtime is down: asked again next time
                    return "unknown"
        return self._runtime

    def in_flight(self) -> dict[str, InFlight]:
        """Actions under way by runtime name."""
        with self._cond:
            return dict(self._in_flight)

    # the runtime's lists --------------------------------------------------------------
    def listing(self) -> Listing:
        """The project's live objects: one listing per pass, or per ``FRESH`` seconds; a
        pass that ends within ``VIEWED`` seconds of a call lists them again at once, in a
        thread of its own."""
        with self._cond:
            self._asked = time.monotonic()
        return self._list()

    def fresh(self) -> Listing | None:
        """The list taken since the last pass ended, if any (no runtime call)."""
        with self._cond:
            passes = self._passes
        have = self._listed
        if have is not None and have[0] == passes and time.monotonic() - have[1] < FRESH:
            return have[2]
        return None

    def _list(self) -> Listing:
        with self._cond:
            passes = self._passes
        with self._list_lock:
            have = self._listed
            if have is not None and have[0] == passes and time.monotonic() - have[1] < FRESH:
                return have[2]
            try:
                found = self.view.listing()
            except Exception as exc:  # the runtime is down: pages still answer
                found = Listing({}, error=f"{type(exc).__name__}: {exc}")
                log.debug("dashboard_list_failed", error=found.error)
            self._listed = (passes, time.monotonic(), found)
            return found
