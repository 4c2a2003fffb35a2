"""Fixtures of the driver contract suite, parametrized over runtime drivers.

Role: ``driver`` yields one instance per entry of :data:`DRIVERS` (session
scoped), so every contract test runs once per runtime. To add a runtime,
append its name to :data:`DRIVERS` and give it a factory in :data:`FACTORIES`
(the native one is already there). Images reach every driver the same way: the
busybox test image is written once as a ``docker save`` archive
(``busybox_archive``) and loaded with ``driver.load_image`` (``image``).
``project`` gives each test a unique project name, labels and a project
network (containers join it unless a test says otherwise, as the controller
does; Docker's default bridge is never relied on) and removes what the test
left behind through the driver under test. Neighbours:
``tests/conftest.py`` (Docker fixtures, ``cleanup_project``, ``wait_for``),
``tests/images.py``, ``runtime.registry``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from runtime.driver import Driver
from runtime.types import (
    LABEL_MANAGED_BY,
    LABEL_PROJECT,
    MANAGED_BY,
    ContainerConfig,
    NetworkAttach,
    NetworkConfig,
    Pairs,
)
from tests.conftest import cleanup_project
from tests.images import BUSYBOX, busybox_image, save_image

# busybox `sleep` as PID 1 ignores SIGTERM; this loop exits on TERM at once.
LOOP = ("sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done")


def _docker(tmp: Path) -> Driver:
    from runtime.docker.driver import DockerDriver

    return DockerDriver()


def _native(tmp: Path) -> Driver:
    from runtime.native.driver import NativeDriver  # type: ignore[import-not-found,unused-ignore]

    driver: Driver = NativeDriver(state_dir=tmp / "state")
    return driver


FACTORIES: dict[str, Callable[[Path], Driver]] = {"docker": _docker, "native": _native}
MARKS = {"docker": pytest.mark.docker, "native": pytest.mark.native}
# The runtimes the contract suite runs on: a name here needs a factory in FACTORIES above.
DRIVERS = ["docker", "native"]


@pytest.fixture(scope="session", params=[pytest.param(n, marks=MARKS[n]) for n in DRIVERS])
def driver(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Driver]:
    name: str = request.param
    instance = FACTORIES[name](tmp_path_factory.mktemp(f"driver-{name}"))
    instance.ping()
    yield instance
    instance.close()


@pytest.fixture(scope="session")
def busybox_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The busybox test image as a ``docker save`` archive (built with Docker)."""
    busybox_image()
    return save_image(BUSYBOX, tmp_path_factory.mktemp("images") / "busybox.tar")


@pytest.fixture(scope="session")
def image(driver: Driver, busybox_archive: Path) -> str:
    """The busybox test image's reference, present in ``driver``."""
    refs = driver.load_image(busybox_archive)
    assert BUSYBOX in refs, refs
    return BUSYBOX


@dataclass(frozen=True)
class Project:
    """A unique project: its name, the labels that mark its objects, name helper."""

    name: str
    driver: Driver
    image: str

    @property
    def labels(self) -> Pairs:
        return ((LABEL_MANAGED_BY, MANAGED_BY), (LABEL_PROJECT, self.name))

    @property
    def selector(self) -> dict[str, str]:
        return {LABEL_PROJECT: self.name}

    @property
    def network(self) -> str:
        """The project network (``<project>_default``) every test container joins by default."""
        return f"{self.name}_default"

    def n(self, short: str) -> str:
        """A host-unique object name: ``<project>-<short>``."""
        return f"{self.name}-{short}"

    def config(self, short: str, **fields: Any) -> ContainerConfig:
        """A long-running busybox container of this project (fields override)."""
        base: dict[str, Any] = {
            "name": self.n(short),
            "image": self.image,
            "command": LOOP,
            "labels": self.labels,
            "stop_timeout": 1.0,
            "networks": (NetworkAttach(self.network),),
        }
        base.update(fields)
        return ContainerConfig(**base)

    def run(self, short: str, **fields: Any) -> str:
        """Create and start; return the id."""
        cid = self.driver.create_container(self.config(short, **fields))
        self.driver.start_container(cid)
        return cid


@pytest.fixture
def project(driver: Driver, image: str) -> Iterator[Project]:
    proj = Project(name=f"dwt-{uuid.uuid4().hex[:8]}", driver=driver, image=image)
    driver.create_network(NetworkConfig(proj.network, labels=proj.labels))
    try:
        yield proj
    finally:
        left = cleanup_project(driver, proj.name)
        assert not left, f"cleanup of {proj.name} left: {left}"
