"""Container events from the Docker daemon as an ``EventStream``.

Role: wraps ``GET /events`` (filtered on the daemon by type and action; read
through the driver's ``runtime.docker.engine.Engine``, whichever transport it
has) in an iterator of ``runtime.types.Event`` that another thread can stop with
:meth:`DockerEventStream.close` (it shuts the HTTP socket down, so a blocked
read returns at once). Only the actions the controller reacts to are passed
on: lifecycle (die, stop, kill, oom, destroy, start, health_status), changes
made in place by hand (update, pause, unpause), and a container joining or
leaving a network (``connect``/``disconnect``, which are *network* events:
they carry the container id but not its labels, so the stream asks
``labels_of`` for them, once per container, to tell an owned one). ``ids``
adds the containers whose id it holds, whatever their labels (those taken over
from another tool keep that tool's labels). When the
daemon goes away the iteration simply ends; the consumer subscribes again
(level-triggered: it re-reads everything anyway).
Neighbours: ``runtime.docker.driver`` (creates it), ``runtime.docker.engine``,
``runtime.docker.convert``, the controller's watch loop
(consumes it).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from runtime.docker import convert
from runtime.docker.engine import Engine
from runtime.docker.errors import mapped_errors
from runtime.driver import IdSet
from runtime.types import Event

# Event attributes that are not container labels.
_EVENT_KEYS = frozenset({"name", "image", "exitCode", "signal", "execID", "container"})

ACTIONS = frozenset({"die", "stop", "kill", "oom", "destroy", "start", "health_status",
                     "update", "pause", "unpause"})
NETWORK_ACTIONS = frozenset({"connect", "disconnect"})
LabelsOf = Callable[[str], Mapping[str, str] | None]  # container id -> labels (None: gone)


def from_api(data: dict[str, Any]) -> Event:
    """A daemon event -> ``Event`` (``health_status: healthy`` -> action + detail)."""
    action = data.get("Action") or data.get("status") or ""
    action, _, detail = action.partition(": ")
    actor = data.get("Actor") or {}
    attrs: dict[str, str] = actor.get("Attributes") or {}
    if action == "die":
        detail = attrs.get("exitCode", "")
    elif action == "kill":
        detail = attrs.get("signal", "")
    nano = data.get("timeNano")
    network = (data.get("Type") or "") == "network"
    return Event(
        action=action,
        container_id=attrs.get("container", "") if network else
        actor.get("ID") or data.get("id") or "",
        name=attrs.get("name", ""),
        labels=() if network else
        tuple(sorted((k, v) for k, v in attrs.items() if k not in _EVENT_KEYS)),
        time=nano / convert.NS if nano else float(data.get("time") or 0),
        detail=attrs.get("name", "") if network else detail.strip(),  # network: its name
    )


class DockerEventStream:
    """Events from now on; iterate in one thread, ``close()`` from any."""

    def __init__(self, api: Engine, labels: Mapping[str, str] | None = None,
                 labels_of: LabelsOf | None = None, ids: IdSet | None = None) -> None:
        # container events are matched on their labels here, not by the daemon: a label
        # filter there would drop the network events, which carry no container labels
        filters: dict[str, Any] = {"type": ["container", "network"],
                                   "event": sorted(ACTIONS | NETWORK_ACTIONS)}
        self._labels = dict(labels or {})
        self._labels_of = labels_of
        self._ids = ids  # also these containers, whatever their labels (asked per event)
        self._known: dict[str, bool] = {}  # container id -> owned (network events)
        self._closed = threading.Event()
        with mapped_errors("subscribe to Docker events"):
            self._stream = api.events(filters)

    def __iter__(self) -> Iterator[Event]:
        with mapped_errors("read Docker events"):
            while not self._closed.is_set():
                try:
                    raw = next(self._stream)
                except StopIteration:
                    return
                except (OSError, ValueError):
                    if self._closed.is_set():
                        return
                    raise
                if not isinstance(raw, dict):
                    continue
                event = from_api(raw)
                if event.action in NETWORK_ACTIONS and (raw.get("Type") == "network"):
                    if event.container_id and (self._listed(event.container_id)
                                               or self._owned(event.container_id)):
                        yield event
                elif event.action in ACTIONS and (self._matches(dict(event.labels))
                                                  or self._listed(event.container_id)):
                    yield event

    def _matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self._labels.items())

    def _listed(self, container_id: str) -> bool:
        return self._ids is not None and container_id in self._ids()

    def _owned(self, container_id: str) -> bool:
        """Whether a network event's container carries the wanted labels (asked once)."""
        if not self._labels:
            return True
        known = self._known.get(container_id)
        if known is None:
            found = self._labels_of(container_id) if self._labels_of else None
            known = found is not None and self._matches(found)
            if len(self._known) > 4096:
                self._known.clear()
            self._known[container_id] = known
        return known

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        with contextlib.suppress(OSError):
            self._stream.close()

    def __enter__(self) -> DockerEventStream:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
