"""Why a resource is as it is: the answer of ``dockwright why NAME`` as a typed value.

Role: gathers, for one name, where it is declared (spec file and line, also in a
quarantined file), the commit that last changed that file (``git log``), the
last journal entry about it (``controller.execution.journal.query``), its current
state from a read-only pass (``controller.execution.reconcile.prepare``: in sync,
drifted, changed but not applied, frozen by an invalid file, failed, or
crash-looping / backing off as the watch service recorded it), whether a
container was adopted from a docker-compose project (it keeps compose's
labels; ``controller.planning.adoption`` records it, and makes it the
project's own), and, for a container dockwright does not own, who owns it (a compose project's
``com.docker.compose.project`` label, another dockwright project, or nobody
known) and why it is left alone. The spec folder is the one given, else the one
the journal saw the project's last pass use. :class:`Explanation` is frozen and
JSON-able; the ``why`` command renders it, the dashboard can too.
Neighbours: ``runtime.driver`` (one list call; the pass's observe), ``specs.loader``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from controller.desired.gitrev import last_change, uncommitted
from controller.execution.journal.query import Filter, Reader
from controller.execution.journal.records import Change, Entry
from controller.execution.journal.values import Outcome, iso
from controller.execution.reconcile import Prepared, prepare
from controller.planning import adoption
from controller.planning.actions import Cause, Kind
from runtime.driver import Driver
from runtime.types import (
    LABEL_MANAGED_BY,
    LABEL_PROJECT,
    LABEL_RESOURCE,
    MANAGED_BY,
    ContainerSummary,
)
from specs.result import SpecSet

COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
LEFT_ALONE = ("dockwright never changes, stops or removes a container it did not create "
              "(it has no io.dockwright.project label of this project)")


class Ownership(StrEnum):
    OWNED = "owned"  # by the project asked about (or by a dockwright project: no project given)
    ADOPTED = "adopted"  # owned, taken over from docker-compose: it keeps compose's labels
    OTHER_PROJECT = "other-project"  # by another dockwright project
    COMPOSE = "compose"  # a docker-compose project's
    STACK = "stack"  # a Swarm service from ``docker stack deploy`` (swarmexplain)
    FOREIGN = "foreign"  # no owner dockwright knows
    ABSENT = "absent"  # no such container


class StateKind(StrEnum):
    IN_SYNC = "in-sync"
    DRIFTED = "drifted"  # changed outside dockwright; the next apply / watch pass heals it
    PENDING = "pending"  # the spec changed (or it is new): the next apply changes it
    FROZEN = "frozen"  # declared in an invalid spec file: left as it runs
    CRASH_LOOP = "crash-looping"
    BACKOFF = "backoff"
    FAILED = "failed"
    ERROR = "error"  # the plan cannot converge it (e.g. its name is taken)
    NOT_DECLARED = "not-declared"
    UNKNOWN = "unknown"  # no spec folder to compare with


@dataclass(frozen=True)
class Declaration:
    root: str
    file: str  # relative to root
    line: int | None
    key: str  # container.web
    frozen: bool = False
    errors: tuple[str, ...] = ()  # the file's problems when it is invalid

    @property
    def kind(self) -> str:
        """container | volume | network"""
        return self.key.split(".", 1)[0]

    def to_json(self) -> dict[str, Any]:
        return {"root": self.root, "file": self.file, "line": self.line, "key": self.key,
                "frozen": self.frozen, "errors": list(self.errors)}


@dataclass(frozen=True)
class SpecChange:
    commit: str
    author: str
    date: str
    subject: str
    uncommitted: bool = False  # the file has changes after that commit

    def to_json(self) -> dict[str, Any]:
        return {"commit": self.commit, "author": self.author, "date": self.date,
                "subject": self.subject, "uncommitted": self.uncommitted}


@dataclass(frozen=True)
class Container:
    id: str
    name: str
    state: str
    health: str | None
    image_id: str
    labels: tuple[tuple[str, str], ...]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id[:12], "name": self.name, "state": self.state,
                "health": self.health, "image_id": self.image_id}


@dataclass(frozen=True)
class State:
    kind: StateKind
    summary: str
    changes: tuple[Change, ...] = ()
    backoff: Entry | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "summary": self.summary,
                "changes": [c.to_json() for c in self.changes],
                "backoff": self.backoff.to_json() if self.backoff else None}


@dataclass(frozen=True)
class Explanation:
    name: str
    runtime: str
    project: str | None
    resource: str | None
    container: Container | None
    ownership: Ownership
    owner: str | None  # the owning project (dockwright or compose)
    left_alone: str | None  # why dockwright does not touch it (not owned)
    declaration: Declaration | None
    spec_change: SpecChange | None
    last_action: Entry | None
    state: State
    adopted_from: str | None = None  # the docker-compose project it was taken over from
    object_kind: str | None = None  # "service" on Swarm (``container`` then holds it)

    @property
    def kind(self) -> str:
        """What NAME is: container (also when unknown), volume, network, or service."""
        if self.object_kind is not None:
            return self.object_kind
        return self.declaration.kind if self.declaration is not None else "container"

    @property
    def found(self) -> bool:
        return (self.container is not None or self.declaration is not None
                or self.last_action is not None)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "runtime": self.runtime,
                "project": self.project,
                "resource": self.resource,
                "container": self.container.to_json() if self.container else None,
                "ownership": self.ownership.value, "owner": self.owner,
                "adopted_from": self.adopted_from,
                "left_alone": self.left_alone,
                "declaration": self.declaration.to_json() if self.declaration else None,
                "spec_change": self.spec_change.to_json() if self.spec_change else None,
                "last_action": self.last_action.to_json() if self.last_action else None,
                "state": self.state.to_json()}


def _find(summaries: list[ContainerSummary], name: str,
          project: str | None) -> ContainerSummary | None:
    for s in summaries:
        if s.name.lstrip("/") == name:
            return s
    replicas = sorted((s for s in summaries if s.label(LABEL_RESOURCE) == name
                       and s.label(LABEL_MANAGED_BY) == MANAGED_BY
                       and project in (None, s.label(LABEL_PROJECT))),
                      key=lambda s: s.name)
    return replicas[0] if replicas else None


def _ownership(s: ContainerSummary | None, project: str | None, runtime: str
               ) -> tuple[Ownership, str | None, str | None]:
    if s is None:
        return Ownership.ABSENT, None, None
    if project is not None and s.label(COMPOSE_PROJECT) and \
            s.id in adoption.read(runtime, project).containers:
        return Ownership.ADOPTED, project, None
    owner = s.label(LABEL_PROJECT)
    if s.label(LABEL_MANAGED_BY) == MANAGED_BY and owner:
        if project is None or owner == project:
            return Ownership.OWNED, owner, None
        return (Ownership.OTHER_PROJECT, owner,
                f"it belongs to dockwright project {owner}: only that project's apply, watch "
                f"or down changes it; {project} never touches another project's containers")
    compose = s.label(COMPOSE_PROJECT)
    if compose:
        service = s.label(COMPOSE_SERVICE)
        what = f"docker-compose project {compose}" + (f" (service {service})" if service else "")
        return (Ownership.COMPOSE, compose,
                f"it was created by {what} (label {COMPOSE_PROJECT}); {LEFT_ALONE}")
    return Ownership.FOREIGN, None, f"no tool dockwright knows created it; {LEFT_ALONE}"


def _declaration(specs: SpecSet, root: Path, kind: str, resource: str) -> Declaration | None:
    key = f"{kind}.{resource}"
    for f in specs.files:
        for r in f.resources:
            if r.kind == kind and r.name == resource:
                return Declaration(str(root), f.path, r.line, key)
        if (kind, resource) in f.declared:
            from specs.loader import header_lines

            try:
                line = header_lines((root / f.path).read_text()).get((kind, resource))
            except (OSError, UnicodeDecodeError):
                line = None
            return Declaration(str(root), f.path, line, key, frozen=not f.ok,
                               errors=tuple(e.format() for e in f.errors))
    return None


def _state(prepared: Prepared, name: str, resource: str, declaration: Declaration | None,
           last: Entry | None, backoffs: tuple[Entry | None, Entry | None]) -> State:
    plan = prepared.plan
    if declaration is not None and declaration.frozen:
        first = declaration.errors[0] if declaration.errors else "it does not load"
        return State(StateKind.FROZEN, f"frozen: {declaration.file} is invalid ({first}); "
                     "the container is left as it runs until the file is fixed")
    for error in plan.errors:
        if error.resource == resource:
            hint = f" — {error.hint}" if error.hint else ""
            return State(StateKind.ERROR, f"error: {error.message}{hint}")
    looping, delay = backoffs
    recorded = delay or looping
    if recorded is not None:
        kind = StateKind.CRASH_LOOP if looping is not None else StateKind.BACKOFF
        parts = [looping.reason] if looping is not None else []
        if delay is not None:
            parts.append(f"backoff: {delay.reason}" + (f" ({delay.error})" if delay.error
                                                       else ""))
        return State(kind, f"{kind.value}: {'; '.join(parts)} — as the watch service recorded "
                     f"it at {iso(recorded.at)}", backoff=recorded)
    obj = declaration.kind if declaration is not None else "container"
    action = next((a for a in plan.actions if a.object == obj and a.name == name), None)
    if action is None:
        action = next((a for a in plan.actions if a.object == obj
                       and a.resource == resource), None)
    if action is None and declaration is not None and obj != "container":
        return State(StateKind.IN_SYNC, "in sync (present)")  # unchanged: no plan action
    if action is None:
        return State(StateKind.NOT_DECLARED, "not declared in the spec folder")
    changes = tuple(Change(c.field, c.to_json()["old"], c.to_json()["new"], c.in_place)
                    for c in action.changes)
    if not action.changing:
        if last is not None and not last.ok and last.outcome is not Outcome.FROZEN:
            return State(StateKind.FAILED, f"failed: {last.error or last.reason}")
        have = prepared.observed.containers.get(action.name)
        live = f" ({have.state.value}" + (f", {have.health.value}" if have and have.health.value
                                           not in ("none", "") else "") + ")" if have else ""
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


def explain(name: str, driver: Driver, *, root: Path | None = None, project: str | None = None,
            reader: Reader | None = None) -> Explanation:
    """Everything known about ``name`` (a container's runtime or declared name)."""
    summaries = driver.list_containers(None)
    target = _find(summaries, name, project)
    if project is None and target is not None and target.label(LABEL_MANAGED_BY) == MANAGED_BY:
        project = target.label(LABEL_PROJECT)
    if project is None and target is not None and target.label(COMPOSE_PROJECT):
        project = adoption.adopter(driver.name, target.id)
    if project is None and reader is not None:
        seen = reader.entries(Filter(resource=name, runtime=driver.name, limit=1))
        project = seen[0].project if seen else None
    if root is None and reader is not None and project is not None:
        last_pass = reader.last_pass(project, driver.name)
        if last_pass is not None and last_pass.root and Path(last_pass.root).is_dir():
            root = Path(last_pass.root)
    ownership, owner, left_alone = _ownership(target, project, driver.name)
    resource = name
    if target is not None and ownership is Ownership.OWNED:
        resource = target.label(LABEL_RESOURCE) or name
    if target is not None and ownership is Ownership.ADOPTED:
        resource = target.label(COMPOSE_SERVICE) or name
    declaration: Declaration | None = None
    prepared: Prepared | None = None
    if root is not None:
        from controller.desired.specload import load

        specs = load(root, runtime=driver.name)
        prepared = prepare(root, driver, project=project, specs=specs)
        project = prepared.plan.project
        for c in prepared.desired.containers:
            if name in (c.name, c.resource):
                resource = c.resource
                break
        for kind in ("container", "volume", "network"):  # a name may be any of them
            declaration = _declaration(specs, root, kind, resource)
            if declaration is not None:
                break
    spec_change = None
    if declaration is not None:
        info = last_change(Path(declaration.root), declaration.file)
        if info is not None:
            spec_change = SpecChange(info.commit, info.author, info.date, info.subject,
                                     uncommitted(Path(declaration.root), declaration.file))
    last: Entry | None = None
    backoff: tuple[Entry | None, Entry | None] = (None, None)
    if reader is not None and project is not None:
        last = reader.last_entry(project, resource, runtime=driver.name)
        backoff = reader.open_backoff(project, resource, runtime=driver.name)
    container = None
    if target is not None:
        health = target.health.value if target.health.value not in ("none", "") else None
        container = Container(target.id, target.name.lstrip("/"), target.state.value, health,
                              target.image_id, target.labels)
    if ownership in (Ownership.COMPOSE, Ownership.FOREIGN, Ownership.OTHER_PROJECT):
        if declaration is not None:
            left_alone = (f"{left_alone}. {declaration.file}:{declaration.line} declares "
                          f"{declaration.key}, but the name is taken: the plan reports an error "
                          "for it and changes nothing — rename or remove the container, or "
                          "declare another name")
        state = State(StateKind.ERROR if declaration else StateKind.NOT_DECLARED,
                      "not dockwright's: left alone" if declaration is None else
                      "its declared name is held by this container: not created")
    elif prepared is not None:
        state = _state(prepared, container.name if container else name, resource, declaration,
                       last, backoff)
    else:
        state = State(StateKind.UNKNOWN, "no spec folder to compare with: pass the spec folder "
                      "(dockwright why DIR NAME)")
    adopted_from = target.label(COMPOSE_PROJECT) if target is not None and \
        ownership is Ownership.ADOPTED else None
    return Explanation(name, driver.name, project, resource if resource else None, container,
                       ownership, owner, left_alone, declaration, spec_change, last, state,
                       adopted_from)
