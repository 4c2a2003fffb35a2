"""Anonymous volumes survive a recreate; only ``down --volumes`` removes them.

An image with ``VOLUME /data`` (built FROM the busybox test image) and a
``"/cache"`` mount in the spec: a file written into each is still there after
a change recreates the container (new id, the same volumes mounted), a second
recreate carries them again, the next ``diff`` is a no-op, a failed recreate
rolls back with the data in place, ``down`` keeps the volumes and
``down --volumes`` removes them (like ``docker-compose down -v``).
Neighbours: ``tests/integration/conftest.py`` (CLI runner, projects,
cleanup), ``controller.planning.anonymous`` (what is tested).
"""

from __future__ import annotations

import contextlib
import io
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field

import docker
import docker.errors
import pytest
from docker.models.containers import Container

from .conftest import IMAGE, Project, loop_container

pytestmark = pytest.mark.docker


def _build_volume_image(client: docker.DockerClient, tag: str) -> None:
    """FROM the busybox test image, with ``VOLUME /data``."""
    data = f"FROM {IMAGE}\nVOLUME /data\n".encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    client.images.build(fileobj=buf, custom_context=True, tag=tag, rm=True)


def _volumes(c: Container) -> dict[str, str]:
    """Mount target -> volume name of every volume the container has mounted."""
    return {m["Destination"]: m["Name"] for m in c.attrs.get("Mounts") or []
            if m.get("Type") == "volume"}


@dataclass
class Vols:
    """A project with the ``VOLUME /data`` image, and every volume its container mounted."""

    p: Project
    seen: set[str] = field(default_factory=set)

    def spec(self, env: str = "1", command: str | None = None) -> None:
        p = self.p
        extra = {"env": f'{{ V = "{env}" }}', "volumes": '["/cache"]'}
        text = loop_container(p.n("a"), **extra) if command is None else \
            loop_container(p.n("a"), command, **extra)
        p.write("a.toml", text.replace(f'image = "{IMAGE}"', f'image = "{p.name}-vol:latest"'))

    def track(self) -> dict[str, str]:
        """The live container's volumes (target -> name), remembered for cleanup."""
        vols = _volumes(self.p.container("a"))
        self.seen.update(vols.values())
        return vols


@pytest.fixture
def vols(project: Project) -> Iterator[Vols]:
    """Carried volumes are mounted by name, so ``rm -v`` at cleanup keeps them: they are
    removed here."""
    tag = f"{project.name}-vol:latest"
    _build_volume_image(project.client, tag)
    project.images.append(tag)
    v = Vols(project)
    try:
        yield v
    finally:
        project.cleanup()
        for name in v.seen:
            with contextlib.suppress(docker.errors.APIError):
                project.client.volumes.get(name).remove(force=True)


def _read(p: Project) -> tuple[str, str]:
    code, data = p.exec("a", "cat", "/data/file")
    assert code == 0, data
    code, cache = p.exec("a", "cat", "/cache/file")
    assert code == 0, cache
    return data.strip(), cache.strip()


def _setup(v: Vols) -> tuple[str, dict[str, str]]:
    p = v.p
    v.spec()
    p.apply_ok()
    mounted = v.track()
    assert set(mounted) == {"/data", "/cache"}, mounted
    code, out = p.exec("a", "sh", "-c", "echo kept > /data/file && echo cached > /cache/file")
    assert code == 0, out
    return str(p.container("a").id), mounted


def test_recreate_keeps_anonymous_volumes(vols: Vols) -> None:
    v, p = vols, vols.p
    first, mounted = _setup(v)
    v.spec(env="2")
    diff = p.diff()
    assert diff.code == 2 and "env.V" in diff.out, str(diff)
    run = p.apply_ok()
    c = p.container("a")
    assert c.id != first, f"an env change recreates the container\n{run}"
    assert c.status == "running"
    assert v.track() == mounted, "the new container mounts the old one's anonymous volumes"
    assert _read(p) == ("kept", "cached"), "the data written before the recreate is there"
    after = p.diff()
    assert after.code == 0, f"a recreate that carried volumes leaves no drift\n{after}"
    # a second change: the live container is inspected and compared field by field; the
    # carried mounts are not a difference, and they are carried once more
    v.spec(env="3")
    diff = p.diff()
    assert diff.code == 2 and "env.V" in diff.out, str(diff)
    assert "mounts" not in diff.out, f"carried volumes are not drift\n{diff}"
    p.apply_ok()
    assert p.container("a").id != c.id
    assert v.track() == mounted
    assert _read(p) == ("kept", "cached")
    assert p.diff().code == 0


def test_failed_recreate_rolls_back_with_its_volumes(vols: Vols) -> None:
    v, p = vols, vols.p
    first, mounted = _setup(v)
    v.spec(command='["/no/such/program"]')  # created, but cannot start: rolled back
    run = p.apply()
    assert run.code == 1, f"a container that cannot start fails the apply\n{run}"
    c = p.container("a")
    assert c.id == first and c.status == "running", f"the old container is back\n{run}"
    assert v.track() == mounted
    assert _read(p) == ("kept", "cached")
    v.spec(env="2")  # fixed: the recreate goes through with the same volumes
    p.apply_ok()
    assert p.container("a").id != first
    assert v.track() == mounted
    assert _read(p) == ("kept", "cached")


def _exists(p: Project, volume: str) -> bool:
    try:
        p.client.volumes.get(volume)
    except docker.errors.NotFound:
        return False
    return True


def test_down_removes_anonymous_volumes_only_with_volumes_flag(vols: Vols) -> None:
    v, p = vols, vols.p
    _, before = _setup(v)
    v.spec(env="2")
    p.apply_ok()  # recreated: the volumes are now mounted by name (carried)
    assert v.track() == before
    down = p.cli("down")
    assert down.code == 0, str(down)
    assert not p.exists("a")
    assert all(_exists(p, v) for v in before.values()), f"down keeps volumes\n{down}"
    v.spec(env="1")
    p.apply_ok()  # a new container (nothing to carry from): fresh volumes
    fresh = v.track()
    assert not set(fresh.values()) & set(before.values()), fresh
    v.spec(env="2")
    p.apply_ok()  # and once more carried, so both kinds are covered below
    assert v.track() == fresh
    down = p.cli("down", "--volumes")
    assert down.code == 0, str(down)
    assert not p.exists("a")
    gone = [v for v in fresh.values() if _exists(p, v)]
    assert not gone, f"down --volumes removes the containers' anonymous volumes\n{down}"
    assert all(_exists(p, v) for v in before.values()), "volumes of no container stay"
