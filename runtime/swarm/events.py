"""The cluster's event stream as typed ``SwarmEvent`` values.

Role: ``GET /events`` of a manager filtered to services, nodes, secrets,
configs and containers; a container event counts only when the container
belongs to a Swarm task (``com.docker.swarm.service.name`` label: the tasks
on the manager's own node). A node event carries its state change in
``detail`` ("ready -> down"). ``close()`` from another thread ends the
iteration (the watch loop stops it that way). Neighbours:
``runtime.swarm.engine`` (the call), ``runtime.swarm.driver`` (builds it),
the controller's watch triggers (consume it).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from runtime.docker.errors import mapped_errors
from runtime.swarm.engine import SwarmEngine
from runtime.swarm.spec import SwarmEvent
from runtime.types import pairs

SERVICE_LABEL = "com.docker.swarm.service.name"
TYPES = ["service", "node", "secret", "config", "container"]


def event_of(raw: dict[str, Any]) -> SwarmEvent | None:
    """The typed event of one API event; None for a container that is no task."""
    kind = raw.get("Type", "")
    actor = raw.get("Actor") or {}
    attrs = actor.get("Attributes") or {}
    if kind == "container" and SERVICE_LABEL not in attrs:
        return None
    detail = ""
    if kind == "node" and "state.new" in attrs:
        detail = f"{attrs.get('state.old', '')} -> {attrs['state.new']}"
    elif kind == "service" and "replicas.new" in attrs:
        detail = f"replicas {attrs.get('replicas.old', '')} -> {attrs['replicas.new']}"
    name = attrs.get(SERVICE_LABEL) if kind == "container" else attrs.get("name", "")
    return SwarmEvent(type=kind, action=raw.get("Action", ""), id=actor.get("ID", ""),
                      name=name or "", labels=pairs({k: v for k, v in attrs.items()
                                                     if "." in k and k != "name"}),
                      time=float(raw.get("timeNano") or 0) / 1e9, detail=detail)


class SwarmEventStream:
    """Iterate cluster events; ``close()`` from any thread stops it."""

    def __init__(self, engine: SwarmEngine) -> None:
        with mapped_errors("read the Swarm event stream"):
            self._stream, self._values = engine.events({"type": TYPES})

    def __iter__(self) -> Iterator[SwarmEvent]:
        with mapped_errors("read the Swarm event stream"):
            for raw in self._values:
                event = event_of(raw) if isinstance(raw, dict) else None
                if event is not None:
                    yield event

    def close(self) -> None:
        self._stream.close()
