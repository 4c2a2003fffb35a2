"""``dockwright status --runtime swarm``: a project's services, tasks and nodes, as JSON.

Role: one read-only Swarm pass (``controller.execution.swarmpass.prepare``) plus the
project's tasks and the cluster's nodes, as a dict: per service desired vs actual (``2/3
running``: its tasks meant to run that run on a node that is ready), the last update's
state and message, every task meant to run with its slot, node (and that node's state)
and error; resources held by a plan error (a remembered rollback); the nodes; the spec
files that do not load; and that named volumes are per node. Neighbours:
``controller.commands.swarmcmd`` (prints it), ``controller.service.swarmview``
(``/status`` of ``watch --runtime swarm --listen``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from controller.execution.reconcile import Options
from controller.execution.swarmpass import prepare
from controller.planning.actions import Kind
from runtime.swarm.driver import SwarmDriver
from runtime.types import LABEL_PROJECT


def status(root: Path, driver: SwarmDriver, *, project: str | None = None) -> dict[str, Any]:
    """The status of the project declared in ``root`` on the cluster (read only)."""
    prepared = prepare(root, driver, project=project, options=Options())
    nodes = {n.id: n for n in driver.nodes()}
    tasks = driver.tasks(labels={LABEL_PROJECT: prepared.plan.project})
    plan, observed = prepared.plan, prepared.observed
    errors = {e.resource: e for e in plan.errors}
    resources: list[dict[str, Any]] = []
    for action in plan.actions:
        entry: dict[str, Any] = {"kind": action.object, "resource": action.resource,
                                 "name": action.name, "in_sync": not action.changing,
                                 "reason": action.reason, "action": action.kind.value,
                                 "cause": action.cause.value}
        if action.object == "service":
            have = observed.services.get(action.name)
            d = action.service
            entry["desired"] = d.state if d is not None else "absent"
            running = sum(1 for t in tasks if have is not None and t.service_id == have.id
                          and t.state == t.desired_state == "running"
                          and nodes.get(t.node_id) is not None
                          and nodes[t.node_id].state == "ready")
            entry["actual"] = f"{running}/{have.desired} running" if have else "absent"
            entry["update_state"] = have.update_state if have else None
            entry["update_message"] = have.update_message if have else None
            entry["tasks"] = [{"id": t.id[:12], "slot": t.slot,
                               "node": nodes[t.node_id].hostname if t.node_id in nodes
                               else t.node_id[:12], "node_id": t.node_id,
                               "node_state": nodes[t.node_id].state if t.node_id in nodes
                               else None, "state": t.state, "error": t.error}
                              for t in tasks if have is not None and t.service_id == have.id
                              and t.desired_state == "running"]
        else:
            entry["desired"] = "absent" if action.kind is Kind.REMOVE_NETWORK else "present"
            entry["actual"] = "absent" if action.kind is Kind.CREATE_NETWORK else "present"
        resources.append(entry)
    for name, error in errors.items():
        resources.append({"kind": "service", "resource": name, "name": name, "in_sync": False,
                          "reason": f"{error.message} — {error.hint}", "action": "held",
                          "desired": "running", "actual": "held"})
    spec_errors = prepared.specs.all_errors()
    return {"project": plan.project, "revision": plan.revision, "runtime": "swarm",
            "in_sync": not plan.has_changes and not plan.errors and not spec_errors,
            "resources": resources,
            "nodes": [{"id": n.id, "hostname": n.hostname, "role": n.role, "state": n.state,
                       "availability": n.availability} for n in nodes.values()],
            "invalid_files": sorted(plan.invalid_files),
            "note": "named volumes are per node: a task rescheduled to another node gets "
                    "that node's (empty) volume"}
