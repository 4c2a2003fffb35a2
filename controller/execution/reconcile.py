"""One reconcile pass: load specs, observe, plan, execute.

Role: the level-triggered unit of work (principle 1) shared by ``apply``,
``diff`` (``dry_run``) and the watch loop: every pass re-reads all spec files
and all owned runtime objects. :func:`reconcile` never raises for spec errors
or per-action failures (they are in the typed
``controller.execution.result.PassResult``, with each action's cause, field
changes and classified outcome, and the pass's triggers); it raises
``runtime.errors.Unavailable`` when the runtime cannot be reached.
Neighbours: ``specs.loader`` (or ``controller.desired.snapshot``) ->
``controller.desired.normalise``
-> ``controller.desired.state`` -> ``controller.planning.observe``
-> ``controller.planning.plan`` -> ``controller.execution.apply``; callers are
``controller.commands.converge`` and the watch loop.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from controller.desired.gitrev import revision as git_revision
from controller.desired.naming import LABEL_ASKED
from controller.desired.recipe import Recipe
from controller.desired.specload import recipe_of
from controller.desired.state import DesiredState, realise
from controller.execution.result import (
    ActionResult,
    ErrorKind,
    PassResult,
    ResourceFailure,
    Trigger,
    action_result,
    cause_of,
    first_failures,
    plan_failures,
)
from controller.planning import adoption
from controller.planning.observe import Observed, observe
from controller.planning.plan import Action, Kind, Plan, make_plan
from runtime.driver import Driver
from specs.result import SpecError, SpecSet

if TYPE_CHECKING:  # the executor loads only when a pass executes (not for diff/status)
    from controller.execution.apply import ActionOutcome
    from controller.execution.lifecycle import StopNotice
    from controller.planning.prefetch import Listing


@dataclass(frozen=True)
class Options:
    """What a pass may do (the CLI's flags)."""

    prune: bool = True
    prune_volumes: bool = False
    allow_mass_delete: bool = False
    concurrency: int = 16
    dry_run: bool = False
    skip: frozenset[str] = frozenset()  # container resources to leave alone this pass
    checkout: Path | None = None  # watch --git: the work tree that confines what specs read
    adopt_compose: str | None = None  # a docker-compose project taken over (planning.adoption)


@dataclass(frozen=True)
class Prepared:
    """Everything before execution; ``status`` and ``diff`` stop here."""

    specs: SpecSet
    desired: DesiredState
    observed: Observed
    plan: Plan


def prepare(root: Path, driver: Driver, *, project: str | None = None,
            options: Options = Options(), revision: str | None = None,
            specs: SpecSet | None = None, listing: Listing | None = None,
            recipe: Recipe | None = None) -> Prepared:
    """Load, observe and plan (no changes on the runtime). ``listing``: the runtime's
    lists, already under way (``controller.planning.prefetch``; read-only passes
    only).
    ``specs`` and ``recipe``: the directory as the caller loaded it
    (``controller.desired.specload``)."""
    if recipe is None:
        specs, recipe = recipe_of(root, project, specs, options.checkout, driver.name)
    elif specs is None:
        raise ValueError("prepare: a recipe comes with the SpecSet it was made from")
    rev = revision if revision is not None else git_revision(root)
    desired = realise(recipe, rev, runtime=driver.name)
    observed = observe(driver, desired, workers=options.concurrency, listing=listing,
                       adopt_compose=options.adopt_compose)
    plan = make_plan(desired, observed, prune=options.prune and not specs.errors,
                     prune_volumes=options.prune_volumes,
                     allow_mass_delete=options.allow_mass_delete, skip=options.skip)
    return Prepared(specs, desired, observed, plan)


def _record_adoption(runtime: str, observed: Observed, done: list[ActionOutcome]) -> None:
    """Remember the compose objects a pass kept as they are (``planning.adoption``), with
    what their specs asked, and forget recorded containers that are gone (replaced or
    removed by this pass, or no longer listed)."""
    from controller.compose.labels import PROJECT as COMPOSE_PROJECT

    replaced = {o.action.observed_id for o in done if o.ok and (o.performed or o.action.kind)
                in (Kind.RECREATE, Kind.REMOVE)}
    listed = {s.id for s in observed.containers.values()} | {
        s.id for s in observed.foreign.values()}
    gone = {i for i in observed.adopted.containers if i in replaced or i not in listed}
    compose = observed.adopted.compose_project
    if compose is None:
        if gone:
            adoption.record(runtime, observed.project, {}, (), (), gone)
        return
    kept = {o.action.observed_id: o.action.container for o in done if o.ok and (
        o.performed or o.action.kind) not in (Kind.RECREATE, Kind.REMOVE)}
    containers = {s.id: dict(spec.config.labels).get(LABEL_ASKED, "")
                  for s in observed.containers.values()
                  if (spec := kept.get(s.id)) is not None
                  and s.label(COMPOSE_PROJECT) == compose}
    volumes = [n for n, v in observed.volumes.items() if observed.owned_volume(n)
               and dict(v.labels).get(COMPOSE_PROJECT) == compose]
    networks = [n for n, v in observed.networks.items() if observed.owned_network(n)
                and dict(v.labels).get(COMPOSE_PROJECT) == compose]
    adoption.record(runtime, observed.project, containers, volumes, networks, gone)


def reconcile(root: Path, driver: Driver, *, project: str | None = None,
              options: Options = Options(), revision: str | None = None,
              on_event: Callable[[dict[str, Any]], None] | None = None,
              specs: SpecSet | None = None, recipe: Recipe | None = None,
              triggers: frozenset[Trigger] = frozenset({Trigger.CLI}),
              in_sync_before: frozenset[str] = frozenset()) -> PassResult:
    """One level-triggered pass. Raises only ``Unavailable`` (runtime unreachable).
    ``specs`` (and ``recipe``): the spec directory as the caller just loaded it (else it
    is loaded here). ``triggers``: why the pass runs; ``in_sync_before``: container
    resources in sync after the previous pass (the watch loop's memory), so that one
    created or started again is reported with cause ``DRIFT``."""
    start = time.monotonic()
    rid = os.urandom(6).hex()  # a pass id for the logs (uuid costs start-up time)
    prepared = prepare(root, driver, project=project, options=options, revision=revision,
                       specs=specs, recipe=recipe)
    plan = prepared.plan
    spec_errors = tuple(prepared.specs.all_errors())
    if on_event is not None:
        on_event({"event": "plan", "reconcile_id": rid, "project": plan.project,
                  "revision": plan.revision, "changes": len(plan.changes),
                  "spec_errors": [e.format() for e in spec_errors],
                  "errors": [f"{e.resource}: {e.message} — {e.hint}" for e in plan.errors],
                  "refused": f"{plan.refused.message} — {plan.refused.hint}"
                  if plan.refused else None})
    outcomes: tuple[ActionResult, ...] = ()
    if plan.refused is None and not options.dry_run and plan.has_work:
        from controller.execution.apply import execute

        def progress(action: Action, outcome: ActionOutcome | None) -> None:
            if on_event is None:
                return
            event: dict[str, Any] = {"event": "action", "reconcile_id": rid,
                                     "project": plan.project, "resource": action.resource,
                                     "name": action.name, "object": action.object,
                                     "action": action.kind.value, "reason": action.reason,
                                     "cause": cause_of(action, in_sync_before).value}
            if outcome is None:
                event["phase"] = "start"
            else:
                event.update(phase="done", ok=outcome.ok, error=outcome.error,
                             detail=outcome.detail, duration=round(outcome.duration, 3))
            on_event(event)

        def notify(notice: StopNotice) -> None:  # a stop waits out its grace period
            if on_event is not None:
                on_event({"event": notice.event.value, "reconcile_id": rid,
                          "project": plan.project, **notice.fields()})

        done = execute(driver, plan, concurrency=options.concurrency, progress=progress,
                       notify=notify)
        outcomes = tuple(action_result(o, in_sync_before) for o in done)
        if options.adopt_compose is not None or prepared.observed.adopted.containers:
            _record_adoption(driver.name, prepared.observed, done)
        failed = [o for o in outcomes if o.failure is not None]
        if failed and all(o.failure is not None and o.failure.kind is ErrorKind.TRANSIENT
                          for o in failed):
            driver.ping()  # raises Unavailable when the runtime went away
    return finish_pass(rid, plan, triggers, outcomes, spec_errors, start, on_event)


def finish_pass(rid: str, plan: Plan, triggers: frozenset[Trigger],
                outcomes: tuple[ActionResult, ...], spec_errors: tuple[SpecError, ...],
                start: float, on_event: Callable[[dict[str, Any]], None] | None) -> PassResult:
    """The typed result of a pass (its failures: the plan's, then the actions' first per
    resource) and the closing ``pass`` event; ``controller.execution.swarmpass`` too."""
    failures = first_failures(
        plan_failures(plan),
        (ResourceFailure(o.resource, o.failure) for o in outcomes if o.failure is not None))
    result = PassResult(rid, plan.project, plan.revision, plan, triggers=triggers,
                        outcomes=outcomes, spec_errors=spec_errors, frozen=plan.frozen,
                        failures=failures, duration=time.monotonic() - start)
    if on_event is not None:
        on_event({"event": "pass", "reconcile_id": rid, "project": plan.project,
                  "revision": plan.revision, "changed": result.changed,
                  "changes": len(plan.changes), "failed": len(result.failures),
                  "spec_errors": len(result.spec_errors), "duration": round(result.duration, 3)})
    return result
