"""The typed result of one reconcile pass: what each action changed, why, and how it ended.

Role: the one structure that metrics, logs, ``/status`` and the journal read
(principle 9: typed events, never words parsed back out of messages). A
:class:`PassResult` holds, per action, an :class:`ActionResult`: the kind as
performed, the :class:`~controller.planning.actions.Cause` (the planner's, or
``DRIFT`` for a container that was in sync after the previous pass and had to
be created or started again), the field changes, the outcome (ok, or a
:class:`Failure` classified as transient with ``retry_after``, permanent, or
blocked by a failed dependency) and the duration; and, per pass, the
:class:`Trigger` set that caused it. Rewording a message changes nothing here.
Neighbours: built by ``controller.execution.reconcile`` from the executor's
``controller.execution.apply.ActionOutcome``; read by ``controller.service.loop``
(backoff, crash loops, drift, metrics), ``controller.commands.converge`` (JSON
output, exit code). Pure values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from controller.planning.actions import PASSIVE, Action, Cause, Kind, Plan, PlanError
from controller.planning.diff import FieldChange
from specs.result import SpecError

if TYPE_CHECKING:  # the executor loads only when a pass executes (not for diff/status)
    from controller.execution.apply import ActionOutcome


class Trigger(StrEnum):
    """Why a pass ran. The values are the watch service's trigger names (the ``source``
    label of ``dockwright_triggers_total``); several coalesce into one pass."""

    SPEC_EDIT = "files"  # a spec file changed (the folder watcher)
    RUNTIME_EVENT = "runtime"  # the runtime reported a container event (die, destroy ...)
    RECONNECT = "reconnect"  # the runtime's event stream came back
    RESYNC = "resync"  # the periodic full pass
    GIT_FETCH = "git"  # a fetch moved the followed branch
    WEBHOOK = "webhook"  # POST /hooks/git: a fetch asked for by the git host
    SIGNAL = "sighup"  # someone asked the service for a pass (SIGHUP)
    START = "start"  # the service started
    RETRY = "retry"  # a backoff delay ended, or the runtime is tried again
    CLI = "cli"  # a one-shot command (``apply``)


class ErrorKind(StrEnum):
    """How a failure is classified (principle 6)."""

    TRANSIENT = "transient"  # worth retrying: ``retry_after`` says when at the earliest
    PERMANENT = "permanent"  # retrying the same request will not help until something changes
    BLOCKED = "blocked"  # not tried: an action it depends on failed


@dataclass(frozen=True)
class Failure:
    """A classified failure; ``message`` is for people (nothing reads words out of it)."""

    kind: ErrorKind
    message: str
    retry_after: float | None = None  # TRANSIENT only
    blocked_by: str | None = None  # BLOCKED only: the id of the failed action

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "message": self.message,
                "retry_after": self.retry_after, "blocked_by": self.blocked_by}


@dataclass(frozen=True)
class ResourceFailure:
    """A resource this pass could not converge (the first failure of its actions, or a
    plan error); ``resource`` is ``"(plan)"`` when a safety rule refused the whole plan."""

    resource: str
    failure: Failure


@dataclass(frozen=True)
class ActionResult:
    """One executed action: ``kind`` as performed (a no-op whose image got a new id is
    performed as a recreate), ``cause``, field ``changes``, ``failure`` (None: ok)."""

    action: Action
    kind: Kind
    cause: Cause
    changes: tuple[FieldChange, ...]
    failure: Failure | None
    duration: float
    detail: str = ""  # what happened besides the plan, for people ("already gone")

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def resource(self) -> str:
        return self.action.resource

    @property
    def passive(self) -> bool:
        """Reported by the plan, nothing done (no-op, kept volume)."""
        return self.kind in PASSIVE

    @property
    def changed(self) -> bool:
        """Done and changed something (a routine pull that found the same image did not)."""
        return self.ok and not self.passive and (
            not self.action.refresh or self.kind is not self.action.kind)

    @property
    def drift(self) -> bool:
        """A container put back as declared after it changed outside dockwright."""
        return self.ok and self.action.object == "container" and self.cause is Cause.DRIFT

    @property
    def healed(self) -> bool:
        """A container that died and was started again (input of crash-loop detection)."""
        return self.drift and self.kind is Kind.START

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action.id, "kind": self.kind.value, "object": self.action.object,
                "resource": self.resource, "cause": self.cause.value, "ok": self.ok,
                "changes": [c.to_json() for c in self.changes],
                "error": self.failure.message if self.failure else None,
                "failure": self.failure.to_json() if self.failure else None,
                "duration": round(self.duration, 3), "detail": self.detail}


def classify(outcome: ActionOutcome) -> Failure | None:
    """The executor's outcome as a typed failure (None when it succeeded)."""
    if outcome.ok:
        return None
    message = outcome.error or "failed"
    if outcome.blocked_by is not None:
        return Failure(ErrorKind.BLOCKED, message, blocked_by=outcome.blocked_by)
    if outcome.retry_after is not None:
        return Failure(ErrorKind.TRANSIENT, message, retry_after=outcome.retry_after)
    return Failure(ErrorKind.PERMANENT, message)


def cause_of(action: Action, in_sync_before: frozenset[str]) -> Cause:
    """The planner's cause, except that a container created or started again after the
    previous pass found it in sync was changed behind dockwright's back: drift."""
    if (action.object == "container" and action.kind in (Kind.CREATE, Kind.START)
            and action.resource in in_sync_before):
        return Cause.DRIFT
    return action.cause


def action_result(outcome: ActionOutcome, in_sync_before: frozenset[str]) -> ActionResult:
    action = outcome.action
    kind = outcome.performed or action.kind
    changes = action.changes
    if kind is not action.kind and outcome.image_change is not None:
        changes = (outcome.image_change, *changes)
    cause = Cause.IMAGE if kind is not action.kind and kind is Kind.RECREATE else cause_of(
        action, in_sync_before)
    return ActionResult(action, kind, cause, changes, classify(outcome), outcome.duration,
                        outcome.detail)


def plan_failures(plan: Plan) -> list[ResourceFailure]:
    """Plan errors (and a refused plan) as permanent failures."""
    def failed(error: PlanError, resource: str) -> ResourceFailure:
        text = f"{error.message} — {error.hint}" if error.hint else error.message
        return ResourceFailure(resource, Failure(ErrorKind.PERMANENT, text))

    found = [failed(e, e.resource) for e in plan.errors]
    if plan.refused is not None:
        found.append(failed(plan.refused, "(plan)"))
    return found


@dataclass(frozen=True)
class PassResult:
    """The outcome of one pass: its plan, what each action did, and what failed."""

    reconcile_id: str
    project: str
    revision: str | None
    plan: Plan
    triggers: frozenset[Trigger] = frozenset({Trigger.CLI})
    outcomes: tuple[ActionResult, ...] = ()
    spec_errors: tuple[SpecError, ...] = ()
    frozen: frozenset[tuple[str, str]] = frozenset()
    failures: tuple[ResourceFailure, ...] = ()  # one per resource, first failure wins
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.spec_errors and not self.failures

    @property
    def changed(self) -> bool:
        return any(o.changed for o in self.outcomes)

    @property
    def failed(self) -> Mapping[str, str]:
        """resource -> failure message (for people)."""
        return {f.resource: f.failure.message for f in self.failures}

    @property
    def acted(self) -> tuple[ActionResult, ...]:
        """The outcomes that did something (no-ops and kept volumes left out)."""
        return tuple(o for o in self.outcomes if not o.passive)

    def in_sync(self) -> frozenset[str]:
        """Container resources in sync with a live container after this pass."""
        done = {o.resource for o in self.outcomes if o.ok and o.action.object == "container"
                and o.kind is not Kind.REMOVE}
        untouched = {a.resource for a in self.plan.actions if a.object == "container"
                     and a.kind is Kind.NOOP and a.observed_id is not None}
        failed = {f.resource for f in self.failures}
        return frozenset((done | untouched) - failed)

    def to_json(self) -> dict[str, Any]:
        return {
            "reconcile_id": self.reconcile_id, "project": self.project,
            "revision": self.revision, "ok": self.ok, "changed": self.changed,
            "triggers": sorted(t.value for t in self.triggers),
            "duration": round(self.duration, 3), "plan": self.plan.to_json(),
            "outcomes": [o.to_json() for o in self.outcomes],
            "spec_errors": [e.as_json() for e in self.spec_errors],
            "frozen": sorted(f"{k}.{n}" for k, n in self.frozen), "failed": dict(self.failed),
            "failures": [{"resource": f.resource, **f.failure.to_json()} for f in self.failures],
        }


def first_failures(*groups: Iterable[ResourceFailure]) -> tuple[ResourceFailure, ...]:
    """One failure per resource, the first one found (plan errors before actions)."""
    seen: dict[str, ResourceFailure] = {}
    for group in groups:
        for failure in group:
            seen.setdefault(failure.resource, failure)
    return tuple(seen.values())


def down_result(plan: Plan, outcomes: Iterable[ActionOutcome], rev: str | None,
                duration: float, rid: str) -> PassResult:
    """The typed result of a ``down`` (trigger CLI, on any runtime), as the journal records
    a pass."""
    from dataclasses import replace

    results = tuple(action_result(o, frozenset()) for o in outcomes)
    failures = first_failures(ResourceFailure(r.resource, r.failure) for r in results
                              if r.failure is not None)
    return PassResult(rid, plan.project, rev, replace(plan, revision=rev),
                      triggers=frozenset({Trigger.CLI}), outcomes=results, failures=failures,
                      duration=duration)
