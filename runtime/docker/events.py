"""Container events from the Docker daemon as an ``EventStream``.

Role: wraps ``GET /events`` (filtered on the daemon by ``type=container`` and
labels) in an iterator of ``runtime.types.Event`` that another thread can stop
with :meth:`DockerEventStream.close` (it shuts the HTTP socket down, so a
blocked read returns at once). Only lifecycle actions the controller reacts to
are passed on. When the daemon goes away the iteration simply ends; the
consumer subscribes again (level-triggered: it re-reads everything anyway).
Neighbours: ``runtime.docker.driver`` (creates it),
``runtime.docker.convert`` (label filters), the controller's watch loop
(consumes it).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from runtime.docker import convert
from runtime.docker.errors import mapped_errors
from runtime.types import Event

# Event attributes that are not container labels.
_EVENT_KEYS = frozenset({"name", "image", "exitCode", "signal", "execID", "container"})

ACTIONS = frozenset({"die", "stop", "kill", "oom", "destroy", "start", "health_status"})


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
    return Event(
        action=action,
        container_id=actor.get("ID") or data.get("id") or "",
        name=attrs.get("name", ""),
        labels=tuple(sorted((k, v) for k, v in attrs.items() if k not in _EVENT_KEYS)),
        time=nano / convert.NS if nano else float(data.get("time") or 0),
        detail=detail.strip(),
    )


class DockerEventStream:
    """Events from now on; iterate in one thread, ``close()`` from any."""

    def __init__(self, api: Any, labels: Mapping[str, str] | None = None) -> None:
        filters: dict[str, Any] = {"type": "container", **convert.label_filters(labels)}
        self._closed = threading.Event()
        with mapped_errors("subscribe to Docker events"):
            self._stream: Any = api.events(decode=True, filters=filters)

    def __iter__(self) -> Iterator[Event]:
        with mapped_errors("read Docker events"):
            while not self._closed.is_set():
                try:
                    raw = next(self._stream)
                except StopIteration:
                    return
                except (OSError, ValueError, AttributeError):
                    if self._closed.is_set():
                        return
                    raise
                if not isinstance(raw, dict):
                    continue
                event = from_api(raw)
                if event.action in ACTIONS:
                    yield event

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        with contextlib.suppress(OSError, AttributeError):
            self._stream.close()

    def __enter__(self) -> DockerEventStream:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
