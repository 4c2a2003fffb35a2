"""Plan values: action kinds, actions, plan errors and the frozen plan.

Role: the vocabulary of principle 2 ("the plan is a value"): ``Kind`` (an
Enum of what can be done), ``Action`` (one step with its reason, field
changes and dependencies), ``PlanError`` and ``Plan`` (frozen; JSON-able with
``to_json``). Built by ``controller.planning.plan.make_plan``, executed by
``controller.execution.apply``, printed by ``controller.commands.render``. Pure values, no logic
beyond rendering to JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from controller.desired.service import DesiredService
from controller.desired.state import DesiredContainer, DesiredImage
from controller.errors import PlanRefused
from controller.planning.diff import FieldChange
from runtime.types import NetworkConfig, VolumeConfig


class Kind(StrEnum):
    PULL = "pull"
    BUILD = "build"
    LOAD = "load"
    CREATE_NETWORK = "create-network"
    CREATE_VOLUME = "create-volume"
    CREATE = "create"
    RECREATE = "recreate"
    RENAME = "rename"  # a container of the resource under another name gets its declared one
    UPDATE = "update"
    START = "start"
    STOP = "stop"
    REMOVE = "remove"
    REMOVE_VOLUME = "remove-volume"
    REMOVE_NETWORK = "remove-network"
    KEEP_VOLUME = "keep-volume"  # reported, nothing done
    NOOP = "noop"


class Cause(StrEnum):
    """Why an action is planned: a typed answer that metrics, logs, status and the journal
    read (never words parsed back out of ``Action.reason``)."""

    NEW = "new"  # declared, not found on the runtime (first create, or removed by hand)
    SPEC = "spec"  # the spec changed since the object was made
    DRIFT = "drift"  # the spec did not change, the live object did (by hand, crash, daemon)
    IMAGE = "image"  # a new image behind the same reference
    FOLLOW = "follow"  # follows a recreated container it depends on
    PRUNE = "prune"  # owned but no longer declared
    RECOVERY = "recovery"  # left over by an interrupted pass (crash, SIGKILL, daemon restart)
    ADOPT = "adopt"  # equal to its spec under another hash scheme: recorded, not restarted
    DOWN = "down"  # ``dockwright down`` takes the project away
    NONE = "none"  # nothing to do (no-op, kept volume)


PASSIVE = frozenset({Kind.NOOP, Kind.KEEP_VOLUME})
@dataclass(frozen=True)
class Resume:
    """A recreate an earlier pass began and did not finish (``Cause.RECOVERY``): the old
    container is the action's ``observed_id``, renamed aside (``old_name``); ``new_id`` is
    the copy that pass created under the declared name, if any, and ``reuse`` says it
    matches the spec and is started as it is (else it is removed and created again)."""

    old_name: str
    new_id: str | None = None
    reuse: bool = False


@dataclass(frozen=True)
class Action:
    """One step. ``depends_on`` holds ids of actions that must succeed first."""

    id: str  # "container:web-1", "image:busybox:latest", "volume:data", "network:x",
    #          "service:web"
    kind: Kind
    object: str  # container | image | volume | network | service
    resource: str  # declared name
    name: str  # runtime name
    reason: str
    changes: tuple[FieldChange, ...] = ()
    depends_on: tuple[str, ...] = ()
    container: DesiredContainer | None = None
    observed_id: str | None = None  # the live container, if any
    observed_image: str | None = None  # image id of the live container
    was_running: bool = False
    image: DesiredImage | None = None
    volume: VolumeConfig | None = None
    network: NetworkConfig | None = None
    waits: tuple[tuple[str, str], ...] = ()  # (container name, started|healthy|completed)
    recheck_image: bool = False  # its image is fetched in this plan: recreate if the id changes
    refresh: bool = False  # routine work (pull = "always"): done, but not counted as a change
    cause: Cause = Cause.SPEC
    resume: Resume | None = None  # a RECREATE that finishes an interrupted one
    service: DesiredService | None = None  # object "service" (the Swarm runtime)
    observed_version: int = 0  # a service's version index when it was read

    @property
    def changing(self) -> bool:
        return self.kind not in PASSIVE and not self.refresh

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind.value, "object": self.object,
                "resource": self.resource, "name": self.name, "reason": self.reason,
                "changes": [c.to_json() for c in self.changes],
                "depends_on": list(self.depends_on), "refresh": self.refresh,
                "cause": self.cause.value}


@dataclass(frozen=True)
class PlanError:
    """A resource the plan cannot converge (left untouched), with the fix."""

    resource: str
    message: str
    hint: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"resource": self.resource, "message": self.message, "hint": self.hint}


@dataclass(frozen=True)
class Plan:
    """The frozen plan of one pass: actions in order, errors, and what was refused."""

    project: str
    revision: str | None = None
    actions: tuple[Action, ...] = ()
    errors: tuple[PlanError, ...] = ()
    refused: PlanError | None = None  # a safety rule refused the whole plan
    frozen: frozenset[tuple[str, str]] = frozenset()
    invalid_files: frozenset[str] = frozenset()
    images: tuple[tuple[str, str], ...] = ()  # (image key, id) of images present now

    @property
    def changes(self) -> list[Action]:
        return [a for a in self.actions if a.changing]

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    @property
    def has_work(self) -> bool:
        """Changes, routine refreshes (pulls) whose result may turn into changes, or
        adoptions to record (``Cause.ADOPT``: hashes written to the ledger, no change)."""
        return any(a.changing or a.refresh or a.cause is Cause.ADOPT for a in self.actions)

    def check(self) -> None:
        """Raise :class:`PlanRefused` when a safety rule refused this plan."""
        if self.refused is not None:
            raise PlanRefused(self.refused.message, hint=self.refused.hint)

    def to_json(self) -> dict[str, Any]:
        return {"project": self.project, "revision": self.revision,
                "changes": len(self.changes), "actions": [a.to_json() for a in self.actions],
                "errors": [e.to_json() for e in self.errors],
                "refused": self.refused.to_json() if self.refused else None,
                "frozen": sorted(f"{k}.{n}" for k, n in self.frozen),
                "invalid_files": sorted(self.invalid_files)}
