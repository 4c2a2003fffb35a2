"""The Swarm side of ``watch --runtime swarm --listen``: services, tasks and nodes.

Role: the :class:`~controller.service.runtimeview.RuntimeView` of a
``controller.service.swarmwatch.SwarmWatch``. :meth:`SwarmView.listing` reads the
project's services, their tasks, the nodes and the networks (four list calls; the
dashboard's feed reuses them until the next pass) into a
:class:`~controller.service.runtimeview.Listing` whose ``services`` carry replicas
running/desired, the last update's state and message, the tasks meant to run (slot,
node, state, error) plus the tasks that failed in the last ``FAILED_WINDOW`` seconds,
and the nodes holding them that are down. ``/status`` is
``controller.execution.swarmstatus.status`` and ``why`` is
``controller.execution.swarmexplain.explain_service``, as on the command line.
Neighbours: ``controller.service.httpd``, ``controller.service.dashboard``.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from controller.execution.explain import Explanation
from controller.execution.journal.query import Reader
from controller.service.dashboard.models import TaskRow
from controller.service.runtimeview import Listing, ServiceState
from runtime.swarm.spec import NodeInfo, ServiceInfo, TaskInfo
from runtime.types import LABEL_PROJECT, LABEL_RESOURCE

if TYPE_CHECKING:
    from controller.service.swarmwatch import SwarmWatch

FAILED_WINDOW = 300.0  # seconds a failed task stays in a service's task table
FAILED_SHOWN = 5  # failed tasks shown per service at most
ROLLED_BACK = ("rollback_started", "rollback_paused", "rollback_completed")


class SwarmView:
    """See the module doc."""

    def __init__(self, watch: SwarmWatch) -> None:
        self.watch = watch

    def name(self) -> str:
        return "swarm"

    def listing(self, resource: str | None = None) -> Listing:
        driver, project = self.watch.driver, self.watch.project
        labels = {LABEL_PROJECT: project}
        if resource is not None:
            labels[LABEL_RESOURCE] = resource
        services = driver.list_services(labels)
        tasks = driver.tasks(labels={LABEL_PROJECT: project}) if services else []
        nodes = {n.id: n for n in driver.nodes()}
        networks = () if resource is not None else tuple(sorted(
            n.name for n in driver.list_networks({LABEL_PROJECT: project})))
        by_service: dict[str, list[TaskInfo]] = {}
        for t in tasks:
            by_service.setdefault(t.service_id, []).append(t)
        return Listing({}, (), networks, services={
            s.spec.name: service_state(s, by_service.get(s.id, []), nodes) for s in services})

    def status(self) -> dict[str, Any]:
        from controller.execution.swarmstatus import status

        return status(self.watch.root, self.watch.driver, project=self.watch.project)

    def states(self) -> list[tuple[str, float]]:
        """The project's services by state: converged, updating, degraded, rolled_back."""
        counts: Counter[str] = Counter()
        for s in self.listing().services.values():
            counts[state_word(s)] += 1
        return sorted((k, float(n)) for k, n in counts.items())

    def explain(self, name: str, reader: Reader | None) -> Explanation:
        from controller.execution.swarmexplain import explain_service

        w = self.watch
        return explain_service(name, w.driver, root=w.root, project=w.project, reader=reader)


def state_word(s: ServiceState) -> str:
    if s.update_state in ROLLED_BACK:
        return "rolled_back"
    if s.update_state in ("updating", "paused"):
        return "updating" if s.update_state == "updating" else "paused"
    return "converged" if s.running >= s.desired else "degraded"


def service_state(s: ServiceInfo, tasks: list[TaskInfo], nodes: dict[str, NodeInfo]
                  ) -> ServiceState:
    """A service's counts, its tasks meant to run (by slot) and its recent failures.
    Running counts the tasks meant to run that run (Swarm's count includes a task being
    stopped)."""
    recent = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - FAILED_WINDOW))
    current = [t for t in tasks if t.desired_state in ("running", "ready")]
    failed = sorted((t for t in tasks if t.state in ("failed", "rejected")
                     and t.timestamp >= recent), key=lambda t: t.timestamp, reverse=True)
    current.sort(key=lambda t: (t.slot, t.node_id))
    down = sorted({_node(nodes, t.node_id) for t in current
                   if t.node_id in nodes and nodes[t.node_id].state != "ready"})
    rows = tuple(_task(t, nodes) for t in (*current, *failed[:FAILED_SHOWN]))
    running = sum(1 for t in current if t.state == "running")  # not those being stopped
    return ServiceState(s.id, running, s.desired, s.update_state, s.update_message, rows,
                        tuple(down))


def _node(nodes: dict[str, NodeInfo], node_id: str) -> str:
    n = nodes.get(node_id)
    if n is None:
        return node_id[:12] or "-"
    return n.hostname if n.state == "ready" else f"{n.hostname} ({n.state})"


def _task(t: TaskInfo, nodes: dict[str, NodeInfo]) -> TaskRow:
    return TaskRow(t.id[:12], _node(nodes, t.node_id), t.state, t.desired_state,
                   t.error or (t.message if t.state in ("failed", "rejected") else None) or None,
                   t.slot or None, t.timestamp[:19].replace("T", " ") if t.timestamp else None)
