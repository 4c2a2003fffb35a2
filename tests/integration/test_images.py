"""Issue 3, behaviour 8: images used when present, built, loaded from an archive, pulled.

A new image id behind the same reference recreates the container with that
reason. Pulls go to a local registry (Debian's docker-registry) on 127.0.0.1.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from .conftest import IMAGE, Project, image_id, loop_container

pytestmark = pytest.mark.docker


def _container(name: str, image: str, **extra: str) -> str:
    text = loop_container(name, **extra)
    return text.replace(f'image = "{IMAGE}"', f"image = {image}")


def build_marker_image(client: docker.DockerClient, tag: str, marker: str) -> str:
    """Build FROM the busybox test image with ``/marker`` containing ``marker``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (("Dockerfile", f"FROM {IMAGE}\nCOPY marker /marker\n".encode()),
                           ("marker", marker.encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    image, _ = client.images.build(fileobj=buf, custom_context=True, tag=tag, rm=True)
    return str(image.id)


def marker(p: Project, short: str) -> str:
    code, out = p.exec(short, "cat", "/marker")
    assert code == 0, out
    return out


@pytest.fixture(scope="module")
def registry() -> Iterator[str]:
    """A throw-away docker-registry on 127.0.0.1 (``tests/registry.py``); ``127.0.0.1:PORT``."""
    from tests.registry import local_registry

    with local_registry() as address:
        yield address


def push(client: docker.DockerClient, ref: str) -> None:
    repo, tag = ref.rsplit(":", 1)
    for line in client.images.push(repo, tag=tag, stream=True, decode=True):
        assert "error" not in line, line


def test_present_image_is_used_and_missing_one_reported(project: Project) -> None:
    p = project
    missing = f"{p.name}/missing:1"
    p.write("a.toml", _container(p.n("a"), f'{{ ref = "{IMAGE}", pull = "never" }}')
            + _container(p.n("b"), f'{{ ref = "{missing}", pull = "never" }}'))
    run = p.apply()
    assert run.code == 1, f"a missing image with pull = never is an error\n{run}"
    assert missing in run.text, f"the error names the image\n{run}"
    assert p.container("a").status == "running"
    assert not p.exists("b")


def test_image_built_from_context(project: Project) -> None:
    p = project
    ref = f"{p.name}/built:dev"
    p.images.append(ref)
    p.write("ctx/Dockerfile", f"FROM {IMAGE}\nCOPY marker /marker\n")
    p.write("ctx/marker", "v1\n")
    p.write("a.toml", _container(p.n("a"), f'{{ ref = "{ref}", build = "ctx" }}'))
    p.apply_ok()
    first = p.container("a")
    p.images.append(image_id(first))
    assert marker(p, "a") == "v1\n"
    assert p.diff().code == 0, "an unchanged build context is no change"
    p.write("ctx/marker", "v2\n")
    diff = p.diff()
    assert diff.code == 2, f"a changed build context is a change\n{diff}"
    p.apply_ok()
    second = p.container("a")
    p.images.append(image_id(second))
    assert second.id != first.id
    assert marker(p, "a") == "v2\n"
    assert p.diff().code == 0


def test_image_loaded_from_archive(project: Project, tmp_path: Path) -> None:
    p = project
    ref = f"{p.name}/archived:1"
    built = build_marker_image(p.client, ref, "from-archive")
    p.images.append(built)
    with open(p.dir / "image.tar", "wb") as fh:
        for chunk in p.client.images.get(ref).save(named=True):
            fh.write(chunk)
    p.client.images.remove(ref, force=True)
    p.write("a.toml", _container(p.n("a"), f'{{ ref = "{ref}", archive = "image.tar" }}'))
    p.apply_ok()
    assert marker(p, "a") == "from-archive"
    assert image_id(p.container("a")) == built
    assert p.diff().code == 0


def test_pulled_from_local_registry_and_new_image_recreates(project: Project,
                                                           registry: str) -> None:
    p = project
    ref = f"{registry}/{p.name}/pulled:1"
    p.images.append(ref)
    v1 = build_marker_image(p.client, ref, "v1")
    push(p.client, ref)
    p.client.images.remove(ref, force=True)
    p.write("a.toml", _container(p.n("a"), f'"{ref}"') + loop_container(p.n("other")))
    p.apply_ok()
    p.images.append(v1)
    assert image_id(p.container("a")) == v1, "the image is pulled when missing"
    assert marker(p, "a") == "v1"
    ids = p.ids()
    # A new image behind the same reference in the registry; the local tag still points to v1.
    v2 = build_marker_image(p.client, ref, "v2")
    p.images.append(v2)
    push(p.client, ref)
    p.client.images.get(v1).tag(ref.rsplit(":", 1)[0], "1")
    assert p.diff().code == 0, "pull = missing does not look at the registry again"
    p.write("a.toml", _container(p.n("a"), f'{{ ref = "{ref}", pull = "always" }}')
            + loop_container(p.n("other")))
    run = p.apply()
    assert run.code == 0, str(run)
    assert image_id(p.container("a")) == v2, f"pull = always fetches the new image\n{run}"
    assert p.container("a").id != ids[p.n("a")]
    assert "image" in run.text, f"apply says the image changed\n{run}"
    assert marker(p, "a") == "v2"
    assert p.container("other").id == ids[p.n("other")]


def test_new_image_id_behind_same_ref_recreates(project: Project) -> None:
    p = project
    ref = f"{p.name}/local:1"
    p.images.append(ref)
    v1 = build_marker_image(p.client, ref, "one")
    p.images.append(v1)
    p.write("a.toml", _container(p.n("a"), f'{{ ref = "{ref}", pull = "never" }}')
            + loop_container(p.n("other")))
    p.apply_ok()
    ids = p.ids()
    v2 = build_marker_image(p.client, ref, "two")
    p.images.append(v2)
    diff = p.diff()
    assert diff.code == 2, f"a new image id behind the same ref is a change\n{diff}"
    assert "image" in diff.out, f"the diff gives the image as the reason\n{diff}"
    p.apply_ok()
    assert p.container("a").id != ids[p.n("a")] and image_id(p.container("a")) == v2
    assert marker(p, "a") == "two"
    assert p.container("other").id == ids[p.n("other")]
    assert p.diff().code == 0


def test_archive_loader_refuses_missing_file(project: Project) -> None:
    p = project
    p.write("a.toml", _container(p.n("a"), f'{{ ref = "{p.name}/x:1", archive = "nope.tar" }}'))
    p.write("ok.toml", loop_container(p.n("ok")))
    run = p.apply()
    assert run.code == 1, str(run)
    assert "nope.tar" in run.text
    assert p.exists("ok") and not p.exists("a")

