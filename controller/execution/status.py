"""Status: each resource's desired vs actual state, in sync or why not.

Role: a read-only pass (load, observe, plan; nothing executed) turned into a
JSON-able dict: per container / volume / network its desired state, its
actual state (and health), whether it is in sync, the reason when it is not
and its typed cause (``controller.planning.actions.Cause``: drift or a spec
change), the revision it was applied from, and the docker-compose project it
was adopted from (``adopted_from``, ``controller.planning.adoption``); plus
invalid (frozen) files, spec errors and plan errors. The same dict backs
``dockwright status --output json`` and the watch service's ``/status``. Neighbours:
``controller.execution.reconcile.prepare`` (the pass without execution),
``controller.commands.converge`` (prints it).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from controller.compose.labels import PROJECT as COMPOSE_PROJECT
from controller.execution.reconcile import prepare
from controller.planning.plan import Kind
from runtime.driver import Driver
from runtime.types import LABEL_REVISION

if TYPE_CHECKING:
    from controller.planning.observe import Observed
    from controller.planning.prefetch import Listing


def adopted_from(observed: Observed, kind: str, name: str) -> str | None:
    """The docker-compose project an object was adopted from (None: not adopted)."""
    adopted = observed.adopted
    if kind == "container":
        have = observed.containers.get(name)
        return have.label(COMPOSE_PROJECT) if have is not None and \
            have.id in adopted.containers else None
    found = observed.volumes.get(name) if kind == "volume" else observed.networks.get(name)
    recorded = adopted.volumes if kind == "volume" else adopted.networks
    return dict(found.labels).get(COMPOSE_PROJECT) if found is not None and \
        name in recorded else None


def status(root: Path, driver: Driver, *, project: str | None = None,
           listing: Listing | None = None) -> dict[str, Any]:
    """Desired vs actual for every resource of the project (JSON-able); ``listing``: the
    runtime's lists, already under way (``controller.planning.prefetch``)."""
    prepared = prepare(root, driver, project=project, listing=listing)
    plan, observed = prepared.plan, prepared.observed
    resources: list[dict[str, Any]] = []
    seen: set[str] = set()
    for action in plan.actions:
        if action.object == "image":
            continue
        seen.add(f"{action.object}:{action.name}")
        entry: dict[str, Any] = {"kind": action.object, "resource": action.resource,
                                 "name": action.name, "in_sync": not action.changing,
                                 "reason": action.reason, "action": action.kind.value,
                                 "cause": action.cause.value}
        if action.object == "container":
            have = observed.containers.get(action.name)
            if action.name in observed.inspected:  # newer than the list (a pause shows first)
                have = observed.inspected[action.name].summary
            c = action.container
            entry["desired"] = c.state if c is not None else "absent"
            entry["actual"] = have.state.value if have else "absent"
            entry["health"] = have.health.value if have else None
            entry["revision"] = have.label(LABEL_REVISION) if have else None
            entry["id"] = have.id[:12] if have else None
        else:
            entry["desired"] = "absent" if action.kind in (
                Kind.REMOVE_NETWORK, Kind.REMOVE_VOLUME) else "present"
            entry["actual"] = "absent" if action.kind in (
                Kind.CREATE_NETWORK, Kind.CREATE_VOLUME) else "present"
        entry["adopted_from"] = adopted_from(observed, action.object, action.name)
        resources.append(entry)
    present = {"volume": set(observed.volumes), "network": set(observed.networks)}
    for kind, items in (("volume", prepared.desired.volumes),
                        ("network", prepared.desired.networks)):
        for item in items:
            if f"{kind}:{item.name}" not in seen:
                there = item.name in present[kind]  # an external one is never made
                resources.append({
                    "kind": kind, "resource": item.name, "name": item.name,
                    "desired": "present", "actual": "present" if there else "absent",
                    "in_sync": there, "reason": "in sync" if there else
                    "declared external but does not exist", "action": "noop", "cause": "none",
                    "adopted_from": adopted_from(observed, kind, item.name)})
    for error in plan.errors:
        resources.append({"kind": "container", "resource": error.resource, "name": error.resource,
                          "desired": "running", "actual": "unknown", "in_sync": False,
                          "reason": f"{error.message} — {error.hint}", "action": "error",
                          "cause": "none"})
    for kind, name in sorted(plan.frozen):
        resources.append({"kind": kind, "resource": name, "name": name, "desired": "frozen",
                          "actual": "unchanged", "in_sync": False,
                          "reason": "declared in an invalid spec file: left as it runs",
                          "action": "frozen", "cause": "none"})
    return {
        "project": plan.project, "revision": plan.revision,
        "in_sync": not plan.has_changes and not plan.errors and prepared.specs.ok and all(
            r["in_sync"] for r in resources if r["action"] != "frozen"),
        "resources": resources,
        "invalid_files": sorted(plan.invalid_files),
        "spec_errors": [e.as_json() for e in prepared.specs.all_errors()],
        "refused": plan.refused.to_json() if plan.refused else None,
    }
