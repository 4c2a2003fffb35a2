"""The runtime side of the HTTP endpoint and the dashboard: Docker and native.

Role: a :class:`RuntimeView` answers what depends on the runtime: the project's live
objects for a page (:class:`Listing`: containers, volumes, networks; Swarm services
with their tasks), the ``/status`` body, the counts of ``/metrics`` and the
``why`` of one name. :class:`DockerView` is the Docker and native one, over a
``controller.service.loop.WatchService``; ``controller.service.swarmview`` has the
Swarm one. Neighbours: ``controller.service.httpd`` and
``controller.service.dashboard`` (the callers).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from controller.execution.explain import Explanation, explain
from controller.execution.journal.query import Reader
from controller.service.dashboard.models import TaskRow
from controller.service.loop import WatchService
from runtime.types import LABEL_PROJECT, LABEL_RESOURCE, ContainerSummary


@dataclass(frozen=True)
class ServiceState:
    """A Swarm service now: task counts, its last update, its tasks meant to run and
    the nodes holding them that are down."""

    id: str
    running: int
    desired: int
    update_state: str = ""
    update_message: str = ""
    tasks: tuple[TaskRow, ...] = ()
    nodes_down: tuple[str, ...] = ()


@dataclass(frozen=True)
class Listing:
    """The project's objects on the runtime: containers by name, volume and network names,
    Swarm services by name; ``error`` when the runtime did not answer."""

    containers: dict[str, ContainerSummary]
    volumes: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()
    error: str | None = None
    services: Mapping[str, ServiceState] = field(default_factory=dict)


class RuntimeView(Protocol):
    def name(self) -> str: ...

    def listing(self, resource: str | None = None) -> Listing: ...

    def status(self) -> dict[str, Any]: ...

    def states(self) -> list[tuple[str, float]]: ...

    def explain(self, name: str, reader: Reader | None) -> Explanation: ...


class DockerView:
    """Docker and native: containers through the service's driver handle."""

    def __init__(self, service: WatchService) -> None:
        self.service = service

    def name(self) -> str:
        return self.service.handle.get().name

    def listing(self, resource: str | None = None) -> Listing:
        """The project's containers, volumes and networks (only the containers of
        ``resource`` when given: one call). Raises when the runtime does not answer."""
        labels = {LABEL_PROJECT: self.service.project}
        driver = self.service.handle.get()
        if resource is not None:
            found = driver.list_containers({**labels, LABEL_RESOURCE: resource})
            return Listing({c.name.lstrip("/"): c for c in found})
        return Listing({c.name.lstrip("/"): c for c in driver.list_containers(labels)},
                       tuple(sorted(v.name for v in driver.list_volumes(labels))),
                       tuple(sorted(n.name for n in driver.list_networks(labels))))

    def status(self) -> dict[str, Any]:
        from controller.execution.status import status

        s = self.service
        return dict(status(s.root, s.handle.get(), project=s.project))

    def states(self) -> list[tuple[str, float]]:
        states: Counter[str] = Counter()
        for c in self.service.handle.get().list_containers(
                labels={LABEL_PROJECT: self.service.project}):
            states[c.state.value] += 1
        looping = self.service.crash_loops.looping()
        if looping:
            states["crash_looping"] = len(looping)
        return sorted((s, float(n)) for s, n in states.items())

    def explain(self, name: str, reader: Reader | None) -> Explanation:
        s = self.service
        return explain(name, s.handle.get(), root=s.root, project=s.project, reader=reader)
