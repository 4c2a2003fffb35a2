"""One reconcile pass: load specs, observe, plan, execute.

Role: the level-triggered unit of work (principle 1) shared by ``apply``,
``diff`` (``dry_run``) and the watch loop: every pass re-reads all spec files
and all owned runtime objects. :func:`reconcile` never raises for spec errors
or per-action failures (they are in the :class:`PassResult`); it raises
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from controller.desired.gitrev import revision as git_revision
from controller.desired.recipe import Recipe
from controller.desired.specload import recipe_of
from controller.desired.state import DesiredState, realise
from controller.planning.observe import Observed, observe
from controller.planning.plan import Action, Plan, make_plan
from runtime.driver import Driver
from specs.result import SpecError, SpecSet

if TYPE_CHECKING:  # the executor loads only when a pass executes (not for diff/status)
    from controller.execution.apply import ActionOutcome
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


@dataclass
class PassResult:
    """The outcome of one pass: its plan, what each action did, and what failed."""

    reconcile_id: str
    project: str
    revision: str | None
    plan: Plan
    outcomes: list[ActionOutcome] = field(default_factory=list)
    spec_errors: list[SpecError] = field(default_factory=list)
    frozen: frozenset[tuple[str, str]] = frozenset()
    failed: dict[str, str] = field(default_factory=dict)  # resource -> error
    changed: bool = False
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.spec_errors and not self.failed

    def to_json(self) -> dict[str, Any]:
        return {
            "reconcile_id": self.reconcile_id, "project": self.project,
            "revision": self.revision, "ok": self.ok, "changed": self.changed,
            "duration": round(self.duration, 3), "plan": self.plan.to_json(),
            "outcomes": [o.to_json() for o in self.outcomes],
            "spec_errors": [e.as_json() for e in self.spec_errors],
            "frozen": sorted(f"{k}.{n}" for k, n in self.frozen), "failed": dict(self.failed),
        }


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
        specs, recipe = recipe_of(root, project, specs)
    elif specs is None:
        raise ValueError("prepare: a recipe comes with the SpecSet it was made from")
    rev = revision if revision is not None else git_revision(root)
    desired = realise(recipe, rev)
    observed = observe(driver, desired, workers=options.concurrency, listing=listing)
    plan = make_plan(desired, observed, prune=options.prune and not specs.errors,
                     prune_volumes=options.prune_volumes,
                     allow_mass_delete=options.allow_mass_delete, skip=options.skip)
    return Prepared(specs, desired, observed, plan)


def reconcile(root: Path, driver: Driver, *, project: str | None = None,
              options: Options = Options(), revision: str | None = None,
              on_event: Callable[[dict[str, Any]], None] | None = None,
              specs: SpecSet | None = None, recipe: Recipe | None = None) -> PassResult:
    """One level-triggered pass. Raises only ``Unavailable`` (runtime unreachable).
    ``specs`` (and ``recipe``): the spec directory as the caller just loaded it (else it
    is loaded here)."""
    start = time.monotonic()
    rid = os.urandom(6).hex()  # a pass id for the logs (uuid costs start-up time)
    prepared = prepare(root, driver, project=project, options=options, revision=revision,
                       specs=specs, recipe=recipe)
    plan = prepared.plan
    result = PassResult(rid, plan.project, plan.revision, plan,
                        spec_errors=prepared.specs.all_errors(), frozen=plan.frozen)
    for error in plan.errors:
        result.failed[error.resource] = error.message
    if on_event is not None:
        on_event({"event": "plan", "reconcile_id": rid, "project": plan.project,
                  "revision": plan.revision, "changes": len(plan.changes),
                  "spec_errors": [e.format() for e in result.spec_errors],
                  "errors": [f"{e.resource}: {e.message} — {e.hint}" for e in plan.errors],
                  "refused": f"{plan.refused.message} — {plan.refused.hint}"
                  if plan.refused else None})
    if plan.refused is not None:
        result.failed["(plan)"] = f"{plan.refused.message} — {plan.refused.hint}"
    elif not options.dry_run and plan.has_work:
        from controller.execution.apply import execute

        def progress(action: Action, outcome: ActionOutcome | None) -> None:
            if on_event is None:
                return
            event: dict[str, Any] = {"event": "action", "reconcile_id": rid,
                                     "project": plan.project, "resource": action.resource,
                                     "name": action.name, "object": action.object,
                                     "action": action.kind.value, "reason": action.reason}
            if outcome is None:
                event["phase"] = "start"
            else:
                event.update(phase="done", ok=outcome.ok, error=outcome.error,
                             detail=outcome.detail, duration=round(outcome.duration, 3))
            on_event(event)

        result.outcomes = execute(driver, plan, concurrency=options.concurrency,
                                  progress=progress)
        for outcome in result.outcomes:
            if not outcome.ok:
                result.failed.setdefault(outcome.action.resource, outcome.error or "failed")
        result.changed = any(o.ok and (o.action.changing or o.detail.startswith("recreated"))
                             for o in result.outcomes)
        unreachable = [o for o in result.outcomes if not o.ok and o.retry_after is not None]
        if unreachable and len(unreachable) == len([o for o in result.outcomes if not o.ok]):
            driver.ping()  # raises Unavailable when the runtime went away
    result.duration = time.monotonic() - start
    if on_event is not None:
        on_event({"event": "pass", "reconcile_id": rid, "project": plan.project,
                  "revision": plan.revision, "changed": result.changed,
                  "changes": len(plan.changes), "failed": len(result.failed),
                  "spec_errors": len(result.spec_errors), "duration": round(result.duration, 3)})
    return result
