"""What wakes the watch service: spec-file changes, runtime events, a resync timer.

Role: every trigger only enqueues the project key (principle 1); none of them
carries what changed. :class:`SpecWatcher` runs a watchdog observer on the spec
directory and debounces bursts (an editor's save dance, ``git checkout``) into
one enqueue after a quiet period, capped so that a continuous stream of writes
still gives a pass. :class:`EventWatcher` follows the runtime's container
events for the project (die/stop/kill/oom/destroy/health_status, and the
in-place changes update/pause/unpause/network connect/disconnect), also of the
containers adopted from docker-compose (``controller.planning.adoption``: they
keep compose's labels), and re-subscribes after the runtime comes back; a death
waits in ``controller.service.deathwatch`` until the runtime shows it stopped.
:class:`Resync` enqueues periodically as a safety net. Neighbours:
``controller.service.queue`` (the target), ``controller.service.loop`` (starts
and stops these; provides the driver handle), ``runtime.driver.Driver.events``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path, PurePath
from typing import Any

import structlog

from controller.planning.adoption import RecordedIds
from controller.planning.plan import Plan
from controller.service.deathwatch import DeathWatch, DriverHandle
from runtime.driver import Driver
from runtime.errors import RuntimeError_
from runtime.types import LABEL_PROJECT, LABEL_RESOURCE

log = structlog.get_logger("dockwright.watch")

Enqueue = Callable[[str], None]  # called with the trigger's source name
RUNTIME_ACTIONS = frozenset({"die", "stop", "kill", "oom", "destroy", "health_status",
                             # changed in place by hand: the pass compares the live value
                             "update", "pause", "unpause", "connect", "disconnect"})
# Docker emits "die" before it marks the container stopped (network teardown comes
# first, and takes long on a busy host), so a pass right after the event can still
# see it running: DeathWatch enqueues again once the runtime shows it stopped.
DEATHS = frozenset({"die", "kill", "stop", "oom"})
_TEMP_SUFFIXES = ("~", ".swp", ".swx", ".swo", ".tmp", ".part", ".bak", ".orig", ".kate-swp")
_TEMP_NAMES = frozenset({"4913"})  # vim's write test


def ignored(path: str, root: Path) -> bool:
    """Hidden files/folders and editor temp files do not trigger a pass.

    ``<root>/.env`` does (the loader interpolates from it).
    """
    try:
        rel = PurePath(path).relative_to(root)
    except ValueError:
        rel = PurePath(PurePath(path).name)
    if rel.parts == (".env",):
        return False
    if any(part.startswith(".") for part in rel.parts):
        return True
    name = rel.name
    return (
        name in _TEMP_NAMES
        or name.endswith(_TEMP_SUFFIXES)
        or (name.startswith("#") and name.endswith("#"))
    )


class Debouncer:
    """Calls ``fire()`` once after ``quiet`` s without pokes, at most ``cap`` s after the first."""

    def __init__(self, fire: Callable[[], None], quiet: float = 0.15, cap: float = 1.0) -> None:
        self._fire, self.quiet, self.cap = fire, quiet, cap
        self._cond = threading.Condition()
        self._first: float | None = None
        self._last = 0.0
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="dw-debounce", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        with self._cond:
            now = time.monotonic()
            if self._first is None:
                self._first = now
            self._last = now
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        with self._cond:
            while not self._stopped:
                if self._first is None:
                    self._cond.wait()
                    continue
                due = min(self._last + self.quiet, self._first + self.cap)
                wait = due - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                self._first = None
                self._cond.release()
                try:
                    self._fire()
                finally:
                    self._cond.acquire()


def referenced(plan: Plan, root: Path) -> frozenset[Path]:
    """Files and folders outside the spec files that a pass read on the specs' behalf:
    env files, secret files, secrets and configs, build contexts and image archives
    (resolved paths)."""
    out: set[Path] = set()
    for action in plan.actions:
        c = action.container
        if c is None:
            continue
        for what, _ in c.files:
            _, _, rel = what.partition(":")
            if rel:
                out.add(_resolved(root / rel))
        for path in (c.image.context, c.image.archive, *c.placed_from):
            if path:
                out.add(_resolved(root / path))
    return frozenset(out)


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:  # a loop of links: keep it as written
        return path


class SpecWatcher:
    """Watchdog observers on the spec directory, debounced into ``enqueue("files")``.

    ``root`` is kept as given (a symlink stays a symlink): :meth:`rearm` follows it anew
    (a link swapped with ``mv -T``, as git-sync and config mounts do) and notices a
    directory removed and made again (a new inode), moving the recursive watch to what
    ``root`` is now. A second, flat watch on ``root``'s parent sees the swap or the
    re-creation as it happens (while ``root`` is a dangling link, any entry made there
    may be its target coming back). Only events that can change a pass count: spec files
    (``*.toml`` outside hidden folders), ``<root>/.env``, and the files a pass read
    for the specs (:meth:`set_references`: env files, secrets, build contexts,
    archives); a log file or an editor's swap file written into the directory does not.
    """

    def __init__(self, root: Path, enqueue: Enqueue, quiet: float = 0.15, cap: float = 1.0) -> None:
        from watchdog.observers import Observer

        self.root = root if root.is_absolute() else Path.cwd() / root
        self._debouncer = Debouncer(lambda: enqueue("files"), quiet, cap)
        self._lock = threading.Lock()
        self._refs: frozenset[Path] = frozenset()
        self._ref_dirs: tuple[Path, ...] = ()
        self.target: Path | None = None  # the directory the recursive watch is on
        self._identity: tuple[int, int] | None = None
        self._watch: Any = None
        self._observer: Any = Observer()
        self._observer.schedule(_handler(self._on_parent_event), str(self.root.parent),
                                recursive=False)
        self._arm()

    # what is watched -------------------------------------------------------------------
    def _now(self) -> tuple[Path, tuple[int, int]] | None:
        try:
            target = self.root.resolve(strict=True)
            st = target.stat()
        except (OSError, RuntimeError):
            return None
        return (target, (st.st_dev, st.st_ino)) if target.is_dir() else None

    def _arm(self) -> bool:
        """Put the recursive watch on what ``root`` is now; True when that changed."""
        now = self._now()
        with self._lock:
            if now is not None and (now[0], now[1]) == (self.target, self._identity):
                return False
            if now is None and self.target is None:
                return False
            if self._watch is not None:
                with contextlib.suppress(KeyError, OSError):
                    self._observer.unschedule(self._watch)
                self._watch = None
            self.target, self._identity = (now[0], now[1]) if now else (None, None)
            if self.target is not None:
                try:
                    self._watch = self._observer.schedule(
                        _handler(self._on_event), str(self.target), recursive=True)
                except OSError as exc:  # gone again meanwhile: the next rearm retries
                    log.debug("spec_watch_failed", path=str(self.target), error=str(exc))
                    self.target, self._identity = None, None
        log.info("spec_dir_rearmed", root=str(self.root),
                 target=str(self.target) if self.target else None)
        return True

    def rearm(self) -> bool:
        """Follow ``root`` again (each pass calls this); True when the watch moved."""
        return self._arm()

    def set_references(self, paths: frozenset[Path]) -> None:
        """The files and folders the last pass read for the specs."""
        with self._lock:
            self._refs = paths
            self._ref_dirs = tuple(p for p in paths if p.is_dir())

    # events -----------------------------------------------------------------------------
    def relevant(self, path: str) -> bool:
        """Whether a change of ``path`` (under the watched directory) can change a pass."""
        with self._lock:
            target, refs, ref_dirs = self.target, self._refs, self._ref_dirs
        p = Path(path)
        if p in refs or any(p.is_relative_to(d) for d in ref_dirs):
            return True
        if target is None or ignored(path, target):
            return False
        try:
            rel = p.relative_to(target)
        except ValueError:
            return False
        return rel.parts == (".env",) or p.suffix == ".toml"

    def _on_event(self, event: Any) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        if event.is_directory and event.event_type in ("modified", "created"):
            return  # files made inside it have events of their own
        paths = [str(p) for p in (event.src_path, getattr(event, "dest_path", "")) if p]
        if event.is_directory:  # moved or deleted: spec files may have gone with it
            wanted = any(not ignored(p, self.target or self.root) for p in paths)
        else:
            wanted = any(self.relevant(p) for p in paths)
        if not wanted:
            return
        log.debug("spec_file_event", kind=event.event_type, path=str(event.src_path))
        self._debouncer.poke()

    def _on_parent_event(self, event: Any) -> None:
        """An event in ``root``'s parent: the link swapped, the directory removed or made."""
        names = {Path(str(p)).name for p in (event.src_path, getattr(event, "dest_path", ""))
                 if p}
        if event.event_type in ("opened", "closed_no_write"):
            return
        if self.root.name not in names and self.target is not None:
            return  # while a link dangles, a sibling made again may be its target
        if self._arm():
            self._debouncer.poke()

    def start(self) -> None:
        self._observer.start()

    def stop(self) -> None:
        self._observer.stop()
        self._observer.join(timeout=2)
        self._debouncer.stop()


def _handler(on_event: Callable[[Any], None]) -> Any:
    """A watchdog event handler that hands every event to ``on_event``."""
    from watchdog.events import FileSystemEvent, FileSystemEventHandler

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            on_event(event)

    return Handler()


class EventWatcher:
    """Follows the project's container events; re-subscribes when the stream breaks."""

    def __init__(self, project: str, handle: DriverHandle, enqueue: Enqueue,
                 stopping: threading.Event, retry_cap: float = 5.0) -> None:
        self.project, self._handle, self._enqueue = project, handle, enqueue
        self._adopted: RecordedIds | None = None  # per runtime: set at the first subscribe
        self._deaths = DeathWatch(project, handle, enqueue, stopping, self.adopted)
        self._stopping = stopping
        self.retry_cap = retry_cap
        self._stream: Any = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="dw-events", daemon=True)

    def adopted(self) -> frozenset[str]:
        """Ids of the project's containers that carry another tool's labels."""
        return self._adopted() if self._adopted is not None else frozenset()

    def start(self) -> None:
        self._thread.start()
        self._deaths.start()

    def stop(self) -> None:
        self._deaths.stop()
        with self._lock:
            stream = self._stream
        if stream is not None:
            try:
                stream.close()
            except Exception as exc:  # closing a broken stream must not stop shutdown
                log.debug("event_stream_close_failed", error=str(exc))
        self._thread.join(timeout=2)

    def _run(self) -> None:
        delay, subscribed_before, failures = 0.25, False, 0
        while not self._stopping.is_set():
            driver: Driver | None = None
            try:
                driver = self._handle.get()
                if self._adopted is None or self._adopted.runtime != driver.name:
                    self._adopted = RecordedIds(driver.name, self.project)
                stream = driver.events(labels={LABEL_PROJECT: self.project},
                                       ids=self._adopted)
                with self._lock:
                    self._stream = stream
                if self._stopping.is_set():
                    stream.close()
                    return
                if subscribed_before:  # events were missed while away: converge
                    log.info("runtime_events_resubscribed", project=self.project)
                    self._enqueue("reconnect")
                subscribed_before, delay, failures = True, 0.25, 0
                for event in stream:
                    action = event.action.split(":")[0]
                    if action in RUNTIME_ACTIONS:
                        log.debug("runtime_event", project=self.project,
                                  runtime_action=event.action, container=event.name,
                                  resource=dict(event.labels).get(LABEL_RESOURCE))
                        if action in DEATHS:  # pass once the runtime shows it stopped
                            self._deaths.add(event.container_id)
                        else:
                            self._enqueue("runtime")
                if self._stopping.is_set():
                    return
                raise RuntimeError_("the runtime closed the event stream")
            except Exception as exc:  # any failure: back off, re-create the driver
                if self._stopping.is_set():
                    return
                failures += 1
                # the first failure of a streak is a warning; the retries are debug noise
                (log.warning if failures == 1 else log.debug)(
                    "runtime_events_lost", project=self.project, error=str(exc),
                    retry_in=delay, failures=failures)
                if driver is not None:
                    self._handle.invalidate(driver, exc)
                self._stopping.wait(delay)
                delay = min(self.retry_cap, delay * 2)


class Resync:
    """Enqueues every ``interval`` seconds (0 disables it)."""

    def __init__(self, interval: float, enqueue: Enqueue, stopping: threading.Event) -> None:
        self.interval, self._enqueue, self._stopping = interval, enqueue, stopping
        self._thread = threading.Thread(target=self._run, name="dw-resync", daemon=True)

    def start(self) -> None:
        if self.interval > 0:
            self._thread.start()

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            self._enqueue("resync")
