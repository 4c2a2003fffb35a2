"""``dockwright why NAME --runtime swarm``: the answer of ``why`` for a Swarm service.

Role: the Swarm counterpart of ``controller.execution.explain`` (same
:class:`~controller.execution.explain.Explanation`, so ``why`` renders and
JSON-encodes it alike): where the service is declared (spec file and line),
the commit that last changed that file, the last journal entry about it, and
its state now from a read-only Swarm pass (``controller.execution.swarmpass.prepare``):
in sync, drifted (field reasons; "removed outside dockwright"), not applied
yet, held after Swarm rolled its spec back (the remembered hash and Swarm's
message), tasks failing (their error) or tasks on a node that is down. A
service dockwright does not own — deployed by ``docker stack deploy`` (label
``com.docker.stack.namespace``), by another dockwright project or by hand — is
named with its owner and why it is left alone. Neighbours:
``runtime.swarm.driver`` (services, tasks, nodes), ``controller.commands.history``.
"""

from __future__ import annotations

import time
from pathlib import Path

from controller.desired.gitrev import last_change, uncommitted
from controller.execution.explain import (
    LEFT_ALONE,
    Container,
    Declaration,
    Explanation,
    Ownership,
    SpecChange,
    State,
    StateKind,
    _declaration,
)
from controller.execution.journal.query import Filter, Reader
from controller.execution.journal.records import Change, Entry
from controller.execution.journal.values import Outcome
from controller.execution.swarmpass import PreparedSwarm, prepare
from controller.planning.actions import Cause, Kind
from runtime.swarm.driver import SwarmDriver
from runtime.swarm.spec import ServiceInfo
from runtime.types import LABEL_MANAGED_BY, LABEL_PROJECT, LABEL_RESOURCE, MANAGED_BY

RUNTIME = "swarm"
STACK = "com.docker.stack.namespace"
SERVICE_LEFT_ALONE = LEFT_ALONE.replace("a container", "a service")


def _find(services: list[ServiceInfo], name: str, project: str | None) -> ServiceInfo | None:
    for s in services:
        if s.spec.name == name:
            return s
    mine = sorted((s for s in services if s.label(LABEL_RESOURCE) == name
                   and s.label(LABEL_MANAGED_BY) == MANAGED_BY
                   and project in (None, s.label(LABEL_PROJECT))), key=lambda s: s.spec.name)
    return mine[0] if mine else None


def _ownership(s: ServiceInfo | None, project: str | None
               ) -> tuple[Ownership, str | None, str | None]:
    if s is None:
        return Ownership.ABSENT, None, None
    owner = s.label(LABEL_PROJECT)
    if s.label(LABEL_MANAGED_BY) == MANAGED_BY and owner:
        if project is None or owner == project:
            return Ownership.OWNED, owner, None
        return (Ownership.OTHER_PROJECT, owner,
                f"it belongs to dockwright project {owner}: only that project's apply, watch "
                f"or down changes it; {project} never touches another project's services")
    stack = s.label(STACK)
    if stack:
        return (Ownership.STACK, stack,
                f"it was deployed by docker stack deploy, stack {stack} (label {STACK}); "
                f"{SERVICE_LEFT_ALONE}")
    return (Ownership.FOREIGN, None,
            f"no tool dockwright knows created it (docker service create?); "
            f"{SERVICE_LEFT_ALONE}")


CRASH_WINDOW = 60.0  # a task failed this recently: the service is failing, even 1/1 running now


def _live(driver: SwarmDriver, s: ServiceInfo) -> tuple[str, str | None]:
    """(failing tasks' errors, nodes down holding its tasks) -> a state note, or ""."""
    nodes = {n.id: n for n in driver.nodes()}
    tasks = driver.tasks(service=s.id)
    down = sorted({nodes[t.node_id].hostname + f" ({t.node_id[:12]})" for t in tasks
                   if "running" in (t.desired_state, t.state) and t.node_id in nodes
                   and nodes[t.node_id].state != "ready"})
    failing = [t for t in tasks if t.state in ("failed", "rejected") and (t.error or t.message)]
    failing.sort(key=lambda t: t.timestamp, reverse=True)
    if down:
        return "node-down", f"node down: {', '.join(down)} (its tasks are rescheduled " \
                            "by Swarm on the nodes that are up)"
    recent = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - CRASH_WINDOW))
    if failing and (s.running < s.desired or failing[0].timestamp >= recent):
        t = failing[0]
        return "failing", (f"tasks failing: {t.error or t.message} ({len(failing)} failed "
                           f"task(s), {s.running}/{s.desired} running)")
    return "", None


def _state(prepared: PreparedSwarm, driver: SwarmDriver, have: ServiceInfo | None,
           name: str, declaration: Declaration | None, last: Entry | None) -> State:
    plan = prepared.plan
    if declaration is not None and declaration.frozen:
        first = declaration.errors[0] if declaration.errors else "it does not load"
        return State(StateKind.FROZEN, f"frozen: {declaration.file} is invalid ({first}); "
                     "the service is left as it runs until the file is fixed")
    for error in plan.errors:
        if error.resource == name:
            kind = StateKind.FAILED if error.message.startswith("rolled back") \
                else StateKind.ERROR
            failed = prepared.observed.rolled_back.get(name)
            remembered = f" [failed spec hash {failed.hash[:12]} remembered]" if failed else ""
            hint = f" — {error.hint}" if error.hint else ""
            return State(kind, f"{kind.value}: {error.message}{remembered}{hint}")
    action = next((a for a in plan.actions if a.object == "service" and a.name == name), None)
    if action is None:
        return State(StateKind.NOT_DECLARED, "not declared in the spec folder")
    changes = tuple(Change(c.field, c.to_json()["old"], c.to_json()["new"], c.in_place)
                    for c in action.changes)
    if not action.changing:
        note_kind, note = _live(driver, have) if have is not None else ("", None)
        if note is not None:
            return State(StateKind.FAILED if note_kind == "failing" else StateKind.DRIFTED,
                         note)
        if last is not None and not last.ok and last.outcome is not Outcome.FROZEN:
            return State(StateKind.FAILED, f"failed: {last.error or last.reason}")
        live = f" ({have.running}/{have.desired} running)" if have is not None else ""
        return State(StateKind.IN_SYNC, f"in sync{live}")
    if last is not None and not last.ok and last.action == action.kind.value:
        return State(StateKind.FAILED, f"failed: {last.error or last.reason}; still to do: "
                     f"{action.kind.value} ({action.reason})", changes)
    if action.cause is Cause.DRIFT:
        return State(StateKind.DRIFTED, f"drifted: {action.reason}; the next apply or watch "
                     f"pass will {action.kind.value} it", changes)
    verb = "create" if action.kind is Kind.CREATE else action.kind.value
    return State(StateKind.PENDING, f"not applied yet ({action.cause.value}): {action.reason}; "
                 f"the next apply will {verb} it", changes)


def explain_service(name: str, driver: SwarmDriver, *, root: Path | None = None,
                    project: str | None = None, reader: Reader | None = None) -> Explanation:
    """Everything known about the Swarm service ``name`` (its service or declared name)."""
    driver.ping()
    target = _find(driver.list_services(), name, project)
    if project is None and target is not None and target.label(LABEL_MANAGED_BY) == MANAGED_BY:
        project = target.label(LABEL_PROJECT)
    if project is None and reader is not None:
        seen = reader.entries(Filter(resource=name, runtime=RUNTIME, limit=1))
        project = seen[0].project if seen else None
    if root is None and reader is not None and project is not None:
        last_pass = reader.last_pass(project, RUNTIME)
        if last_pass is not None and last_pass.root and Path(last_pass.root).is_dir():
            root = Path(last_pass.root)
    ownership, owner, left_alone = _ownership(target, project)
    resource = name
    if target is not None and ownership is Ownership.OWNED:
        resource = target.label(LABEL_RESOURCE) or name
    declaration: Declaration | None = None
    prepared: PreparedSwarm | None = None
    if root is not None:
        prepared = prepare(root, driver, project=project)
        project = prepared.plan.project
        for d in prepared.desired.services:
            if name in (d.spec.name, d.resource):
                resource = d.resource
                break
        declaration = _declaration(prepared.specs, root, "container", resource)
    spec_change = None
    if declaration is not None:
        info = last_change(Path(declaration.root), declaration.file)
        if info is not None:
            spec_change = SpecChange(info.commit, info.author, info.date, info.subject,
                                     uncommitted(Path(declaration.root), declaration.file))
    last = None
    if reader is not None and project is not None:
        last = reader.last_entry(project, resource, runtime=RUNTIME)
    service = None
    if target is not None:
        update = f", update {target.update_state}" if target.update_state else ""
        service = Container(target.id, target.spec.name,
                            f"{target.running}/{target.desired} running{update}", None,
                            target.spec.image, target.spec.labels)
    if ownership in (Ownership.STACK, Ownership.FOREIGN, Ownership.OTHER_PROJECT):
        if declaration is not None:
            left_alone = (f"{left_alone}. {declaration.file}:{declaration.line} declares "
                          f"{declaration.key}, but the name is taken: the plan reports an error "
                          "for it and changes nothing — remove or rename that service, or "
                          "declare another name")
        state = State(StateKind.ERROR if declaration else StateKind.NOT_DECLARED,
                      "not dockwright's: left alone" if declaration is None else
                      "its declared name is held by this service: not created")
    elif prepared is not None:
        service_name = target.spec.name if target is not None else name
        if declaration is not None and target is None:
            service_name = next((d.spec.name for d in prepared.desired.services
                                 if d.resource == resource), name)
        state = _state(prepared, driver, target, service_name, declaration, last)
    else:
        state = State(StateKind.UNKNOWN, "no spec folder to compare with: pass the spec folder "
                      "(dockwright why DIR NAME --runtime swarm)")
    return Explanation(name, RUNTIME, project, resource or None, service, ownership, owner,
                       left_alone, declaration, spec_change, last, state, object_kind="service")
