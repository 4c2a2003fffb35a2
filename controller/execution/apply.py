"""Execution: run a plan's actions as a DAG on a bounded thread pool.

Role: the arrow "plan -> execution -> runtime driver calls" of DESIGN.md.
Independent actions run in parallel (``concurrency`` workers); an action
starts only when every action it depends on succeeded; a failure skips only
its dependents, the rest still converges. Container recreation is safe (a
failed update never leaves nothing running, no volume is removed): stop-first
or start-first, in ``controller.execution.replace``. Waiting for ``depends_on``
conditions (started / healthy / completed) lives in ``controller.execution.waits``;
the copies of secrets and configs in ``controller.execution.copies`` (written before a
create, pruned after a run).
Neighbours: executes a ``controller.planning.plan.Plan`` through a
``runtime.driver.Driver``; called by ``controller.execution.reconcile``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from controller.desired import naming
from controller.desired.state import DesiredContainer, DesiredImage
from controller.execution import copies, lifecycle
from controller.execution.lifecycle import Notify
from controller.execution.replace import ActionFailed, replace_container
from controller.execution.waits import Poller, wait_for
from controller.planning import anonymous, ledger
from controller.planning.actions import Cause
from controller.planning.diff import FieldChange
from controller.planning.plan import Action, Kind, Plan
from runtime.driver import Driver
from runtime.errors import Conflict, NotFound, RuntimeError_, Transient
from runtime.types import ContainerInfo, ImageInfo


@dataclass(frozen=True)
class ActionOutcome:
    """How one action ended. ``detail`` notes what happened besides the plan."""

    action: Action
    ok: bool
    error: str | None = None
    duration: float = 0.0
    detail: str = ""
    retry_after: float | None = None  # set when the failure was transient
    blocked_by: str | None = None  # not tried: the id of the failed action it depends on
    performed: Kind | None = None  # set when done as another kind than planned
    image_change: FieldChange | None = None  # why: the image behind its reference changed

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action.id, "kind": self.action.kind.value, "ok": self.ok,
                "error": self.error, "duration": round(self.duration, 3), "detail": self.detail}


Progress = Callable[[Action, ActionOutcome | None], None]  # outcome None: the action starts


class Executor:
    """Runs one plan once. Thread-safe use of the driver is assumed."""

    def __init__(self, driver: Driver, plan: Plan, *, concurrency: int = 16,
                 progress: Progress | None = None, notify: Notify | None = None) -> None:
        self.driver, self.plan = driver, plan
        self.concurrency = max(1, concurrency)
        self.progress = progress
        self.notify = notify  # stops that wait out their grace period (``lifecycle``)
        self.lock = threading.Lock()
        self.image_ids: dict[str, str] = dict(plan.images)
        self.image_refs: dict[str, str] = {}
        self.image_infos: dict[str, ImageInfo] = {}  # fetched in this run, by image key
        self.poller = Poller(driver, plan.project)
        self.desired: dict[str, DesiredContainer] = {
            a.name: a.container for a in plan.actions if a.container is not None}
        self.recorded: list[tuple[str, ledger.Entry]] = []  # (container id, hashes) to record
        self.upgraded: dict[str, FieldChange] = {}  # action id -> new image id: recreated

    # scheduling ---------------------------------------------------------------
    def run(self) -> list[ActionOutcome]:
        actions = {a.id: a for a in self.plan.actions}
        waiting = {a.id: {d for d in a.depends_on if d in actions} for a in actions.values()}
        dependents: dict[str, list[str]] = {}
        for aid, deps in waiting.items():
            for d in deps:
                dependents.setdefault(d, []).append(aid)
        outcomes: dict[str, ActionOutcome] = {}
        failed: dict[str, str] = {}  # action id -> failed dependency
        with ThreadPoolExecutor(max_workers=self.concurrency,
                                thread_name_prefix="dw-apply") as pool:
            running: dict[Future[ActionOutcome], str] = {}

            def launch(aid: str) -> None:
                blocker = failed.get(aid)
                if blocker is not None:
                    outcome = ActionOutcome(actions[aid], False, f"skipped: {blocker} failed",
                                            blocked_by=blocker)
                    finish(aid, outcome)
                else:
                    running[pool.submit(self.execute, actions[aid])] = aid

            def finish(aid: str, outcome: ActionOutcome) -> None:
                outcomes[aid] = outcome
                if self.progress is not None:
                    self.progress(outcome.action, outcome)
                for child in dependents.get(aid, []):
                    if not outcome.ok and self.blocks(actions[aid], actions[child]):
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
        for aid in actions:  # a cycle would leave some unscheduled: report, never hang
            if aid not in outcomes:
                outcomes[aid] = ActionOutcome(actions[aid], False, "dependency cycle")
        ledger.record_many(self.driver.name, self.plan.project, self.recorded)
        copies.prune(self.driver, self.plan.project)  # secrets and configs no one mounts
        return [outcomes[a.id] for a in self.plan.actions]

    @staticmethod
    def blocks(failed: Action, child: Action) -> bool:
        """A failed image fetch blocks only creations; the rest can go on with the old image."""
        if failed.object == "image":
            return child.kind in (Kind.CREATE, Kind.RECREATE)
        return True

    def execute(self, action: Action) -> ActionOutcome:
        if self.progress is not None and action.changing:
            self.progress(action, None)
        start = time.monotonic()
        error, retry, detail = None, None, ""
        try:
            detail = self.dispatch(action) or ""
            if action.object == "container" and (action.changing or detail):
                self.poller.invalidate()  # waiters must not see the container as it was
        except (RuntimeError_, ActionFailed, OSError) as exc:
            retry = exc.retry_after if isinstance(exc, Transient) else None
            error = f"{action.kind.value} {action.object} {action.name}: {exc}"
        with self.lock:
            change = self.upgraded.get(action.id)
        return ActionOutcome(action, error is None, error, time.monotonic() - start, detail,
                             retry_after=retry, performed=Kind.RECREATE if change else None,
                             image_change=change)

    # actions ------------------------------------------------------------------
    def dispatch(self, a: Action) -> str | None:
        d = self.driver
        if a.kind in (Kind.PULL, Kind.BUILD, Kind.LOAD):
            assert a.image is not None
            return self.fetch_image(a.kind, a.image)
        if a.kind is Kind.CREATE_VOLUME:
            assert a.volume is not None
            try:
                d.create_volume(a.volume)
            except Conflict:
                return "already exists"
            return None
        if a.kind is Kind.CREATE_NETWORK:
            assert a.network is not None
            try:
                d.create_network(a.network)
            except Conflict:
                return "already exists"
            return None
        if a.kind is Kind.REMOVE_VOLUME:
            try:
                d.remove_volume(a.name)
            except NotFound:
                return "already gone"
            return None
        if a.kind is Kind.REMOVE_NETWORK:
            try:
                d.remove_network(a.name)
            except NotFound:
                return "already gone"
            except RuntimeError_ as exc:  # e.g. "active endpoints": never fails the pass
                return f"not removed, will retry next pass: {exc}"
            return None
        if a.kind is Kind.KEEP_VOLUME:
            return None
        if a.kind is Kind.REMOVE:
            try:
                if a.was_running:  # a graceful stop first: databases flush on SIGTERM
                    timeout = a.container.config.stop_timeout if a.container else None
                    lifecycle.stop(d, a.observed_id or a.name, a.name, timeout, self.notify)
                d.remove_container(a.observed_id or a.name, force=True)
            except NotFound:
                return "already gone"
            return None
        return self.container_action(a)

    def container_action(self, a: Action) -> str | None:
        c = a.container
        if c is None:
            return None
        kind, detail = a.kind, None
        if a.recheck_image and kind in (Kind.NOOP, Kind.START, Kind.UPDATE):
            new_id = self.image_ids.get(c.image.key)
            if new_id and a.observed_image and new_id != a.observed_image:
                kind, detail = Kind.RECREATE, f"recreated: image {c.image.ref} has a new id"
                with self.lock:
                    self.upgraded[a.id] = FieldChange("image_id", a.observed_image, new_id)
        if kind is Kind.NOOP:
            if a.cause is Cause.ADOPT:
                self.remember(a, c)
            return None
        if kind is Kind.CREATE:
            detail = self.create(c)[1] or detail
        elif kind is Kind.RECREATE:
            detail = self.recreate(a, c) or detail
        elif kind is Kind.RENAME:
            self.rename_back(a, c)
        elif kind is Kind.UPDATE:
            self.update_in_place(a, c)
        elif kind is Kind.START:
            self.wait_deps(c)
            detail = lifecycle.start(self, c, a.observed_id or c.name)[1] or detail
        elif kind is Kind.STOP:
            lifecycle.stop(self.driver, a.observed_id or c.name, c.name, c.config.stop_timeout,
                           self.notify)
        return detail

    def update_in_place(self, a: Action, c: DesiredContainer) -> None:
        """The in-place changes of an UPDATE: unpause, restart policy and limits, networks
        left and joined (with the declared aliases), aliases set; then the state."""
        ref = a.observed_id or c.name
        declared = {n.network: n for n in c.config.networks}
        fields = {ch.field: ch for ch in a.changes}
        aliases, joins, leaves = [], [], []
        for name, ch in fields.items():
            net = name.removeprefix("networks.")
            if net == name:
                continue
            if ch.old is None and net in declared:
                joins.append(declared[net])
            elif ch.new is None and net not in declared:
                leaves.append(net)
            elif net.removesuffix(".aliases") in declared:
                aliases.append(declared[net.removesuffix(".aliases")])
        running = a.was_running
        if "state" in fields:  # paused
            self.driver.unpause_container(ref)
            running = True
        if aliases or "restart" in fields or "resources" in fields:
            self.driver.update_container(ref, restart=c.config.restart,
                                         resources=c.config.resources, networks=aliases or None)
        for net in leaves:
            with contextlib.suppress(NotFound):  # left already
                self.driver.disconnect_network(ref, net)
        for attach in joins:
            try:
                self.driver.connect_network(ref, attach)
            except Conflict:  # joined meanwhile: its aliases are set as declared
                self.driver.update_container(ref, networks=[attach])
        self.remember(a, c)  # the labels keep the creation-time hashes
        self.settle_state(c, ref, running)

    def remember(self, a: Action, c: DesiredContainer) -> None:
        """Record the hashes ``a``'s container answers to now (written after the run)."""
        if a.observed_id:
            entry = ledger.Entry(c.hash_for(self.image_ids.get(c.image.key)), c.update_hash)
            with self.lock:
                self.recorded.append((a.observed_id, entry))

    def settle_state(self, c: DesiredContainer, ref: str, was_running: bool) -> None:
        """The declared running/stopped state after an in-place update (through
        ``lifecycle``: stop notices, a stale start repaired)."""
        if c.state == "running" and not was_running:
            self.wait_deps(c)
            lifecycle.start(self, c, ref)
        elif c.state == "stopped" and was_running:
            lifecycle.stop(self.driver, ref, c.name, c.config.stop_timeout, self.notify)

    def wait_deps(self, c: DesiredContainer) -> None:
        action = next((a for a in self.plan.actions if a.name == c.name), None)
        for name, condition in action.waits if action else ():
            wait_for(self.driver, self.plan.project, name, condition, self.desired.get(name),
                     poller=self.poller)

    def create(self, c: DesiredContainer) -> tuple[str, str]:
        """Create and (for state "running") start; a container that cannot start is removed.
        Returns its id and a note (``lifecycle.start``)."""
        new_id, note = self.create_new(c), ""
        if c.state == "running":
            try:
                self.wait_deps(c)
                new_id, note = lifecycle.start(self, c, new_id)
            except (RuntimeError_, ActionFailed) as exc:
                with contextlib.suppress(NotFound):  # a failed repair removed it already
                    self.driver.remove_container(new_id, force=True)
                raise ActionFailed(f"container {c.name} did not start: {exc}") from exc
        return new_id, note

    def rename_back(self, a: Action, c: DesiredContainer) -> None:
        """A container of ``c``'s resource that matches the spec under another name (renamed
        by hand) gets its declared name back, then the declared state."""
        assert a.observed_id is not None
        self.driver.rename_container(a.observed_id, c.name)
        if c.state == "running" and not a.was_running:
            self.wait_deps(c)
            lifecycle.start(self, c, a.observed_id)
        elif c.state == "stopped" and a.was_running:
            lifecycle.stop(self.driver, a.observed_id, c.name, c.config.stop_timeout,
                           self.notify)

    def create_new(self, c: DesiredContainer, old: ContainerInfo | None = None) -> str:
        """Create ``c``; replacing ``old``, with the old one's anonymous volumes mounted
        (``controller.planning.anonymous``; the labels and hashes stay the desired ones)."""
        key = c.image.key
        ref = c.image.ref or self.image_refs.get(key, "")
        if not ref:
            raise ActionFailed(f"image {c.image.archive} was not loaded: nothing to create from")
        config = c.final_config(self.image_ids.get(key))
        if config.image != ref:
            config = replace(config, image=ref)
        if old is not None and old.anonymous_volumes:
            config = anonymous.for_replacement(self.driver, config, old,
                                               self.image_info(key, ref))
        try:
            copies.write(c)  # the secrets and configs it mounts, before it exists
        except copies.CopyError as exc:
            raise ActionFailed(str(exc)) from exc
        return self.driver.create_container(config)

    def image_info(self, key: str, ref: str) -> ImageInfo | None:
        with self.lock:
            info = self.image_infos.get(key)
        if info is None:
            info = self.driver.image_info(ref)
            if info is not None:
                with self.lock:
                    self.image_infos[key] = info
        return info

    def recreate(self, a: Action, c: DesiredContainer) -> str:
        """Replace the old container by a new one, safely (``controller.execution.replace``);
        returns a note for the outcome."""
        if a.observed_id is None:
            return self.create(c)[1]
        self.wait_deps(c)
        return replace_container(self, c, a.observed_id, a.was_running, a.resume)

    def fetch_image(self, kind: Kind, img: DesiredImage) -> str | None:
        d = self.driver
        if kind is Kind.PULL:
            info = d.pull_image(img.ref)
        elif kind is Kind.BUILD:
            assert img.context is not None
            info = d.build_image(
                Path(img.context), img.ref, dockerfile=img.dockerfile, args=dict(img.args),
                # no ownership labels on images: containers inherit image labels, and a
                # container someone runs by hand from this image must not look owned
                labels={naming.LABEL_CONTEXT_DIGEST: img.digest or "",
                        naming.LABEL_BUILT_FOR: self.plan.project})
        else:
            assert img.archive is not None
            refs = d.load_image(Path(img.archive))
            ref = img.ref if img.ref in refs or not refs else refs[0]
            if img.ref and img.ref not in refs:
                raise ActionFailed(f"archive {img.archive} does not contain {img.ref} "
                                   f"(it has: {', '.join(refs) or 'no tags'})")
            found = d.image_info(ref)
            if found is None:
                raise ActionFailed(f"image {ref} not found after loading {img.archive}")
            info = found
            with self.lock:
                self.image_refs[img.key] = ref
        with self.lock:
            previous = self.image_ids.get(img.key)
            self.image_ids[img.key] = info.id
            self.image_infos[img.key] = info
        return "image id unchanged" if previous == info.id else None


def execute(driver: Driver, plan: Plan, *, concurrency: int = 16,
            progress: Progress | None = None,
            notify: Notify | None = None) -> list[ActionOutcome]:
    """Execute ``plan`` (already checked) and return one outcome per action; ``notify``
    hears of stops that wait out their grace period (``controller.execution.lifecycle``)."""
    return Executor(driver, plan, concurrency=concurrency, progress=progress,
                    notify=notify).run()
