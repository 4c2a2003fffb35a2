"""Shared fixtures for every test directory.

Role: the session-wide Docker driver (``docker_driver``), a unique project name
per test (``project_name``, ``dwt-<hex8>``) whose finalizer removes every
container, network and volume labelled with it, the busybox test image
(``busybox_ref``) and a throw-away local registry (``registry``). Helpers:
:func:`cleanup_project` (what the finalizer does, by label only, never
global) and :func:`wait_for`. Neighbours: ``tests/images.py``,
``tests/registry.py``, ``tests/contract/conftest.py`` (the per-driver
fixtures of the contract suite).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from runtime.driver import Driver
from runtime.errors import NotFound, Transient
from runtime.types import LABEL_PROJECT
from tests.images import busybox_image
from tests.registry import local_registry

T = TypeVar("T")


@pytest.fixture(autouse=True, scope="session")
def _private_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every test run keeps dockwright's state (ledger, host key, journal) in a folder of its
    own, never in the host's ``/var/lib/dockwright``: runs must not see each other's state
    (subprocesses inherit the variable). A test that needs its own sets it again."""
    import os

    old = os.environ.get("DOCKWRIGHT_STATE_DIR")
    os.environ["DOCKWRIGHT_STATE_DIR"] = str(tmp_path_factory.mktemp("dw-state"))
    yield
    if old is None:
        os.environ.pop("DOCKWRIGHT_STATE_DIR", None)
    else:
        os.environ["DOCKWRIGHT_STATE_DIR"] = old


def wait_for(pred: Callable[[], T], what: str, timeout: float = 30.0, step: float = 0.1) -> T:
    """Poll ``pred`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(step)


def cleanup_project(driver: Driver, project: str) -> list[str]:
    """Remove containers, then networks, then volumes labelled ``project``.

    Returns what could not be removed (for the caller to report); never touches
    objects without the label.
    """
    labels = {LABEL_PROJECT: project}
    left: list[str] = []
    for container in driver.list_containers(labels):
        try:
            driver.remove_container(container.id, force=True)
        except NotFound:
            pass
        except Exception as exc:  # cleanup reports, it does not fail
            left.append(f"container {container.name}: {exc}")
    for network in driver.list_networks(labels):
        try:
            driver.remove_network(network.name)
        except NotFound:
            pass
        except Exception as exc:
            left.append(f"network {network.name}: {exc}")
    for volume in driver.list_volumes(labels):
        for attempt in range(3):
            try:
                driver.remove_volume(volume.name)
                break
            except NotFound:
                break
            except Transient as exc:
                if attempt == 2:
                    left.append(f"volume {volume.name}: {exc}")
                time.sleep(0.3)
            except Exception as exc:
                left.append(f"volume {volume.name}: {exc}")
                break
    return left


@pytest.fixture(scope="session")
def docker_driver() -> Iterator[Any]:
    """One ``DockerDriver`` for the session (the daemon must be running)."""
    from runtime.docker.driver import DockerDriver

    driver = DockerDriver()
    driver.ping()
    yield driver
    driver.close()


_CLEANUP_DRIVER: list[Any] = []


def _cleanup_driver() -> Any:
    if not _CLEANUP_DRIVER:
        from runtime.docker.driver import DockerDriver

        _CLEANUP_DRIVER.append(DockerDriver())
    return _CLEANUP_DRIVER[0]


@pytest.fixture
def project_name() -> Iterator[str]:
    """``dwt-<hex8>``, unique per test; its Docker objects are removed at the end."""
    name = f"dwt-{uuid.uuid4().hex[:8]}"
    yield name
    with contextlib.suppress(Transient):  # no daemon: nothing of ours can be there
        cleanup_project(_cleanup_driver(), name)


@pytest.fixture(scope="session")
def busybox_ref(docker_driver: Any) -> str:
    """``dockwright-test/busybox:latest``, built on first use."""
    return busybox_image()


@pytest.fixture(scope="session")
def registry() -> Iterator[str]:
    """``127.0.0.1:PORT`` of a local registry without auth, for this session."""
    with local_registry() as address:
        yield address
