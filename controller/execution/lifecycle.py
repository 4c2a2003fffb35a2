"""Stopping and starting a container during a pass: said while it waits, repaired when stale.

Role: the two runtime calls every container action ends in, with what the plain
driver call does not do:

- :func:`stop`: a graceful stop (the stop signal, a grace period, then SIGKILL,
  as the runtime does it) that says so when it waits: after :data:`NOTICE_AFTER`
  seconds a :class:`StopNotice` ``stop_waiting`` ("stopping web: waiting up to
  10s for SIGTERM"), and when the container had to be killed at the end of its
  grace period (exit code 137 once the whole period passed) a ``stop_killed``
  notice that says it ignores its stop signal and how to fix that. Notices are
  logged as structured events (``controller.logging.emit``) and handed to the
  caller's ``notify`` (the human line of ``apply`` on a TTY).
- :func:`start`: a start that the runtime refuses because it still holds state
  of an earlier run (``runtime.errors.StaleState``: a Docker daemon killed during
  a start keeps the task) removes the container and creates it again, mounting
  its anonymous volumes (``controller.planning.anonymous``), then starts that one.

Neighbours: ``controller.execution.apply`` and ``controller.execution.replace``
(callers, through the :class:`Creator` protocol), ``controller.logging``,
a ``runtime.driver.Driver``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from controller.logging import emit
from runtime.errors import NotFound, RuntimeError_, StaleState

if TYPE_CHECKING:
    from controller.desired.state import DesiredContainer
    from runtime.driver import Driver
    from runtime.types import ContainerInfo

NOTICE_AFTER = 1.0  # a stop still waiting after this many seconds is announced
DEFAULT_GRACE = 10.0  # the runtimes' stop timeout when neither spec nor container sets one
KILLED = 137  # 128 + SIGKILL


class StopEvent(StrEnum):
    WAITING = "stop_waiting"
    KILLED = "stop_killed"


@dataclass(frozen=True)
class StopNotice:
    """A stop that waits out its grace period, or that had to kill the container."""

    event: StopEvent
    container: str
    signal: str
    grace: float

    @property
    def message(self) -> str:
        if self.event is StopEvent.WAITING:
            return f"stopping {self.container}: waiting up to {self.grace:g}s for {self.signal}"
        return (f"{self.container} ignores {self.signal}: it was killed after its "
                f"{self.grace:g}s grace period")

    @property
    def hint(self) -> str | None:
        if self.event is StopEvent.WAITING:
            return None
        return (f"set stop_signal to a signal its process handles, or run it under an init "
                f"process that forwards {self.signal} (tini as the entrypoint; a shell "
                "entrypoint should `exec` the program or `trap` the signal)")

    def fields(self) -> dict[str, Any]:
        return {"container": self.container, "signal": self.signal, "grace": self.grace,
                "message": self.message, "hint": self.hint}


Notify = Callable[[StopNotice], None]


class Creator(Protocol):
    """What a repaired start needs of the executor (``controller.execution.apply``)."""

    driver: Driver

    def create_new(self, c: DesiredContainer, old: ContainerInfo | None = None) -> str: ...


def stop(driver: Driver, ref: str, name: str, timeout: float | None,
         notify: Notify | None = None) -> None:
    """Stop container ``ref`` (declared ``name``) within ``timeout`` seconds (None: its own
    stop timeout), announcing a long wait and a kill at the end of the grace period."""
    said: list[StopNotice] = []

    def waiting() -> None:
        notice = _notice(driver, ref, name, timeout, StopEvent.WAITING)
        if notice is not None:
            said.append(notice)
            _tell(notice, notify)

    timer = threading.Timer(NOTICE_AFTER, waiting)
    timer.daemon = True
    began = time.monotonic()
    timer.start()
    try:
        driver.stop_container(ref, timeout=timeout)
    finally:
        timer.cancel()
    took = time.monotonic() - began
    if took < NOTICE_AFTER:
        return
    try:
        info = driver.inspect_container(ref)
    except RuntimeError_:
        return
    grace = said[0].grace if said else _grace(timeout, info.config.stop_timeout)
    if info.summary.exit_code == KILLED and took >= grace:
        _tell(StopNotice(StopEvent.KILLED, name, info.config.stop_signal or "SIGTERM", grace),
              notify)


def _grace(timeout: float | None, own: float | None) -> float:
    if timeout is not None:
        return timeout
    return own if own is not None else DEFAULT_GRACE


def _notice(driver: Driver, ref: str, name: str, timeout: float | None,
            event: StopEvent) -> StopNotice | None:
    try:
        config = driver.inspect_container(ref).config
    except RuntimeError_:  # gone meanwhile: nothing to wait for
        return None
    return StopNotice(event, name, config.stop_signal or "SIGTERM",
                      _grace(timeout, config.stop_timeout))


def _tell(notice: StopNotice, notify: Notify | None) -> None:
    level = "info" if notice.event is StopEvent.WAITING else "warning"
    emit(level, notice.event.value, **notice.fields())
    if notify is not None:
        notify(notice)


def start(ex: Creator, c: DesiredContainer, ref: str) -> tuple[str, str]:
    """Start container ``ref`` of ``c``; returns the id that now runs and a note (empty
    unless the container had to be created again because of stale runtime state)."""
    try:
        ex.driver.start_container(ref)
        return ref, ""
    except StaleState as exc:
        stale = exc
    live = ex.driver.inspect_container(ref)  # its anonymous volumes go to the new one
    with contextlib.suppress(NotFound):
        ex.driver.remove_container(ref, force=True)
    new_id = ex.create_new(c, live)
    try:
        ex.driver.start_container(new_id)
    except RuntimeError_:
        ex.driver.remove_container(new_id, force=True)  # the caller sees the start's error
        raise
    emit("warning", "start_repaired", container=c.name, old_id=ref, new_id=new_id,
         error=str(stale))
    return new_id, f"created again: the runtime held a stale task of {ref[:12]}"
