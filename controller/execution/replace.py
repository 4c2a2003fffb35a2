"""Replacing a running container by a new one without ever leaving nothing running.

Role: the recreate of ``controller.execution.apply``, in the container's ``update_order``:

- ``stop-first`` (the default, as docker-compose does it): the old container is
  renamed aside and stopped (gracefully: databases flush on SIGTERM) while the
  new one is created, then the new one starts and the old one is removed. On a
  failure the new one is removed and the old one renamed back and restarted.
- ``start-first`` (no downtime, for stateless containers; validation refuses it
  with a fixed host port or writable volumes): the old container keeps running,
  renamed aside, while the new one is created and started and, when it has a
  healthcheck, becomes healthy (else it must still run after
  :data:`SETTLE` seconds); only then is the old one stopped and removed. On a
  failure the new one is removed and the old one, never stopped, gets its name
  back. A container with anonymous volumes is always replaced stop-first.

Either way the new container mounts the old one's anonymous volumes
(``controller.planning.anonymous``) and no volume is ever removed. A replacement
that an earlier pass began and did not finish (killed after the rename:
``controller.planning.recovery`` plans it with a ``Resume``) goes on stop-first
from where it stopped: the old container, already aside, stops; the copy made
under the declared name starts (or is made again when it does not match the
spec); the old one is removed once the new one runs, and is put back (renamed,
restarted) if the new one fails. Stops and starts go through
``controller.execution.lifecycle`` (notices while a stop waits; a start refused
because of stale runtime state is repaired). Neighbours:
``controller.execution.apply`` (the executor, whose ``create_new`` and waits it uses),
``controller.execution.waits``, a ``runtime.driver.Driver``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from controller.desired import naming
from controller.execution import lifecycle
from controller.execution.waits import wait_for
from runtime.errors import NotFound, RuntimeError_
from runtime.types import ContainerInfo, State

if TYPE_CHECKING:
    from controller.desired.state import DesiredContainer
    from controller.execution.lifecycle import Notify
    from controller.execution.waits import Poller
    from controller.planning.actions import Resume
    from controller.planning.plan import Plan
    from runtime.driver import Driver

SETTLE = 1.0  # start-first without a healthcheck: the new container must still run after this


class ActionFailed(Exception):
    """An action could not complete; the message names the object and the cause."""


class Executor(Protocol):
    """What a replace needs of the executor (``controller.execution.apply.Executor``)."""

    driver: Driver
    plan: Plan
    poller: Poller
    notify: Notify | None

    def create(self, c: DesiredContainer) -> tuple[str, str]: ...

    def create_new(self, c: DesiredContainer, old: ContainerInfo | None = None) -> str: ...


def replace_container(ex: Executor, c: DesiredContainer, old: str, was_running: bool,
                      resume: Resume | None = None) -> str:
    """Replace container ``old`` (its id) by a new one built from ``c``; returns a note for
    the outcome. ``resume``: an interrupted replacement to finish (``old`` is aside
    already; the copy it created under the declared name is started or created again)."""
    aside = f"{c.name}{naming.OLD_SUFFIX}-{old[:12]}"
    driver = ex.driver
    new_id: str | None = None
    try:
        live = driver.inspect_container(old)  # its anonymous volumes are carried over
        if resume is None:
            driver.rename_container(old, aside)  # allowed while it runs
        else:
            aside = resume.old_name
    except NotFound:
        ex.create(c)
        return ""
    if resume is not None and resume.new_id is not None:
        if resume.reuse:
            new_id = resume.new_id
        else:  # made from an older spec and never started: its volumes are the old one's
            with contextlib.suppress(NotFound):
                driver.remove_container(resume.new_id, force=True)
    if (c.update_order == "start-first" and was_running and c.state == "running"
            and not live.anonymous_volumes and resume is None):
        _start_first(ex, c, old, aside, live)
        note = ""
    else:
        restart = was_running or (resume is not None and c.state == "running")
        note = _stop_first(ex, c, old, aside, live, restart, new_id)
    with contextlib.suppress(NotFound):
        driver.remove_container(old, force=True)
    return note


def _stop_first(ex: Executor, c: DesiredContainer, old: str, aside: str, live: ContainerInfo,
                restart: bool, new_id: str | None) -> str:
    """The new container (``new_id``, else created now) starts once the old one stopped; on
    a failure the old one gets its name back (and runs again when ``restart``)."""
    driver = ex.driver
    timeout = c.config.stop_timeout
    stopping = _Background(lambda: lifecycle.stop(driver, old, c.name, timeout, ex.notify))
    note = ""
    try:
        if new_id is None:
            new_id = ex.create_new(c, live)
        stopping.result()  # ports and volumes are free only once the old one stopped
        if c.state == "running":
            new_id, note = lifecycle.start(ex, c, new_id)
    except (RuntimeError_, ActionFailed) as exc:
        stopping.result(swallow=True)
        try:
            _put_back(ex, c, old, new_id, restart=restart)
        except RuntimeError_ as restore_exc:
            raise ActionFailed(f"container {c.name} was not replaced: {exc}; restoring the "
                               f"old container {aside} also failed: {restore_exc}") from exc
        raise ActionFailed(f"container {c.name} was not replaced: {exc}; the old container "
                           "was restored") from exc
    return note


def _start_first(ex: Executor, c: DesiredContainer, old: str, aside: str,
                 live: ContainerInfo) -> None:
    driver = ex.driver
    new_id: str | None = None
    try:
        new_id = ex.create_new(c, live)
        new_id, _ = lifecycle.start(ex, c, new_id)
        ex.poller.invalidate()
        if c.config.healthcheck is not None:
            wait_for(driver, ex.plan.project, c.name, "healthy", c, poller=ex.poller)
        else:
            _still_running(ex, c.name, new_id)
    except (RuntimeError_, ActionFailed) as exc:
        try:
            _put_back(ex, c, old, new_id, restart=False)  # it never stopped
        except RuntimeError_ as restore_exc:
            raise ActionFailed(f"container {c.name} was not replaced: {exc}; the old container "
                               f"still runs, as {aside}: giving it its name back failed: "
                               f"{restore_exc}") from exc
        raise ActionFailed(f"container {c.name} was not replaced: {exc}; the old container "
                           "kept running (start-first)") from exc
    with contextlib.suppress(NotFound):
        lifecycle.stop(driver, old, c.name, c.config.stop_timeout, ex.notify)


def _put_back(ex: Executor, c: DesiredContainer, old: str, new_id: str | None, *,
              restart: bool) -> None:
    """Undo a replacement: remove the new container, give the old one its name back and,
    when it was stopped for the new one, start it again."""
    if new_id is not None:
        with contextlib.suppress(NotFound):  # a failed repair of its start removed it
            ex.driver.remove_container(new_id, force=True)
    ex.driver.rename_container(old, c.name)
    if restart:
        ex.driver.start_container(old)


def _still_running(ex: Executor, name: str, new_id: str) -> None:
    time.sleep(SETTLE)
    info = ex.driver.inspect_container(new_id)
    if info.summary.state is not State.RUNNING:
        raise ActionFailed(f"container {name} stopped right after it started (exit code "
                           f"{info.summary.exit_code}); see `dockwright logs {name}`")


class _Background:
    """Run one call in a thread; :meth:`result` joins and re-raises its runtime error."""

    def __init__(self, call: Callable[[], None]) -> None:
        self.error: BaseException | None = None

        def run() -> None:
            try:
                call()
            except NotFound:  # already gone: as good as stopped
                pass
            except BaseException as exc:  # re-raised in the caller's thread
                self.error = exc

        self.thread = threading.Thread(target=run, daemon=True, name="dw-stop")
        self.thread.start()

    def result(self, *, swallow: bool = False) -> None:
        self.thread.join()
        if self.error is not None and not swallow:
            raise self.error
