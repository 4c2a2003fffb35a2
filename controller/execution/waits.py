"""Waiting for ``depends_on`` conditions: started, healthy, completed.

Role: before a dependent container starts, the executor waits here until
each container it depends on has reached the asked condition, with a
deadline derived from the dependency's healthcheck. Polls one cheap list call
(filtered by the project label; a container adopted from docker-compose is
found in the host's whole list) at a short interval. On timeout the error
names the container, its state and the output of its health probe run once
more (the runtime types carry no health log). Neighbours: called by
``controller.execution.apply``; uses a ``runtime.driver.Driver``.
"""

from __future__ import annotations

import threading
import time

from controller.desired.state import DesiredContainer
from runtime.driver import Driver
from runtime.errors import RuntimeError_
from runtime.types import LABEL_PROJECT, ContainerSummary, Health, State

POLL = 0.25
COMPLETED_TIMEOUT = 300.0


class WaitFailed(RuntimeError_):
    """A dependency never reached its condition; the message names it and says why."""


def deadline_for(desired: DesiredContainer | None, condition: str) -> float:
    """Seconds to wait: for "healthy", what Docker needs to call it unhealthy, plus slack."""
    if condition == "completed":
        return COMPLETED_TIMEOUT
    if condition == "started":
        return 30.0
    hc = desired.config.healthcheck if desired else None
    if hc is None:
        return 60.0
    interval, timeout = hc.interval or 30.0, hc.timeout or 30.0
    retries = hc.retries if hc.retries is not None else 3
    return (hc.start_period or 0.0) + (interval + timeout) * (retries + 1) + 5.0


class Poller:
    """One list call per interval shared by every thread that waits (not one per waiter)."""

    def __init__(self, driver: Driver, project: str, interval: float | None = None) -> None:
        self.driver, self.project = driver, project
        self.interval = POLL if interval is None else interval
        self.lock = threading.Lock()
        self.at = -1e9
        self.rows: dict[str, ContainerSummary] = {}
        self.unlabelled = False  # the host's whole list is merged into rows

    def invalidate(self) -> None:
        """Forget the cached list (a container changed); the next ``find`` lists again."""
        with self.lock:  # waits for a list in flight, so its stale rows are dropped too
            self.at = -1e9

    def find(self, name: str) -> ContainerSummary | None:
        """The row of container ``name``: the project's labelled ones first; a name not
        among them (a container adopted from docker-compose keeps compose's labels) is
        looked up in the host's whole list, at most once per interval."""
        with self.lock:
            if time.monotonic() - self.at >= self.interval:
                rows = self.driver.list_containers({LABEL_PROJECT: self.project})
                self.rows = {s.name.lstrip("/"): s for s in rows}
                self.at, self.unlabelled = time.monotonic(), False
            if name not in self.rows and not self.unlabelled:
                for s in self.driver.list_containers(None):
                    self.rows.setdefault(s.name.lstrip("/"), s)
                self.unlabelled = True
            return self.rows.get(name)


def probe_output(driver: Driver, name: str, desired: DesiredContainer | None) -> str:
    """Run the healthcheck's test once more to show why it fails (bounded to 5 s)."""
    hc = desired.config.healthcheck if desired else None
    if hc is None or not hc.test or hc.test[0] == "NONE":
        return "no healthcheck"
    cmd = list(hc.test[1:]) if hc.test[0] == "CMD" else ["/bin/sh", "-c", " ".join(hc.test[1:])]
    result: list[str] = []

    def run() -> None:
        try:
            res = driver.exec_in(name, cmd)
            text = res.output.decode(errors="replace").strip()[-300:]
            result.append(f"exit {res.exit_code}: {text or '(no output)'}")
        except RuntimeError_ as exc:
            result.append(f"probe could not run: {exc}")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(5.0)
    return result[0] if result else "probe did not answer within 5s"


def _stays_down(row: ContainerSummary, desired: DesiredContainer | None) -> bool:
    """Exited for good: the runtime's restart policy will not bring it back to health."""
    if row.state not in (State.EXITED, State.DEAD) or desired is None:
        return False
    policy = desired.config.restart
    return policy.name == "no" or (policy.name == "on-failure" and row.exit_code == 0)


def wait_for(driver: Driver, project: str, name: str, condition: str,
             desired: DesiredContainer | None = None, deadline: float | None = None,
             poller: Poller | None = None) -> None:
    """Block until container ``name`` is started / healthy / completed, or raise WaitFailed."""
    poller = poller or Poller(driver, project)
    limit = deadline if deadline is not None else deadline_for(desired, condition)
    end = time.monotonic() + limit
    last: ContainerSummary | None = None
    while True:
        last = poller.find(name)
        if last is not None:
            if condition == "started" and last.state is not State.CREATED:
                return
            if condition == "healthy":
                if last.health is Health.HEALTHY:
                    return
                if _stays_down(last, desired):
                    raise WaitFailed(
                        f"container {name} exited with code {last.exit_code} before it became "
                        "healthy, and its restart policy does not restart it",
                        hint=f"see `dockwright logs {name}`")
                if last.health is Health.UNHEALTHY:  # Docker gave up after `retries` failures
                    raise WaitFailed(
                        f"container {name} is unhealthy (its healthcheck failed its retries); "
                        f"last health output: {probe_output(driver, name, desired)}",
                        hint=f"check `dockwright logs {name}` and its healthcheck")
                if last.state is State.RUNNING and last.health is Health.NONE:
                    raise WaitFailed(f"container {name} has no healthcheck, so it can never "
                                     "become healthy",
                                     hint=f"add a healthcheck to {name} or depend on \"started\"")
            if condition == "completed" and last.state in (State.EXITED, State.DEAD):
                if last.exit_code == 0:
                    return
                raise WaitFailed(f"container {name} exited with code {last.exit_code}, "
                                 "not 0", hint=f"see `dockwright logs {name}`")
        if time.monotonic() >= end:
            break
        time.sleep(POLL)
    state = "absent" if last is None else f"{last.state.value}, health {last.health.value}"
    extra = f"; last health output: {probe_output(driver, name, desired)}" \
        if condition == "healthy" and last is not None else ""
    raise WaitFailed(f"container {name} did not become {condition} within {limit:g}s "
                     f"({state}){extra}", hint=f"check `dockwright logs {name}`")
