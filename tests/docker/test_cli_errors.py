"""What a user sees when something outside dockwright is wrong: one clear line, no traceback.

Runs the real CLI in a subprocess: a Docker daemon that cannot be reached
(``DOCKER_HOST`` pointing nowhere) and a container name that does not exist
(``logs``/``exec`` against the real daemon). Neighbours: ``controller.errors``
(``describe``), ``runtime.docker.errors`` (the mapping), ``controller.commands``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parent.parent.parent


def dockwright(*args: str, env: dict[str, str] | None = None,
               cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    code = "import sys; from controller.cli import main; sys.exit(main(sys.argv[1:]))"
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True,
                          text=True, env=full_env, timeout=60)


@pytest.mark.parametrize("command", [["diff"], ["apply"], ["status"], ["down"], ["ps"]])
def test_unreachable_daemon_is_one_line_with_a_hint(tmp_path: Path,
                                                     command: list[str]) -> None:
    (tmp_path / "a.toml").write_text('[container.web]\nimage = "busybox"\n')
    args = [*command, str(tmp_path)] if command != ["ps"] else command
    proc = dockwright(*args, "-p", f"dwt-{uuid.uuid4().hex[:8]}",
                      env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert lines == [
        "dockwright: error: cannot connect to the Docker daemon at "
        "unix:///nonexistent/docker.sock: No such file or directory — is the Docker daemon "
        "running? start it with `dockerd` or `systemctl start docker`, or fix DOCKER_HOST"
    ], proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


@pytest.mark.parametrize("command", [["logs"], ["exec"]])
def test_unknown_container_says_so_and_points_at_ps(command: list[str]) -> None:
    name = f"dwt-{uuid.uuid4().hex[:8]}-nothere"
    args = [*command, name] + (["--", "true"] if command == ["exec"] else [])
    proc = dockwright(*args)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"dockwright: error: no container named '{name}' — `dockwright ps` lists the "
        "containers dockwright manages"
    ], proc.stderr


def test_failed_action_line_says_it_once_with_a_short_id(tmp_path: Path) -> None:
    """``+ create container X: not found — FAILED: container X did not start: start container
    <12 hex>: ...``: no repeated ``create container X:`` prefix, no 64-digit id."""
    from tests.images import busybox_image

    project = f"dwt-{uuid.uuid4().hex[:8]}"
    name = f"{project}-bad"
    (tmp_path / "a.toml").write_text(
        f'[container.{name}]\nimage = "{busybox_image()}"\ncommand = ["/nonexistent"]\n')
    try:
        proc = dockwright("apply", str(tmp_path), "-p", project)
        assert proc.returncode == 1, proc.stderr
        line = next(x for x in proc.stdout.splitlines() if "FAILED" in x)
        assert line.startswith(f"+ create         container {name}: not found — FAILED: "
                               f"container {name} did not start: start container "), line
        short_id = line.split("start container ", 1)[1].split(":", 1)[0]
        assert len(short_id) == 12, line
        assert "Traceback" not in proc.stderr
    finally:
        assert dockwright("down", str(tmp_path), "-p", project).returncode == 0


def test_why_with_the_name_before_the_folder_says_the_order(tmp_path: Path) -> None:
    """``why web specs/`` (name first) names the right order instead of a bare 'no such folder'."""
    (tmp_path / "a.toml").write_text('[container.web]\nimage = "busybox"\n')
    proc = dockwright("why", "web", str(tmp_path), "--state-dir", str(tmp_path / "state"))
    assert proc.returncode != 0
    assert f"dockwright why {tmp_path} web" in proc.stderr, proc.stderr
