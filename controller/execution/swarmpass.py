"""One reconcile pass on Docker Swarm: load specs, observe services, plan, execute.

Role: the Swarm counterpart of ``controller.execution.reconcile`` (same
``Options``, same typed ``PassResult``, so the journal, ``apply``'s output and
exit codes read it alike): the specs are loaded for the ``swarm`` runtime (keys
it cannot carry are located errors), realised as services
(``controller.desired.service``), compared and planned
(``controller.planning.services``) and executed
(``controller.execution.swarmapply``). Images built or loaded here go through
the Docker runtime's driver on the same endpoint (build/load), are tagged with
the registry reference the service names and pushed there. A ``pull = "always"``
image is resolved at its registry each pass (``resolve_pins``) so the plan pins
the digest and updates only when it changed. Raises only
``runtime.errors.Unavailable`` and the manager check of ``SwarmDriver.ping``.
A no-op pass stays lean: the executor (``controller.execution.swarmapply``) and
structlog are imported only when there is work or something to log.
Neighbours: ``controller.commands.converge`` (``--runtime swarm``).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from controller.desired.gitrev import revision as git_revision
from controller.desired.service import DesiredServices, services
from controller.desired.specload import recipe_of
from controller.execution.reconcile import Options, finish_pass
from controller.execution.result import (
    ActionResult,
    PassResult,
    Trigger,
    action_result,
)
from controller.planning import deployed
from controller.planning.actions import Action, Kind, Plan
from controller.planning.services import ObservedServices, make_plan, observe
from runtime.errors import RuntimeError_
from runtime.swarm.driver import SwarmDriver
from specs.result import SpecSet

if TYPE_CHECKING:
    from controller.execution.swarmapply import Tick

RUNTIME = "swarm"
DEFAULTS = Options()


@dataclass(frozen=True)
class PreparedSwarm:
    specs: SpecSet
    desired: DesiredServices
    observed: ObservedServices
    plan: Plan


def prepare(root: Path, driver: SwarmDriver, *, project: str | None = None,
            options: Options = DEFAULTS, revision: str | None = None) -> PreparedSwarm:
    """Load, observe and plan (nothing changed on the cluster)."""
    specs, recipe = recipe_of(root, project, None, options.checkout, RUNTIME)
    desired = services(recipe, revision if revision is not None else git_revision(root))
    driver.ensure_manager()
    observed = observe(driver, desired)
    plan = make_plan(desired, observed, prune=options.prune and not specs.errors,
                     allow_mass_delete=options.allow_mass_delete, skip=options.skip,
                     pins=resolve_pins(driver, desired))
    return PreparedSwarm(specs, desired, observed, plan)


def resolve_pins(driver: SwarmDriver, desired: DesiredServices) -> dict[str, str]:
    """``pull = "always"``: the digest the registry serves now for each such service's
    image (one request each). An image the registry cannot resolve is left out and
    logged: the service keeps the digest it runs (no update for its image)."""
    pins: dict[str, str] = {}
    for d in desired.services:
        if d.image.pull != "always" or d.pushed or d.state == "absent":
            continue
        try:
            pins[d.spec.name] = driver.resolve_digest(d.spec.image)
        except RuntimeError_ as exc:
            import structlog  # only to log an unresolved image

            structlog.get_logger("dockwright.apply").warning(
                "image_unresolved", service=d.spec.name, image=d.spec.image,
                error=str(exc), hint="the service keeps the image it runs; start or "
                "fix the registry")
    return pins


class ImagePusher:
    """Builds or loads a service's image here, tags it with its registry reference and
    pushes it, once per reference per pass."""

    def __init__(self, driver: SwarmDriver) -> None:
        self.driver = driver
        self.done: dict[str, str] = {}
        self.lock = threading.Lock()
        self._docker: Any = None

    def docker(self) -> Any:
        if self._docker is None:
            from runtime.registry import open_driver

            self._docker = open_driver("docker")
        return self._docker

    def __call__(self, action: Action) -> str:
        assert action.service is not None
        service = action.service
        target = service.spec.image
        with self.lock:
            if target in self.done:
                return self.done[target]
            image = service.image
            if image.source == "build":
                assert image.context is not None
                args = dict(image.args)
                self.docker().build_image(Path(image.context), target,
                                          dockerfile=image.dockerfile, args=args)
            else:
                assert image.archive is not None
                refs = self.docker().load_image(Path(image.archive))
                source = image.ref if image.ref in refs or not refs else refs[0]
                self.driver.tag_image(source, target)
            self.driver.push_image(target)
            self.done[target] = f"image {target} pushed"
            return self.done[target]

    def close(self) -> None:
        if self._docker is not None:
            self._docker.close()


def remember(prepared: PreparedSwarm, outcomes: tuple[ActionResult, ...]) -> None:
    """Record the project's services on the cluster after a pass
    (``controller.planning.deployed``): those seen, created or still owed a re-creation,
    less those removed and those neither declared nor there."""
    observed = prepared.observed
    declared = {d.spec.name for d in prepared.desired.services if d.state != "absent"}
    made = {o.action.name for o in outcomes if o.ok and o.action.object == "service"
            and o.kind in (Kind.CREATE, Kind.RECREATE, Kind.UPDATE)}
    removed = {o.action.name for o in outcomes if o.ok and o.action.object == "service"
               and o.kind is Kind.REMOVE}
    known = (observed.deployed | set(observed.services) | made) - removed
    deployed.write(observed.project,
                   {n for n in known if n in declared or n in observed.services})


def reconcile(root: Path, driver: SwarmDriver, *, project: str | None = None,
              options: Options = DEFAULTS, revision: str | None = None,
              on_event: Callable[[dict[str, Any]], None] | None = None,
              tick: Tick | None = None,
              triggers: frozenset[Trigger] = frozenset({Trigger.CLI})) -> PassResult:
    """One level-triggered pass on the cluster; per-service failures are in the result."""
    start = time.monotonic()
    rid = os.urandom(6).hex()
    prepared = prepare(root, driver, project=project, options=options, revision=revision)
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
        def progress(action: Action, outcome: Any) -> None:
            if on_event is None:
                return
            event: dict[str, Any] = {"event": "action", "reconcile_id": rid,
                                     "project": plan.project, "resource": action.resource,
                                     "name": action.name, "object": action.object,
                                     "action": action.kind.value, "reason": action.reason,
                                     "cause": action.cause.value}
            if outcome is None:
                event["phase"] = "start"
            else:
                event.update(phase="done", ok=outcome.ok, error=outcome.error,
                             detail=outcome.detail, duration=round(outcome.duration, 3))
            on_event(event)

        from controller.execution.swarmapply import execute  # only for a pass with work

        pusher = ImagePusher(driver)
        try:
            done = execute(driver, plan, concurrency=options.concurrency, progress=progress,
                           tick=tick, image_step=pusher,
                           networks={n.name: n.config for n in prepared.desired.networks
                                     if not n.external})
        finally:
            pusher.close()
        outcomes = tuple(action_result(o, frozenset()) for o in done)
    if not options.dry_run:
        remember(prepared, outcomes)
    return finish_pass(rid, plan, triggers, outcomes, spec_errors, start, on_event)
