"""Helpers for the end-to-end tests of issue 3: the CLI against a real Docker daemon.

Role: every test here uses dockwright as a user would (``python -m
controller.cli ...`` in a subprocess, on a spec directory written into
``tmp_path``) and checks the result with the docker SDK directly, independent
of the driver under test (``runtime.docker``). Neighbours: ``tests/images.py``
(the busybox test image, when present), ``runtime.types`` (label names).

Isolation: each test gets a project named ``dwt-<uuid8>`` and prefixes every
container, volume and network name with it, so tests can run in parallel
(pytest-xdist) next to other engineers' tests. Cleanup removes exactly the
objects carrying the project label or the project-name prefix, plus images the
test registered.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors
import pytest
from docker.models.containers import Container

from runtime.types import LABEL_PROJECT

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "dockwright-test/busybox:latest"
# busybox `sleep` as PID 1 ignores SIGTERM; this loop exits on TERM at once.
LOOP = "[\"sh\", \"-c\", \"trap 'exit 0' TERM; while :; do sleep 1; done\"]"
CLI_TIMEOUT = 180.0


@dataclass
class Run:
    """One CLI invocation's outcome."""

    args: list[str]
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err

    def __str__(self) -> str:
        return (f"$ dockwright {' '.join(self.args)}\nexit {self.code}\n--- stdout\n{self.out}"
                f"--- stderr\n{self.err}")


def run_cli(args: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> Run:
    """Run ``python -m controller.cli ARGS`` in a subprocess, as a user would."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), full_env.get("PYTHONPATH")]))
    full_env.pop("DOCKWRIGHT_RUNTIME", None)
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "controller.cli", *args],
        cwd=cwd or ROOT, env=full_env, capture_output=True, text=True, timeout=CLI_TIMEOUT,
        check=False,
    )
    return Run(args, proc.returncode, proc.stdout, proc.stderr)


@dataclass
class Project:
    """A uniquely named project with its own spec directory."""

    name: str
    dir: Path
    client: docker.DockerClient
    images: list[str] = field(default_factory=list)  # image refs to remove at cleanup

    def n(self, short: str) -> str:
        """A host-unique object name: ``<project>-<short>``."""
        return f"{self.name}-{short}"

    def write(self, rel: str, text: str) -> Path:
        path = self.dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path

    def remove(self, rel: str) -> None:
        (self.dir / rel).unlink()

    def write_project_file(self) -> None:
        self.write("project.toml", f"""\
            [project]
            name = "{self.name}"

            [project.defaults]
            stop_timeout = "1s"
            """)

    def cli(self, command: str, *extra: str, with_dir: bool = True) -> Run:
        args = ["--project", self.name, command, *([str(self.dir)] if with_dir else []), *extra]
        return run_cli(args)

    def cli_env(self, command: str, env: dict[str, str], *extra: str) -> Run:
        """Like :meth:`cli`, with extra environment variables for the CLI process."""
        return run_cli(["--project", self.name, command, str(self.dir), *extra], env=env)

    def apply(self, *extra: str) -> Run:
        return self.cli("apply", *extra)

    def diff(self, *extra: str) -> Run:
        return self.cli("diff", *extra)

    def apply_ok(self, *extra: str) -> Run:
        run = self.apply(*extra)
        assert run.code == 0, str(run)
        return run

    def container(self, short: str) -> Container:
        return self.client.containers.get(self.n(short))

    def exists(self, short: str) -> bool:
        try:
            self.client.containers.get(self.n(short))
        except docker.errors.NotFound:
            return False
        return True

    def ids(self) -> dict[str, str]:
        """Name -> id of every container of this project (by label)."""
        found = self.client.containers.list(
            all=True, sparse=True, filters={"label": f"{LABEL_PROJECT}={self.name}"})
        return {c.attrs["Names"][0].lstrip("/"): str(c.attrs["Id"]) for c in found}

    def volume_exists(self, short: str) -> bool:
        try:
            self.client.volumes.get(self.n(short))
        except docker.errors.NotFound:
            return False
        return True

    def exec(self, short: str, *cmd: str) -> tuple[int, str]:
        code, output = self.container(short).exec_run(list(cmd))
        assert isinstance(output, bytes) and code is not None
        return int(code), output.decode(errors="replace")

    def cleanup(self) -> None:
        cleanup_project(self.client, self.name)
        for ref in self.images:
            with contextlib.suppress(docker.errors.APIError):
                self.client.images.remove(ref, force=True)


def _mine(name: str, labels: dict[str, str] | None, project: str) -> bool:
    return name.startswith(f"{project}-") or name.startswith(f"{project}_") or (
        (labels or {}).get(LABEL_PROJECT) == project)


def cleanup_project(client: docker.DockerClient, project: str) -> None:
    """Remove containers, networks and volumes of ``project`` (by label or name prefix)."""
    for c in client.containers.list(all=True, sparse=True):
        name = c.attrs["Names"][0].lstrip("/")
        if _mine(name, c.attrs.get("Labels"), project):
            try:
                c.remove(force=True, v=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError:
                time.sleep(0.5)
                with contextlib.suppress(docker.errors.APIError):
                    c.remove(force=True, v=True)
    for net in client.networks.list():
        if _mine(str(net.name), net.attrs.get("Labels"), project):
            with contextlib.suppress(docker.errors.APIError):
                net.remove()
    for vol in client.volumes.list():
        if _mine(vol.name, vol.attrs.get("Labels"), project):
            with contextlib.suppress(docker.errors.APIError):
                vol.remove(force=True)


def _build_busybox(client: docker.DockerClient) -> str:
    """Build dockwright-test/busybox:latest FROM scratch from Debian's static busybox."""
    with tempfile.TemporaryDirectory() as ctx:
        shutil.copy("/bin/busybox", Path(ctx) / "busybox")
        (Path(ctx) / "Dockerfile").write_text(
            "FROM scratch\nCOPY busybox /bin/busybox\n"
            'RUN ["/bin/busybox", "--install", "-s", "/bin"]\nCMD ["sh"]\n')
        image, _ = client.images.build(path=ctx, tag=IMAGE, rm=True)
    return str(image.id)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    client = docker.from_env(timeout=120)
    client.ping()
    yield client
    client.close()


@pytest.fixture(scope="session")
def busybox(docker_client: docker.DockerClient) -> str:
    """The test image's id (built when missing)."""
    try:
        from tests import images  # the Docker driver engineer's helper, when present
    except ImportError:
        pass
    else:
        images.busybox_image()
    try:
        return str(docker_client.images.get(IMAGE).id)
    except docker.errors.ImageNotFound:
        return _build_busybox(docker_client)


def new_project(client: docker.DockerClient, base: Path) -> Project:
    name = f"dwt-{uuid.uuid4().hex[:8]}"
    spec_dir = base / name
    spec_dir.mkdir(parents=True)
    return Project(name=name, dir=spec_dir, client=client)


@pytest.fixture
def project(docker_client: docker.DockerClient, busybox: str, tmp_path: Path) -> Iterator[Project]:
    proj = new_project(docker_client, tmp_path)
    proj.write_project_file()
    try:
        yield proj
    finally:
        proj.cleanup()


@pytest.fixture
def make_project(docker_client: docker.DockerClient, busybox: str,
                 tmp_path: Path) -> Iterator[Callable[[], Project]]:
    """For tests that need several projects."""
    made: list[Project] = []

    def make() -> Project:
        proj = new_project(docker_client, tmp_path)
        proj.write_project_file()
        made.append(proj)
        return proj

    try:
        yield make
    finally:
        for proj in made:
            proj.cleanup()


def loop_container(name: str, command: str = LOOP, **extra: str) -> str:
    """TOML of a long-running busybox container; ``extra`` values are raw TOML."""
    lines = [f"[container.{name}]", f'image = "{IMAGE}"', f"command = {command}",
             'stop_timeout = "1s"']
    lines += [f"{key} = {value}" for key, value in extra.items()]
    return "\n".join(lines) + "\n\n"


def env_of(container: Container) -> dict[str, str]:
    return dict(item.split("=", 1) for item in container.attrs["Config"]["Env"] or [])


def image_id(container: Container) -> str:
    """The id of the image a container was created from."""
    return str(container.attrs["Image"])


def labels_of(container: Container) -> dict[str, str]:
    return dict(container.attrs["Config"]["Labels"] or {})
