"""Contract: anonymous volumes survive a recreate; only ``down --volumes`` removes them.

Through the controller, in process, on each driver: a spec with a ``"/cache"``
mount and an image with ``VOLUME /data`` (and ``/data/seed`` in it) gets one
volume under a generated 64-hex name at each path, ``/data`` filled from the
image; files written there are still there after an env change recreates the
container (the replacement mounts the same volumes), the next pass is a
no-op, ``down`` keeps the volumes and ``down --volumes`` removes them (the
steps of ``dockwright down``). The Docker-only CLI version, with a failed
recreate's rollback, is ``tests/integration/test_anonymous_volumes.py``.
Neighbours: ``tests/contract/conftest.py`` (drivers, the busybox image),
``tests/images.py`` (the ``VOLUME`` image), ``controller.planning.anonymous``,
``runtime.native.anonvols``.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from controller.desired.state import DesiredState
from controller.execution.apply import execute
from controller.execution.reconcile import Options, PassResult, reconcile
from controller.planning.anonymous import of_containers
from controller.planning.observe import observe
from controller.planning.plan import plan_down
from runtime.driver import Driver
from runtime.errors import RuntimeError_
from runtime.types import ContainerInfo
from tests.conftest import cleanup_project
from tests.images import VOLUME_IMAGE, save_image, volume_image

ANONYMOUS = 64  # hex digits of a generated volume name
LOOP = "[\"sh\", \"-c\", \"trap 'exit 0' TERM; while :; do sleep 1; done\"]"


@pytest.fixture(scope="session")
def volume_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    volume_image()
    return save_image(VOLUME_IMAGE, tmp_path_factory.mktemp("images") / "busybox-volume.tar")


@dataclass
class Ctl:
    """A project driven by the controller on ``driver``; remembers every volume it saw."""

    driver: Driver
    root: Path
    name: str
    seen: set[str] = field(default_factory=set)

    @property
    def container(self) -> str:
        return f"{self.name}-a"

    def spec(self, env: str) -> None:
        self.root.mkdir(exist_ok=True)
        (self.root / "a.toml").write_text(
            f"[container.{self.container}]\nimage = \"{VOLUME_IMAGE}\"\ncommand = {LOOP}\n"
            f"stop_timeout = \"1s\"\nenv = {{ V = \"{env}\" }}\nvolumes = [\"/cache\"]\n"
        )

    def apply(self, *, dry_run: bool = False) -> PassResult:
        result = reconcile(self.root, self.driver, project=self.name,
                           options=Options(dry_run=dry_run))
        assert result.ok, result.to_json()
        return result

    def down(self, *, volumes: bool) -> None:
        """What ``dockwright down [--volumes]`` does."""
        observed = observe(self.driver, DesiredState(self.name, None))
        anonymous = of_containers(self.driver, [s.id for s in observed.containers.values()]) \
            if volumes else None
        outcomes = execute(self.driver, plan_down(observed, volumes=volumes, anonymous=anonymous))
        assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]

    def info(self) -> ContainerInfo:
        return self.driver.inspect_container(self.container)

    def anonymous(self) -> dict[str, str]:
        """Target -> volume name of the live container's anonymous volumes."""
        found = {m.target: m.source or "" for m in self.info().anonymous_volumes}
        self.seen.update(found.values())
        return found

    def sh(self, script: str) -> str:
        result = self.driver.exec_in(self.container, ["sh", "-c", script])
        assert result.exit_code == 0, result.output
        return result.output.decode().strip()

    def volumes(self) -> set[str]:
        return {v.name for v in self.driver.list_volumes()}


@pytest.fixture
def ctl(driver: Driver, image: str, volume_archive: Path, tmp_path: Path) -> Iterator[Ctl]:
    assert VOLUME_IMAGE in driver.load_image(volume_archive)
    name = f"dwt-{uuid.uuid4().hex[:8]}"
    c = Ctl(driver, tmp_path / name, name)
    try:
        yield c
    finally:
        left = cleanup_project(driver, name)
        for volume in c.seen:
            with contextlib.suppress(RuntimeError_):
                driver.remove_volume(volume)
        assert not left, left


def _first(c: Ctl) -> tuple[str, dict[str, str]]:
    c.spec(env="1")
    c.apply()
    mounted = c.anonymous()
    assert set(mounted) == {"/cache", "/data"}, mounted
    assert all(len(n) == ANONYMOUS for n in mounted.values()), mounted
    assert set(mounted.values()) <= c.volumes(), "they are volumes of the runtime"
    assert c.sh("cat /data/seed") == "from-image", "filled from the image, like a named one"
    c.sh("echo kept > /data/file && echo cached > /cache/file")
    return c.info().summary.id, mounted


def test_anonymous_volumes_survive_a_recreate(ctl: Ctl) -> None:
    first, mounted = _first(ctl)
    ctl.spec(env="2")
    assert ctl.apply(dry_run=True).plan.changes, "an env change is a difference"
    ctl.apply()
    assert ctl.info().summary.id != first, "an env change recreates the container"
    assert ctl.anonymous() == mounted, "the new container mounts the old one's volumes"
    assert ctl.sh("cat /data/file /cache/file").split() == ["kept", "cached"]
    assert not ctl.apply(dry_run=True).plan.changes, "carried volumes are no drift"
    ctl.spec(env="3")  # carried once more, from a container that itself got them carried
    ctl.apply()
    assert ctl.anonymous() == mounted
    assert ctl.sh("cat /data/file /cache/file").split() == ["kept", "cached"]


def test_down_keeps_them_and_down_volumes_removes_them(ctl: Ctl) -> None:
    _, before = _first(ctl)
    ctl.down(volumes=False)
    assert set(before.values()) <= ctl.volumes(), "down keeps anonymous volumes"
    ctl.spec(env="2")
    ctl.apply()  # nothing to carry from: fresh volumes
    fresh = ctl.anonymous()
    assert not set(fresh.values()) & set(before.values()), fresh
    ctl.spec(env="3")
    ctl.apply()  # carried: now mounted by name
    assert ctl.anonymous() == fresh
    ctl.down(volumes=True)
    assert not set(fresh.values()) & ctl.volumes(), "down --volumes removes them"
    assert set(before.values()) <= ctl.volumes(), "volumes of no container stay"
