"""Fixtures of the compose tests: a docker-compose project on the real daemon.

Role: :class:`ComposeProject` runs Debian's ``docker-compose`` 1.29 and the
dockwright CLI (subprocesses, as a user would) in a folder of its own, under
a unique project name (``dwtc<hex8>``), with a state folder of its own; the
finalizer removes exactly what carries that project's compose or dockwright
label (containers, networks, volumes). Neighbours: ``tests/images.py`` (the
local busybox image every compose file uses), ``tests/compose/inspect.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from tests.images import BUSYBOX, busybox_image

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 300.0


@dataclass
class Ran:
    args: list[str]
    code: int
    out: str
    err: str

    def __str__(self) -> str:
        return f"$ {' '.join(self.args)}\nexit {self.code}\n{self.out}{self.err}"


@dataclass
class ComposeProject:
    """A folder holding a compose file, its project name and its own dockwright state."""

    name: str
    folder: Path
    state: Path

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        env["DOCKWRIGHT_STATE_DIR"] = str(self.state)
        env.pop("DOCKWRIGHT_RUNTIME", None)
        env.pop("COMPOSE_PROJECT_NAME", None)
        return env

    def run(self, args: list[str]) -> Ran:
        proc = subprocess.run(args, cwd=self.folder, env=self.env(), capture_output=True,
                              text=True, timeout=TIMEOUT, check=False)
        return Ran(args, proc.returncode, proc.stdout, proc.stderr)

    def compose(self, *args: str) -> Ran:
        ran = self.run(["docker-compose", "-p", self.name, *args])
        assert ran.code == 0, str(ran)
        return ran

    def dockwright(self, *args: str) -> Ran:
        return self.run([sys.executable, "-m", "controller.cli", *args])

    def import_and_adopt(self) -> Ran:
        """``dockwright import`` of the running project, then ``apply --adopt-compose``;
        each must succeed. Returns the apply."""
        ran = self.dockwright("import", "-p", self.name)
        assert ran.code == 0, str(ran)
        ran = self.dockwright("apply", "dockwright", "--adopt-compose", self.name)
        assert ran.code == 0, str(ran)
        return ran

    def write(self, text: str, name: str = "docker-compose.yml") -> Path:
        path = self.folder / name
        path.write_text(text.replace("IMAGE", BUSYBOX))
        return path


def cleanup(client: docker.DockerClient, name: str) -> None:
    """Remove what the compose project ``name`` or the dockwright project ``name`` made."""
    selectors = [f"com.docker.compose.project={name}", f"io.dockwright.project={name}"]
    for label in selectors:
        for c in client.containers.list(all=True, ignore_removed=True,
                                         filters={"label": label}):
            c.remove(force=True, v=True)
    for label in selectors:
        for n in client.networks.list(filters={"label": label}):
            n.remove()
        for v in client.volumes.list(filters={"label": label}):
            v.remove(force=True)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    client = docker.from_env(timeout=120)
    busybox_image(client)
    yield client
    client.close()


@pytest.fixture
def compose_project(tmp_path: Path, docker_client: docker.DockerClient
                    ) -> Iterator[ComposeProject]:
    name = f"dwtc{uuid.uuid4().hex[:8]}"
    folder = tmp_path / name
    folder.mkdir()
    project = ComposeProject(name, folder, tmp_path / "state")
    try:
        yield project
    finally:
        cleanup(docker_client, name)
