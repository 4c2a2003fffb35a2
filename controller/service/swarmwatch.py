"""``watch --runtime swarm``: the reconciling service for a Swarm cluster.

Role: one worker runs ``controller.execution.swarmpass.reconcile`` passes of
one project, queued (coalesced, ``controller.service.queue``) by the same
triggers as on the other runtimes: spec file changes
(``controller.service.triggers.SpecWatcher``) or, with ``--git``, each new
revision of the branch (``controller.service.gitsource.GitSource``: the pass
gets that revision and reads only its work tree), the periodic resync, and the
cluster's events (``runtime.swarm.events``: a service created, updated, scaled
or removed — by hand too —, a node that changed state, a task container that
died on the manager's node); the event stream is re-opened with backoff when it
breaks, and a pass follows. A service scaled or updated by hand is thereby put
back (its pass finds the difference, cause drift); a spec Swarm rolled back is
held by the plan (``controller.planning.rollbacks``), so no update loop. After
each pass it compares where each task slot runs with the previous pass and logs
``node_down`` for a node that is no longer ready and ``task_rescheduled`` for a
slot that moved to another node. Passes go to the journal as on the other
runtimes. It has the fields ``controller.service.watched.Watched`` names (last pass,
errors, metrics, readiness, listeners), so ``--listen`` serves the same endpoint and
dashboard as on the other runtimes, with ``controller.service.swarmview.SwarmView``.
Neighbours: ``controller.commands.watch`` (runs it), ``controller.execution.swarmpass``,
``runtime.registry.open_swarm``.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import structlog

from controller.execution.reconcile import Options
from controller.execution.result import PassResult, Trigger
from controller.execution.swarmpass import reconcile
from controller.service.backoff import Backoff, CrashLoops
from controller.service.gitsource import GitSource
from controller.service.journalfeed import ServiceJournal
from controller.service.listeners import Listeners
from controller.service.loop import summary
from controller.service.metrics import WatchMetrics
from controller.service.queue import ShutDown, WorkQueue
from controller.service.readiness import Readiness
from controller.service.triggers import Resync, SpecWatcher
from runtime.errors import RuntimeError_, Transient
from runtime.registry import open_swarm
from runtime.swarm.driver import SwarmDriver
from runtime.types import LABEL_PROJECT

log = structlog.get_logger("dockwright.watch")
EVENT_TYPES = frozenset({"service", "node", "container"})


class SwarmWatch:
    """Queue + worker + triggers for one project on a Swarm cluster."""

    def __init__(self, root: Path, project: str, *, resync: float = 60.0, prune: bool = True,
                 journal: ServiceJournal | None = None, base_url: str | None = None,
                 git: GitSource | None = None) -> None:
        self.config_root, self.project, self.prune = root, project, prune
        self.journal: ServiceJournal | None = journal
        self.git = git
        self.base_url = base_url
        self.queue = WorkQueue()
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.triggers: set[Trigger] = set()
        self.placement: dict[tuple[str, int], str] = {}  # (service, slot) -> node id
        self.down: set[str] = set()  # node ids known not ready
        self.passes = 0
        self.last_result: PassResult | None = None
        self.last_error: str | None = None
        self.runtime_error: str | None = None
        self.last_pass_at: float | None = None
        self.spec_dir_missing = False
        self.spec_errors: list[dict[str, Any]] = []
        # Swarm restarts and reschedules tasks itself: no crash-loop or backoff here, the
        # task table shows the failures
        self.crash_loops, self.backoff = CrashLoops(), Backoff()
        self.listeners = Listeners()  # actions as they run, passes as they end (dashboard)
        self.metrics = WatchMetrics()
        self.metrics.queue_depth.set_function(lambda: float(self.queue.depth()))
        self.ready = threading.Event()
        self.driver: SwarmDriver = open_swarm(base_url)
        self.readiness = Readiness(_Driver(self.driver), self.ready,
                                   lambda up: self.metrics.ready.set(1 if up else 0))
        self._files = SpecWatcher(root, self.enqueue) if git is None else None
        self._resync = Resync(resync, self.enqueue, self.stopping)
        self._worker = threading.Thread(target=self._work, name="dw-swarm-worker", daemon=True)
        self._events = threading.Thread(target=self._follow, name="dw-swarm-events",
                                        daemon=True)
        self._stream: Any = None

    @property
    def root(self) -> Path:
        """The spec folder: the one given, or the git source's checked-out one."""
        return self.git.spec_root if self.git is not None else self.config_root

    def enqueue(self, source: str) -> None:
        with self.lock:
            self.triggers.add(Trigger(source))
        self.metrics.triggers.labels(source=Trigger(source).value).inc()
        self.queue.add(self.project)

    def start(self) -> None:
        log.info("watch_started", project=self.project, root=str(self.root), runtime="swarm",
                 git=self.git.url if self.git else None)
        if self._files is not None:
            self._files.start()
        if self.git is not None:
            self.git.enqueue = self.enqueue
            self.git.start()
        self._resync.start()
        self._worker.start()
        self._events.start()
        if self.git is None or self.git.revision is not None:
            self.enqueue(Trigger.START)

    def stop(self, timeout: float = 10.0) -> bool:
        self.stopping.set()
        self.queue.shutdown()
        stream = self._stream
        if stream is not None:
            try:
                stream.close()
            except Exception as exc:  # a broken stream must not stop the shutdown
                log.debug("event_stream_close_failed", error=str(exc))
        if self._files is not None:
            self._files.stop()
        if self.git is not None:
            self.git.stop(timeout=1.0)
        self._worker.join(timeout)
        clean = not self._worker.is_alive()
        if clean:
            self.driver.close()
        log.info("watch_stopped", project=self.project, clean=clean)
        return clean

    # events ---------------------------------------------------------------------------
    def _follow(self) -> None:
        delay, before = 0.25, False
        while not self.stopping.is_set():
            driver = open_swarm(self.base_url)
            try:
                self._stream = driver.events()
                if before:
                    log.info("runtime_events_resubscribed", project=self.project)
                    self.enqueue(Trigger.RECONNECT)
                before, delay = True, 0.25
                for event in self._stream:
                    if event.type not in EVENT_TYPES or self.stopping.is_set():
                        continue
                    if event.type == "container" and event.action not in ("die", "oom"):
                        continue
                    log.debug("runtime_event", project=self.project, type=event.type,
                              runtime_action=event.action, name=event.name,
                              detail=event.detail)
                    self.enqueue(Trigger.RUNTIME_EVENT)
            except RuntimeError_ as exc:
                if not self.stopping.is_set():
                    log.warning("runtime_events_lost", project=self.project, error=str(exc),
                                retry_in=delay)
            finally:
                driver.close()
            self.stopping.wait(delay)
            delay = min(5.0, delay * 2)

    # the worker -------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            try:
                key = self.queue.get()
            except ShutDown:
                return
            if key is None:
                continue
            try:
                self.run_pass()
            except Exception as exc:  # a bug in one pass must not kill the service
                log.error("pass_crashed", project=self.project, error=repr(exc))
            finally:
                self.queue.done(key)

    def run_pass(self) -> None:
        if self.stopping.is_set():
            return
        revision = self.git.revision if self.git is not None else None
        if self.git is not None and revision is None:
            log.info("waiting_for_git", project=self.project, url=self.git.url)
            return
        with self.lock:
            triggers = frozenset(self.triggers) or frozenset({Trigger.RETRY})
            self.triggers = set()
        if self._files is not None:
            self._files.rearm()
        checkout = self.git.worktree if self.git is not None else None
        try:
            result = reconcile(self.root, self.driver, project=self.project, revision=revision,
                               options=Options(prune=self.prune, checkout=checkout),
                               triggers=triggers, on_event=self.listeners.progress)
        except Transient as exc:
            log.warning("runtime_unavailable", project=self.project, error=str(exc),
                        retry_in=exc.retry_after)
            self.queue.add_after(self.project, max(exc.retry_after, 1.0))
            self._failed(str(exc), "runtime_unavailable", runtime=True)
            return
        except RuntimeError_ as exc:
            log.error("pass_failed", project=self.project, error=str(exc), hint=exc.hint)
            self._failed(f"{type(exc).__name__}: {exc}", "pass")
            return
        self.metrics.record(result)
        with self.lock:
            self.passes += 1
            self.last_result, self.last_error, self.runtime_error = result, None, None
            self.last_pass_at = time.time()
            self.spec_errors = [e.as_json() for e in result.spec_errors]
        self.ready.set()
        self.readiness.passed()
        for o in result.acted:
            (log.info if o.ok else log.warning)(
                "action", project=self.project, resource=o.resource, action=o.kind.value,
                object=o.action.object, cause=o.cause.value, reason=o.action.reason,
                ok=o.ok, error=o.failure.message if o.failure else None)
        for f in result.failures:
            log.warning("not_converged", project=self.project, resource=f.resource,
                        error=f.failure.message)
        log.info("pass", project=self.project, changed=result.changed,
                 failed=len(result.failures), triggers=sorted(t.value for t in triggers),
                 duration=round(result.duration, 3))
        if self.journal is not None:
            self.journal.record(result, self.root, {}, {})
        self.placements()
        self.listeners.finished(result)

    def _failed(self, message: str, kind: str, *, runtime: bool = False) -> None:
        self.metrics.errors.labels(kind=kind).inc()
        self.metrics.passes.labels(result="error").inc()
        with self.lock:
            if runtime:
                self.runtime_error = message
            else:
                self.last_error = message
            self.last_pass_at = time.time()
        if runtime:
            self.readiness.failed(message)
        self.listeners.finished(None)

    # what ``--listen`` shows (controller.service.watched.Watched) ----------------------
    def quarantined(self) -> list[str]:
        return sorted({str(e["file"]) for e in self.spec_errors if e.get("file")})

    def watch_status(self) -> dict[str, Any]:
        with self.lock:
            last = self.last_result
            return {
                "project": self.project, "runtime": "swarm", "ready": self.ready.is_set(),
                "passes": self.passes, "last_pass_at": self.last_pass_at,
                "last_error": self.last_error, "runtime_error": self.runtime_error,
                "spec_dir": str(self.root), "spec_dir_missing": False,
                "revision": self.git.revision if self.git else None,
                "git": self.git.status() if self.git else None,
                "quarantined_files": self.quarantined(), "spec_errors": list(self.spec_errors),
                "frozen": sorted(f"{k}.{n}" for k, n in last.frozen) if last else [],
                "backoffs": {}, "crash_loops": {}, "queue_depth": self.queue.depth(),
                "nodes_down": sorted(self.down),
                "last_result": summary(last) if last is not None else None,
                "journal": self.journal.health().to_json() if self.journal else None,
            }

    def placements(self) -> None:
        """Log nodes that went down and task slots that moved to another node."""
        try:
            nodes = {n.id: n for n in self.driver.nodes()}
            services = {s.id: s.spec.name for s in self.driver.list_services(
                {LABEL_PROJECT: self.project})}
            tasks = self.driver.tasks(labels={LABEL_PROJECT: self.project}) if services else []
        except RuntimeError_ as exc:
            log.debug("placement_unknown", error=str(exc))
            return
        down = {i for i, n in nodes.items() if n.state != "ready"}
        for node_id in sorted(down - self.down):
            log.warning("node_down", project=self.project, node=nodes[node_id].hostname,
                        node_id=node_id, state=nodes[node_id].state)
        for node_id in sorted(self.down - down):
            if node_id in nodes:
                log.info("node_ready", project=self.project, node=nodes[node_id].hostname,
                         node_id=node_id)
        self.down = down
        now: dict[tuple[str, int], str] = {}
        for t in tasks:
            if t.service_id in services and t.desired_state == "running" and t.slot:
                now[(services[t.service_id], t.slot)] = t.node_id
        for key, node_id in sorted(now.items()):
            before = self.placement.get(key)
            if before is not None and before != node_id:
                log.warning("task_rescheduled", project=self.project, service=key[0],
                            slot=key[1], from_node=before, to_node=node_id,
                            node_down=before in down)
        # a slot with no task meant to run (a replacement waits out its restart delay
        # with desired state "ready") keeps its last node, so the move is still seen
        kept = {k: v for k, v in self.placement.items()
                if k not in now and k[0] in services.values()}
        self.placement = {**kept, **now}


class _Driver:
    """The readiness probe's handle: the watch's own driver (safe to share between
    threads; each call opens its connection as needed)."""

    def __init__(self, driver: SwarmDriver) -> None:
        self.driver = driver

    def get(self) -> SwarmDriver:
        return self.driver

    def invalidate(self, driver: Any, exc: BaseException) -> None:
        log.debug("swarm_ping_failed", error=str(exc))
