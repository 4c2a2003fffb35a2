"""Executing a Swarm plan: create, update and remove services and networks, then wait.

Role: runs the actions of a ``controller.planning.services`` plan in
dependency order (a bounded pool; an action starts when those it depends on
succeeded, else it is reported blocked). A service created or updated is
waited for until it converged: its update state ``completed`` (or no update
running) and its running tasks equal its desired tasks, before a deadline;
``tick`` hears ``(service, running, desired, update state)`` meanwhile (the
CLI's ``web 2/3 running`` line). An update is sent with the version the plan
read (``SwarmDriver.update_service`` re-reads and retries on "update out of
sequence") and the live ``ForceUpdate`` counter, so it changes only what the
plan found. A rollback by Swarm (``rollback_started`` / ``_completed`` /
``_paused``) is a failure, never a success: "rolled back: <Swarm's message>",
the desired hash recorded in ``controller.planning.rollbacks`` so later passes
do not send it again; a paused update is a failure too. ``depends_on``
conditions wait for the dependency's tasks (running, which for a task with a
health check means healthy; ``completed``: its tasks complete). Images built or
loaded here are pushed to the ``[project] registry`` first (``images``).
Neighbours: ``controller.execution.swarmpass`` (calls it),
``runtime.swarm.driver``; outcomes are ``controller.execution.apply.ActionOutcome``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

from controller.execution.apply import ActionOutcome, Progress
from controller.planning import rollbacks
from controller.planning.actions import Action, Kind, Plan
from controller.planning.servicerules import restarts_tasks
from runtime.errors import Conflict, NotFound, RuntimeError_, Transient
from runtime.swarm import placement
from runtime.swarm.driver import SwarmDriver
from runtime.swarm.spec import ServiceInfo, ServiceSpec, TaskInfo
from runtime.types import (
    LABEL_MANAGED_BY,
    LABEL_PROJECT,
    LABEL_RESOURCE,
    MANAGED_BY,
    NetworkConfig,
)

CONVERGE_TIMEOUT = 300.0  # seconds a service may take to converge
POLL = 0.5
CONVERGE_POLL = 0.2  # a converging service is read this often: apply ends this soon after it
ROLLBACK_STATES = ("rollback_started", "rollback_paused", "rollback_completed")
FAIL_FAST = 3  # tasks failed since the action began: the service is not going to converge
FAILED_STATES = ("failed", "rejected")
STABLE = 5.0  # seconds the tasks must keep running after one of them failed
SETTLE = 2.0  # seconds a task started by a create or scale must keep running (no Swarm monitor)
UPDATE_START_WAIT = 10.0  # seconds for Swarm to begin a rolling update it accepted
NETWORK_REMOVE_ATTEMPTS = 20  # endpoints of removed tasks go away a moment later
NETWORK_WAIT = 30.0  # seconds a network just removed may stay listed on the manager
T = TypeVar("T")
Tick = Callable[[str, int, int, str], None]
ImageStep = Callable[[Action], str]  # builds/loads and pushes a service's image; a detail


class Failed(Exception):
    """A service that did not converge (the message is for people)."""


@dataclasses.dataclass
class SwarmExecutor:
    driver: SwarmDriver
    plan: Plan
    concurrency: int = 16
    progress: Progress | None = None
    tick: Tick | None = None
    image_step: ImageStep | None = None
    timeout: float = CONVERGE_TIMEOUT
    networks: Mapping[str, NetworkConfig] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()

    def run(self) -> list[ActionOutcome]:
        actions = {a.id: a for a in self.plan.actions}
        waiting = {a.id: {d for d in a.depends_on if d in actions} for a in actions.values()}
        dependents: dict[str, list[str]] = {}
        for aid, deps in waiting.items():
            for d in deps:
                dependents.setdefault(d, []).append(aid)
        outcomes: dict[str, ActionOutcome] = {}
        failed: dict[str, str] = {}
        with ThreadPoolExecutor(max_workers=max(1, self.concurrency),
                                thread_name_prefix="dw-swarm") as pool:
            running: dict[Future[ActionOutcome], str] = {}

            def launch(aid: str) -> None:
                blocker = failed.get(aid)
                if blocker is not None:
                    finish(aid, ActionOutcome(actions[aid], False, f"skipped: {blocker} failed",
                                              blocked_by=blocker))
                else:
                    running[pool.submit(self.execute, actions[aid])] = aid

            def finish(aid: str, outcome: ActionOutcome) -> None:
                outcomes[aid] = outcome
                if self.progress is not None:
                    self.progress(outcome.action, outcome)
                for child in dependents.get(aid, []):
                    if not outcome.ok:
                        failed.setdefault(child, aid)
                    waiting[child].discard(aid)
                    if not waiting[child]:
                        launch(child)

            for aid in [a for a, deps in waiting.items() if not deps]:
                launch(aid)
            while running:
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in done:
                    finish(running.pop(future), future.result())
        for aid in actions:
            if aid not in outcomes:
                outcomes[aid] = ActionOutcome(actions[aid], False, "dependency cycle")
        return [outcomes[a.id] for a in self.plan.actions]

    def execute(self, action: Action) -> ActionOutcome:
        if self.progress is not None and action.changing:
            self.progress(action, None)
        start = time.monotonic()
        error, retry, detail = None, None, ""
        try:
            detail = self.dispatch(action)
        except (RuntimeError_, Failed) as exc:
            retry = exc.retry_after if isinstance(exc, Transient) else None
            error = f"{action.kind.value} {action.object} {action.name}: {exc}"
        return ActionOutcome(action, error is None, error, time.monotonic() - start, detail,
                             retry_after=retry)

    # actions ------------------------------------------------------------------------
    def dispatch(self, a: Action) -> str:
        d = self.driver
        if a.kind is Kind.CREATE_NETWORK:
            assert a.network is not None
            try:
                d.create_network(a.network)
            except Conflict:
                return "already there"
            return ""
        if a.kind is Kind.REMOVE_NETWORK:
            return self.remove_network(a.name)
        if a.kind is Kind.NOOP:
            if a.service is not None:
                rollbacks.forget(self.plan.project, a.name)
            return ""
        if a.kind is Kind.REMOVE and a.object in ("secret", "config"):
            try:
                d.remove_object(a.object, a.name)
            except NotFound:
                return "already gone"
            except Conflict:
                return "still in use: kept (a later pass removes it)"
            return ""
        if a.kind is Kind.REMOVE:
            try:
                d.remove_service(a.observed_id or a.name)
            except NotFound:
                return "already gone"
            return ""
        assert a.service is not None
        detail = self.image_step(a) if self.image_step is not None and a.service.pushed else ""
        for dep, condition in a.waits:
            self.wait_ready(dep, condition)
        self.ensure_objects(a)
        spec = a.service.spec
        if a.kind is Kind.CREATE:
            ref = self.networked(spec, lambda: d.create_service(spec))
        elif a.kind is Kind.RECREATE:
            with contextlib.suppress(NotFound):
                d.remove_service(a.observed_id or a.name)
            ref = self.networked(spec, lambda: d.create_service(spec))
        else:
            ref = a.observed_id or a.name
            live = d.inspect_service(ref)
            sent = dataclasses.replace(spec, force_update=live.spec.force_update)
            self.networked(spec, lambda: d.update_service(
                ref, sent, a.observed_version or live.version))
            monitored = restarts_tasks(list(a.changes))
            if monitored:
                self.update_begun(ref, live.update_started)
        self.converge(a, ref, monitored=a.kind is Kind.UPDATE and monitored)
        rollbacks.forget(self.plan.project, a.name)
        return detail

    def ensure_objects(self, a: Action) -> None:
        """Create the secrets and configs the service refers to (named by content: one that
        exists already holds the same data)."""
        assert a.service is not None
        labels = {LABEL_MANAGED_BY: MANAGED_BY, LABEL_PROJECT: self.plan.project,
                  LABEL_RESOURCE: a.resource}
        for obj in a.service.objects:
            with contextlib.suppress(Conflict):
                self.driver.create_object(obj.kind, obj.name, obj.data, labels)

    def networked(self, spec: ServiceSpec, send: Callable[[], T]) -> T:
        """``send`` the service; when Swarm answers that one of its project networks is
        not found (``network NAME not found``), make that network and send again. The
        plan took it as there because the manager still listed its node-local copy: a
        network just removed (a ``down`` a moment ago) stays listed for a few seconds
        after Swarm dropped it, and a create meanwhile is refused as a duplicate name, so
        it is tried until that copy is gone (``NETWORK_WAIT``)."""
        deadline = time.monotonic() + NETWORK_WAIT
        while True:
            try:
                return send()
            except RuntimeError_ as exc:  # 20.10 answers it with HTTP 500, not 404
                missing = [self.networks[n.network] for n in spec.networks
                           if n.network in self.networks
                           and f"network {n.network} not found" in exc.message]
                if not missing or time.monotonic() > deadline:
                    raise
            for config in missing:
                with contextlib.suppress(Conflict):  # the old copy still listed, or made
                    self.driver.create_network(config)  # by a service beside this one
            time.sleep(POLL)

    def remove_network(self, name: str) -> str:
        for attempt in range(NETWORK_REMOVE_ATTEMPTS):
            try:
                self.driver.remove_network(name)
                return ""
            except NotFound:
                return "already gone"
            except (Transient, Conflict):  # endpoints of the removed tasks still there
                if attempt == NETWORK_REMOVE_ATTEMPTS - 1:
                    raise
                time.sleep(POLL)
        return ""

    # waiting ------------------------------------------------------------------------
    def update_begun(self, ref: str, before: str) -> None:
        """Until Swarm shows the update just sent (the status read right after an update
        may still be the previous update's "completed")."""
        deadline = time.monotonic() + UPDATE_START_WAIT
        while time.monotonic() < deadline:
            if self.driver.inspect_service(ref).update_started not in ("", before):
                return
            time.sleep(POLL / 5)

    def converge(self, a: Action, ref: str, monitored: bool = False) -> None:
        """Wait until the service converged; a rollback or a pause is a failure.

        A task that is running now may exit a moment later (``sh -c "exit 7"`` is
        "running" for a few milliseconds), so matching counts are not enough: tasks
        started by this action must keep running for ``SETTLE`` seconds (a rolling
        update, ``monitored``, was watched that long by Swarm's own monitor), and when a
        task failed since the action began, for ``STABLE`` seconds (a crash loop is
        running now and then, never for long)."""
        assert a.service is not None
        deadline = time.monotonic() + self.timeout
        since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 1))
        started = time.monotonic()
        settled: float | None = None  # since when the tasks match
        while True:
            info = self.driver.inspect_service(ref)
            if self.tick is not None:
                self.tick(a.name, info.running, info.desired, info.update_state)
            if info.update_state in ROLLBACK_STATES:
                self.rolled_back(a, ref, info)
            if info.update_state == "paused":
                raise Failed(f"update paused: {info.update_message or 'tasks failed'} (fix the "
                             "spec; `docker service rollback` goes back by hand)")
            tasks = self.driver.tasks(ref)
            failed = [t for t in tasks if t.state in FAILED_STATES and t.timestamp >= since]
            if (info.update_state in ("", "completed") and self.tasks_match(info, tasks)
                    and self.all_made(info, started)):
                young = not monitored and any(t.state == "running" and t.timestamp >= since
                                              for t in tasks)
                wait = STABLE if failed else SETTLE if young else 0.0
                settled = settled if settled is not None else time.monotonic()
                if time.monotonic() - settled >= wait:
                    return
            else:
                settled = None
                if len(failed) >= FAIL_FAST:
                    last = max(failed, key=lambda t: t.timestamp)
                    raise Failed(f"{len(failed)} tasks failed: {last.error or last.message} "
                                 f"({info.running} of {info.desired} running)")
            if time.monotonic() > deadline:
                raise Failed(f"not converged after {self.timeout:g}s: {info.running} of "
                             f"{info.desired} tasks running{self.task_errors(ref)}")
            time.sleep(CONVERGE_POLL)

    def tasks_match(self, info: ServiceInfo, tasks: list[TaskInfo]) -> bool:
        """Every task meant to run is running, as many as wanted, and no other task still
        runs (one being stopped after a scale-down or a start-first update). Swarm's own
        count (``info.running``, without the tasks of nodes that are down) includes the
        tasks being stopped; the tasks meant to run are counted here."""
        wanted = sum(1 for t in tasks if t.state == "running" and t.desired_state == "running")
        if info.spec.mode == "global":
            return wanted == info.running == info.desired
        return wanted == info.running == info.desired == info.spec.replicas

    def all_made(self, info: ServiceInfo, started: float) -> bool:
        """Swarm has made every task it is going to: a global service reports 0 of 0
        desired tasks right after its create, until its orchestrator made one per node.
        Its tasks are made when Swarm wants one per node its constraints admit
        (``runtime.swarm.placement``; a node paused with a task still counts it); for
        constraints that cannot be read here, when there are tasks or after ``SETTLE``
        seconds without."""
        if info.spec.mode != "global":
            return True
        nodes = placement.eligible(self.driver.nodes(), info.spec.placement.constraints)
        if nodes is None:
            return info.desired > 0 or time.monotonic() - started >= SETTLE
        return info.desired >= nodes

    def rolled_back(self, a: Action, ref: str, info: ServiceInfo) -> None:
        assert a.service is not None
        deadline = time.monotonic() + self.timeout
        first = info.update_message  # why Swarm rolls back ("update rolled back due to ...")
        while info.update_state == "rollback_started" and time.monotonic() < deadline:
            time.sleep(POLL)
            info = self.driver.inspect_service(ref)
        message = first or info.update_message or "the update failed"
        if info.update_message and info.update_message != message:
            message = f"{message}; {info.update_message}"
        rollbacks.record(self.plan.project, a.name, a.service.hash, message,
                         a.service.spec.image)
        raise Failed(f"rolled back: {message}")

    def task_errors(self, ref: str) -> str:
        errors = sorted({t.error for t in self.driver.tasks(ref) if t.error})
        return f" ({'; '.join(errors[:3])})" if errors else ""

    def wait_ready(self, dep: str, condition: str) -> None:
        """Until ``dep``'s tasks are running (healthy when it has a health check: Swarm
        reports such a task running once healthy), or complete for ``completed``."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            try:
                if condition == "completed":
                    tasks = self.driver.tasks(dep)
                    if tasks and all(t.state == "complete" for t in tasks
                                     if t.desired_state != "shutdown"):
                        return
                else:
                    info = self.driver.inspect_service(dep)
                    if info.desired and info.running >= info.desired:
                        return
            except NotFound:
                pass
            time.sleep(POLL)
        raise Failed(f"{dep} was not {condition} within {self.timeout:g}s")


def execute(driver: SwarmDriver, plan: Plan, *, concurrency: int = 16,
            progress: Progress | None = None, tick: Tick | None = None,
            image_step: ImageStep | None = None,
            timeout: float = CONVERGE_TIMEOUT,
            networks: Mapping[str, NetworkConfig] | None = None) -> list[ActionOutcome]:
    """Execute a Swarm plan; one outcome per action, in plan order. ``networks``: the
    project's own networks (not external) by name, made again when Swarm does not find
    one that a service is sent with."""
    return SwarmExecutor(driver, plan, concurrency, progress, tick, image_step, timeout,
                         dict(networks or {})).run()
