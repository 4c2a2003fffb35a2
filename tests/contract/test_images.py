"""Contract: images are inspected, pulled from a registry, built and loaded.

What every driver must do with images: ``image_info`` reports a present image
with the defaults it gives containers and ``None`` for an absent one;
``pull_image`` fetches from a registry (a local ``docker-registry`` on
127.0.0.1 that the busybox image was pushed to with the Docker SDK);
``build_image`` builds a context with a Dockerfile, build args and labels and
fails with ``ImageError`` carrying the build log's tail; ``load_image`` loads
a ``docker save`` archive and returns its references. Neighbours:
``tests/registry.py``, ``tests/images.py``, ``tests/contract/conftest.py``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runtime.driver import Driver
from runtime.errors import ImageError, InvalidRequest
from runtime.types import State
from tests.conftest import wait_for
from tests.contract.conftest import Project
from tests.images import BUSYBOX
from tests.registry import push

pytestmark = pytest.mark.docker


def _docker_api() -> Any:
    """A Docker client of the test's own (the registry is filled with Docker, for every driver)."""
    import docker

    return docker.APIClient(version="auto", timeout=120)


@pytest.fixture
def tags(driver: Driver) -> Iterator[list[str]]:
    """Image references a test creates; removed from Docker afterwards."""
    made: list[str] = []
    yield made
    if driver.name == "docker" and made:
        import docker

        api = docker.APIClient(version="auto")
        for ref in made:
            with contextlib.suppress(docker.errors.NotFound):
                api.remove_image(ref, force=True)


def test_image_info(driver: Driver, image: str) -> None:
    info = driver.image_info(image)
    assert info is not None
    assert info.id.startswith("sha256:")
    assert image in info.refs
    assert info.command == ("sh",)
    assert ("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") in info.env
    assert driver.image_info(info.id) == info  # by id as well
    assert driver.image_info("dockwright-test/absent:never") is None


def test_load_archive(driver: Driver, busybox_archive: Path, image: str, tmp_path: Path) -> None:
    assert BUSYBOX in driver.load_image(busybox_archive)  # loading twice is fine
    with pytest.raises(ImageError):
        driver.load_image(tmp_path / "missing.tar")
    garbage = tmp_path / "garbage.tar"
    garbage.write_bytes(b"this is not a tar archive" * 100)
    with pytest.raises(ImageError):
        driver.load_image(garbage)


def test_pull_from_local_registry(
    driver: Driver, image: str, registry: str, project: Project, tags: list[str]
) -> None:
    ref = f"{registry}/{project.name}/busybox:v1"
    api = _docker_api()
    push(api, BUSYBOX, ref)
    api.remove_image(ref)  # only the registry has it now
    assert driver.image_info(ref) is None
    tags.append(ref)
    pulled = driver.pull_image(ref)
    expected = driver.image_info(image)
    assert expected is not None
    assert pulled.id == expected.id
    assert ref in pulled.refs
    assert driver.image_info(ref) == pulled
    with pytest.raises(ImageError):
        driver.pull_image(f"{registry}/{project.name}/busybox:absent")
    with pytest.raises(ImageError):
        driver.pull_image(f"{registry}/{project.name}/nothing-here:v1")


def test_build(
    driver: Driver, image: str, project: Project, tags: list[str], tmp_path: Path
) -> None:
    if driver.name == "native":  # by design: the native runtime does not build images
        with pytest.raises(InvalidRequest, match="build the image with Docker"):
            driver.build_image(tmp_path, f"dockwright-test/{project.name}:built")
        return
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "payload.txt").write_text("payload\n")
    (context / "Custom.Dockerfile").write_text(
        f"FROM {image}\nARG FLAVOUR=plain\nENV FLAVOUR=$FLAVOUR\nCOPY payload.txt /payload.txt\n"
        'WORKDIR /srv\nCMD ["sh", "-c", "echo $FLAVOUR; cat /payload.txt"]\n'
    )  # no RUN step: the build needs no network
    tag = f"dockwright-test/{project.name}:built"
    tags.append(tag)
    info = driver.build_image(
        context, tag, dockerfile="Custom.Dockerfile", args={"FLAVOUR": "spicy"},
        labels={"org.example.built-by": "contract"},
    )  # fmt: skip
    assert tag in info.refs
    assert ("org.example.built-by", "contract") in info.labels
    assert info.workdir == "/srv"
    assert ("FLAVOUR", "spicy") in info.env
    assert driver.image_info(tag) == info
    cid = project.run("built", image=tag, command=None)
    wait_for(lambda: driver.inspect_container(cid).summary.state is State.EXITED, "the run to end")
    assert b"".join(driver.logs(cid)) == b"spicy\npayload\n"


def test_failing_build_reports_the_log(
    driver: Driver, image: str, project: Project, tags: list[str], tmp_path: Path
) -> None:
    if driver.name == "native":  # by design: the native runtime does not build images
        with pytest.raises(InvalidRequest):
            driver.build_image(tmp_path, f"dockwright-test/{project.name}:broken")
        return
    missing = f"missing-{project.name}.txt"
    (tmp_path / "Dockerfile").write_text(f"FROM {image}\nCOPY {missing} /x\n")
    tag = f"dockwright-test/{project.name}:broken"
    tags.append(tag)
    with pytest.raises(ImageError) as caught:
        driver.build_image(tmp_path, tag)
    assert missing in str(caught.value)  # the failing step, from the build log
    assert driver.image_info(tag) is None
    with pytest.raises(ImageError):
        driver.build_image(tmp_path / "absent", tag)
