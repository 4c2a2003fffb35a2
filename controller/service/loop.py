"""The watch service: one worker that runs reconcile passes for one project.

Role: glue of ``dockwright watch``. Triggers (``controller.service.triggers``,
``controller.service.gitsource``) put the project key into a coalescing
``controller.service.queue.WorkQueue``; the worker pops it and runs one
level-triggered ``controller.execution.reconcile.reconcile`` pass, leaving alone the
resources in backoff (``Options.skip``, from ``controller.service.backoff``). It reads
the pass's typed result (``controller.execution.result.PassResult``; never message
text): records it for ``controller.service.httpd`` (``/status``, ``/metrics`` via
``controller.service.metrics``), logs each action with its cause
(``controller.service.passlog``), turns classified failures into per-resource
backoff and containers started again after they died (cause ``DRIFT``) into
crash-loop detection, schedules the retries, and hands the result to the journal
(``controller.service.journalfeed``), to its listeners
(``controller.service.listeners``: the dashboard, told of each action as it starts
too) and to ``on_pass`` (the in-process tests). When the runtime goes away
(``runtime.errors.Unavailable``) it logs, backs off, re-creates the driver
(``controller.service.runtimehandle``; the event stream follows) and converges when
it comes back. ``stop()`` ends it cleanly: no new pass starts, the in-flight one may
finish within the stop timeout and is otherwise abandoned (the next start
converges); containers keep running. Neighbours: ``controller.commands.watch``
builds and runs it under ``controller.service.lock.project_lock``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from controller.execution.reconcile import Options, reconcile
from controller.execution.result import PassResult, Trigger
from controller.service.backoff import Backoff, CrashLoops
from controller.service.gitsource import GitSource
from controller.service.journalfeed import ServiceJournal
from controller.service.listeners import Listeners
from controller.service.metrics import WatchMetrics
from controller.service.passlog import log_actions, log_pass
from controller.service.queue import ShutDown, WorkQueue
from controller.service.readiness import Readiness
from controller.service.runtimehandle import RuntimeHandle
from controller.service.triggers import EventWatcher, Resync, SpecWatcher, referenced
from runtime.driver import Driver
from runtime.errors import Transient, Unavailable

log = structlog.get_logger("dockwright.watch")

RUNTIME_RETRY_CAP = 10.0
OnPass = Callable[[PassResult], None]


@dataclass
class WatchConfig:
    root: Path | None  # the spec directory (None: the git source's work tree)
    project: str
    resync: float = 60.0
    stop_timeout: float = 10.0
    prune: bool = True
    debounce: float = 0.15


class WatchService:
    """Queue + worker + triggers for one project; :meth:`run` blocks until :meth:`stop`."""

    def __init__(self, config: WatchConfig, driver_factory: Callable[[], Driver], *,
                 git: GitSource | None = None, backoff: Backoff | None = None,
                 crash_loops: CrashLoops | None = None, on_pass: OnPass | None = None,
                 journal: ServiceJournal | None = None) -> None:
        self.config, self.project, self.git = config, config.project, git
        self.handle = RuntimeHandle(driver_factory)
        self.queue = WorkQueue()
        self.backoff = backoff or Backoff()
        self.crash_loops = crash_loops or CrashLoops()
        self.on_pass = on_pass  # told of every finished pass (tests)
        self.listeners = Listeners()  # actions as they run, passes as they end (dashboard)
        self.journal = journal  # records every finished pass (controller.service.journalfeed)
        self.metrics = WatchMetrics()
        self.metrics.queue_depth.set_function(lambda: float(self.queue.depth()))
        self.metrics.backoffs.set_function(lambda: float(len(self.backoff.known())))
        self.metrics.crash_loops.set_function(lambda: float(len(self.crash_loops.looping())))
        self.stopping = threading.Event()
        self.ready = threading.Event()
        self.lock = threading.Lock()  # guards the fields below
        self.last_result: PassResult | None = None
        self.last_error: str | None = None
        self.last_pass_at: float | None = None
        self.runtime_error: str | None = None
        self.passes = 0
        self.spec_dir_missing = False
        self.spec_errors: list[dict[str, Any]] = []
        self.frozen: list[str] = []
        self._triggers: set[Trigger] = set()
        self._in_sync: frozenset[str] = frozenset()  # containers in sync after the last pass
        self._spec_error_key: tuple[str, ...] = ()
        self._runtime_delay = 0.5
        self._retry_due: float | None = None  # monotonic time of the next backoff retry
        self._worker = threading.Thread(target=self._work, name="dw-worker", daemon=True)
        self._busy = threading.Event()
        self.readiness = Readiness(self.handle, self.ready,
                                   lambda up: self.metrics.ready.set(1 if up else 0))
        self._events = EventWatcher(self.project, self.handle, self.enqueue, self.stopping)
        self._resync = Resync(config.resync, self.enqueue, self.stopping)
        self._files: SpecWatcher | None = None

    # triggers ---------------------------------------------------------------------
    @property
    def root(self) -> Path:
        if self.git is not None:
            return self.git.spec_root
        assert self.config.root is not None
        return self.config.root

    def enqueue(self, source: str) -> None:
        """A trigger fired (``source``: a :class:`Trigger` value): remember why and queue
        the project (coalesced)."""
        trigger = Trigger(source)
        self.metrics.triggers.labels(source=trigger.value).inc()
        with self.lock:
            self._triggers.add(trigger)
        self.queue.add(self.project)

    # lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        log.info("watch_started", project=self.project, root=str(self.root),
                 resync=self.config.resync, git=self.git.url if self.git else None)
        if self.git is None:
            self._files = SpecWatcher(self.root, self.enqueue, quiet=self.config.debounce)
            self._files.start()
        else:
            self.git.enqueue = self.enqueue
            self.git.start()
        self._events.start()
        self._resync.start()
        self._worker.start()
        if self.git is None or self.git.revision is not None:
            self.enqueue(Trigger.START)

    def stop(self) -> bool:
        """Stop triggers and the worker; True when no pass was abandoned."""
        self.stopping.set()
        self.queue.shutdown()
        busy = self._busy.is_set()
        if busy:
            log.info("watch_stopping", project=self.project, waiting_for="in-flight pass",
                     timeout=self.config.stop_timeout)
        self._worker.join(timeout=self.config.stop_timeout)
        clean = not self._worker.is_alive()
        if not clean:
            log.warning("pass_abandoned", project=self.project,
                        hint="the next start converges what this pass left undone")
        if self._files is not None:
            self._files.stop()
        self._events.stop()
        if self.git is not None:
            self.git.stop(timeout=1.0)
        if clean:
            self.handle.close()
        log.info("watch_stopped", project=self.project, clean=clean)
        return clean

    # the worker -------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            try:
                key = self.queue.get()
            except ShutDown:
                return
            if key is None:
                continue
            self._busy.set()
            try:
                self.run_pass(key)
            except Exception as exc:  # a bug in one pass must not kill the service
                self._record_error("pass_crashed", exc, key)
            finally:
                self._busy.clear()
                self.queue.done(key)

    def run_pass(self, key: str) -> None:
        """One reconcile pass of the project, with bookkeeping."""
        if self.stopping.is_set():
            return
        revision = self.git.revision if self.git is not None else None
        if self.git is not None and revision is None:
            log.info("waiting_for_git", project=self.project, url=self.git.url)
            return
        with self.lock:
            triggers = frozenset(self._triggers) or frozenset({Trigger.RETRY})
            self._triggers = set()
        for resource in self.crash_loops.settle():
            self.backoff.success(resource)
            log.info("crash_loop_cleared", project=self.project, resource=resource)
        skip = self.backoff.active()
        retried = self.backoff.known() - skip
        if self._files is not None:
            self._files.rearm()  # a swapped link or a re-made directory: watch what is there now
        if not self.root.is_dir():
            self._spec_dir_missing()
            return
        driver: Driver | None = None
        try:
            driver = self.handle.get()
            result = reconcile(
                self.root, driver, project=self.project, revision=revision,
                options=Options(prune=self.config.prune, skip=skip,
                                checkout=self.git.worktree if self.git is not None else None),
                on_event=self._on_event, triggers=triggers, in_sync_before=self._in_sync,
            )
        except Transient as exc:
            self._runtime_unavailable(exc, key, driver)
            return
        except Exception as exc:
            self._record_error("pass_failed", exc, key)
            return
        with self.lock:
            self.spec_dir_missing = False
        if self._files is not None:
            self._files.set_references(referenced(result.plan, self.root))
        self._record(result, key, skip, retried)

    def _on_event(self, event: dict[str, Any]) -> None:
        """Progress from ``reconcile``: a debug line when an action starts (the finished
        ones are logged from the typed result)."""
        if event.get("event") == "action" and event.get("phase") == "start":
            log.debug("action_started", **{k: v for k, v in event.items()
                                           if k not in ("event", "phase")})
        self.listeners.progress(event)

    # bookkeeping --------------------------------------------------------------------
    def _spec_dir_missing(self) -> None:
        """The spec directory is gone (removed, or a link to nothing): every container keeps
        running as it is; nothing is pruned; the pass after it comes back converges."""
        message = (f"spec directory {self.root} is missing: containers are kept as they "
                   "run until it is back")
        with self.lock:
            first = self.last_error != message
            self.last_error = message
            self.spec_dir_missing = True
        if first:
            log.warning("spec_dir_missing", project=self.project, root=str(self.root),
                        hint="restore the directory (or the link); the watch re-arms itself")
            self.listeners.finished(None)

    def _runtime_unavailable(self, exc: Transient, key: str, driver: Driver | None) -> None:
        delay = self._runtime_delay
        self._runtime_delay = min(RUNTIME_RETRY_CAP, self._runtime_delay * 2)
        with self.lock:
            first, self.runtime_error = self.runtime_error is None, str(exc)
        self.metrics.errors.labels(kind="runtime_unavailable").inc()
        self.metrics.passes.labels(result="error").inc()
        (log.warning if first else log.debug)(  # one warning per outage, retries at debug
            "runtime_unavailable", project=self.project, error=str(exc), retry_in=delay)
        if driver is not None:  # the next pass re-creates the driver (a fresh connection)
            self.handle.invalidate(driver, exc)
        if isinstance(exc, Unavailable):
            self.readiness.failed(str(exc))
        if first:
            self.listeners.finished(None)
        self.queue.add_after(key, delay)

    def _record_error(self, event: str, exc: Exception, key: str) -> None:
        delay = self.backoff.failure(f"project:{self.project}", f"{type(exc).__name__}: {exc}")
        with self.lock:
            self.last_error = f"{type(exc).__name__}: {exc}"
            self.last_pass_at = time.time()
        self.metrics.errors.labels(kind="pass").inc()
        self.metrics.passes.labels(result="error").inc()
        log.error(event, project=self.project, error=self.last_error, retry_in=delay,
                  exc_info=event == "pass_crashed")
        self.listeners.finished(None)
        self.queue.add_after(key, delay)

    def _record(self, result: PassResult, key: str, skip: frozenset[str],
                retried: frozenset[str]) -> None:
        """Turn one typed pass result into drift, crash-loop and backoff accounting,
        metrics, log events and the state ``/status`` shows."""
        if self.runtime_error is not None:
            log.info("runtime_reconnected", project=self.project)
        self._runtime_delay = 0.5
        self.backoff.success(f"project:{self.project}")
        rid = result.reconcile_id
        # containers this pass did not look at (in backoff), or failed to change (e.g. a
        # start of one being removed by hand), keep what was known of them: a create that
        # puts such a one back is still drift
        unsure = skip | {f.resource for f in result.failures}
        self._in_sync = result.in_sync() | (self._in_sync & unsure)
        log_actions(result, self.project)
        for resource in sorted({o.resource for o in result.acted if o.healed}):
            if self.crash_loops.restarted(resource):
                delay = self.backoff.failure(resource, "crash-looping")
                log.warning("crash_loop", reconcile_id=rid, project=self.project,
                            resource=resource, retry_in=delay,
                            restarts=self.crash_loops.snapshot().get(resource, {}))
        for failed in result.failures:
            delay = self.backoff.failure(failed.resource, failed.failure.message,
                                         at_least=failed.failure.retry_after or 0.0)
            log.warning("resource_backoff", reconcile_id=rid, project=self.project,
                        resource=failed.resource, error=failed.failure.message,
                        error_kind=failed.failure.kind.value, retry_in=delay)
        done = {o.resource for o in result.acted if o.ok}
        unsettled = {f.resource for f in result.failures} | self.crash_loops.looping()
        for resource in (retried | done) - unsettled:
            if self.backoff.success(resource):
                log.info("backoff_reset", project=self.project, resource=resource)
        self._schedule_retry(key, skip)
        self._note_spec_errors(result, rid)
        self.metrics.record(result)
        with self.lock:
            self.last_result, self.last_error, self.runtime_error = result, None, None
            self.last_pass_at = time.time()
            self.passes += 1
        if not self.ready.is_set():
            self.ready.set()
        self.readiness.passed()
        log_pass(result, self.project, skip)
        if self.journal is not None:
            self.journal.record(result, self.root, self.backoff.snapshot(),
                                self.crash_loops.snapshot())
        self.listeners.finished(result)
        if self.on_pass is not None:
            self.on_pass(result)

    def _schedule_retry(self, key: str, skipped: frozenset[str]) -> None:
        """One delayed pass when the earliest backoff ends (not one per pass and resource).

        Resources whose delay is over were tried in this pass; only those still
        waiting, or skipped by this pass, need one.
        """
        waits = [w for r in self.backoff.known()
                 if (w := self.backoff.remaining(r)) > 0 or r in skipped]
        if not waits:
            return
        due = time.monotonic() + min(waits) + 0.05
        if self._retry_due is None or self._retry_due < time.monotonic() or due < self._retry_due:
            self._retry_due = due
            self.queue.add_after(key, due - time.monotonic())

    def _note_spec_errors(self, result: PassResult, rid: str) -> None:
        errors = list(result.spec_errors)
        frozen = sorted(f"{k}.{n}" for k, n in result.frozen)
        with self.lock:
            self.spec_errors = [e.as_json() for e in errors]
            self.frozen = frozen
        key = tuple(sorted(e.format() for e in errors))
        if key == self._spec_error_key:
            return
        self._spec_error_key = key
        if key:
            self.metrics.errors.labels(kind="spec").inc()
            log.warning("spec_invalid", reconcile_id=rid, project=self.project,
                        errors=list(key), frozen=frozen,
                        hint="fix the file; its resources keep running as they are")
        else:
            log.info("spec_valid", reconcile_id=rid, project=self.project)

    # views for controller.service.httpd ------------------------------------------------------
    def quarantined(self) -> list[str]:
        return sorted({str(e["file"]) for e in self.spec_errors if e.get("file")})

    def watch_status(self) -> dict[str, Any]:
        with self.lock:
            return {
                "project": self.project, "ready": self.ready.is_set(), "passes": self.passes,
                "last_pass_at": self.last_pass_at, "last_error": self.last_error,
                "runtime_error": self.runtime_error,
                "spec_dir": str(self.root), "spec_dir_missing": self.spec_dir_missing,
                "revision": self.git.revision if self.git else None,
                "git": self.git.status() if self.git else None,
                "quarantined_files": self.quarantined(),
                "spec_errors": list(self.spec_errors),
                "frozen": list(self.frozen),
                "backoffs": self.backoff.snapshot(),
                "crash_loops": self.crash_loops.snapshot(),
                "queue_depth": self.queue.depth(),
                "last_result": summary(self.last_result) if self.last_result else None,
                "journal": self.journal.health().to_json() if self.journal else None,
            }


def summary(result: PassResult) -> dict[str, Any]:
    """The last pass for ``/status``: small (no plan), only the actions that did something."""
    summary = {k: v for k, v in result.to_json().items() if k not in ("plan", "outcomes")}
    summary["outcomes"] = [o.to_json() for o in result.acted]
    return summary
