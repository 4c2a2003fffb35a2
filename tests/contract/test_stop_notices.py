"""Contract: a stop that waits out its grace period is announced, on every driver.

A recreate stops the old container gracefully. One that ignores SIGTERM makes
the stop wait its whole ``stop_timeout``: the pass logs ``stop_waiting``
("stopping web: waiting up to 2s for SIGTERM") while it waits and
``stop_killed`` (it ignores SIGTERM; the hint names ``stop_signal`` and an init
process) once the runtime had to kill it; the same notices reach the pass's
``on_event`` (the human line of ``apply`` on a TTY). A container that exits on
SIGTERM is never reported killed. Log events are captured with structlog.
Neighbours: ``controller.execution.lifecycle``, ``controller.commands.converge``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from controller.execution.reconcile import reconcile
from runtime.driver import Driver
from tests.conftest import cleanup_project

STUBBORN = "[\"sh\", \"-c\", \"trap '' TERM; while :; do sleep 1; done\"]"
POLITE = "[\"sh\", \"-c\", \"trap 'exit 0' TERM; while :; do sleep 1; done\"]"


@pytest.fixture
def project(driver: Driver) -> Iterator[str]:
    name = f"dwt-{uuid.uuid4().hex[:8]}"
    yield name
    assert not cleanup_project(driver, name)


def _spec(root: Path, name: str, image: str, command: str, version: str) -> None:
    root.mkdir(exist_ok=True)
    (root / "a.toml").write_text(
        f"[container.{name}-web]\nimage = \"{image}\"\ncommand = {command}\n"
        f"stop_timeout = \"2s\"\nenv = {{ V = \"{version}\" }}\n")


def _recreate(driver: Driver, image: str, root: Path, name: str,
              command: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Apply, change the spec, apply again; the second pass's stop log events and stop
    notices (``on_event``)."""
    _spec(root, name, image, command, "1")
    assert reconcile(root, driver, project=name).ok
    _spec(root, name, image, command, "2")
    seen: list[dict[str, Any]] = []
    with structlog.testing.capture_logs() as logs:
        result = reconcile(root, driver, project=name, on_event=seen.append)
    assert result.ok, result.to_json()
    events = [e for e in logs if e["event"].startswith("stop_")]
    return events, [e for e in seen if e["event"].startswith("stop_")]


def test_a_container_that_ignores_sigterm_is_announced_and_reported_killed(
        driver: Driver, image: str, tmp_path: Path, project: str) -> None:
    events, notices = _recreate(driver, image, tmp_path / project, project, STUBBORN)
    web = f"{project}-web"
    assert [(e["event"], e["log_level"]) for e in events] == [
        ("stop_waiting", "info"), ("stop_killed", "warning")], events
    waiting, killed = events
    assert (waiting["container"], waiting["signal"], waiting["grace"]) == (web, "SIGTERM", 2.0)
    assert waiting["message"] == f"stopping {web}: waiting up to 2s for SIGTERM"
    assert killed["container"] == web and "ignores SIGTERM" in killed["message"]
    assert "stop_signal" in killed["hint"] and "init" in killed["hint"]
    assert [n["event"] for n in notices] == ["stop_waiting", "stop_killed"]


def test_a_container_that_exits_on_sigterm_is_not_reported_killed(
        driver: Driver, image: str, tmp_path: Path, project: str) -> None:
    events, notices = _recreate(driver, image, tmp_path / project, project, POLITE)
    assert "stop_killed" not in [e["event"] for e in events], events
    assert "stop_killed" not in [n["event"] for n in notices]
