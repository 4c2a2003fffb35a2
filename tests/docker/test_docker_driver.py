"""Docker-only behaviour of ``runtime.docker``: error mapping at the boundary,
the cost of observing (one API call per list), the health events, and reading
containers that dockwright did not create (``Binds`` volumes, ``Tmpfs``).

Neighbours: ``tests/contract`` (what every driver must do); ``tests/conftest.py``
(``docker_driver``, ``project_name``, ``busybox_ref``).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import docker
import pytest

from runtime.docker.driver import DockerDriver
from runtime.docker.errors import DAEMON_HINT
from runtime.errors import InvalidRequest, Transient, Unavailable
from runtime.types import (
    LABEL_PROJECT,
    ContainerConfig,
    HealthSpec,
    MountSpec,
    NetworkAttach,
    NetworkConfig,
    RestartSpec,
)
from tests.conftest import wait_for

pytestmark = pytest.mark.docker

LOOP = ("sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done")


def test_missing_socket_is_unavailable_with_a_hint(tmp_path: Path) -> None:
    driver = DockerDriver(base_url=f"unix://{tmp_path}/docker.sock", timeout=5)
    with pytest.raises(Unavailable) as caught:
        driver.ping()
    assert caught.value.hint == DAEMON_HINT
    assert caught.value.retry_after > 0
    assert caught.value.__cause__ is not None
    with pytest.raises(Unavailable):
        driver.list_containers()


@pytest.fixture
def silent_socket(tmp_path: Path) -> Iterator[str]:
    """A unix socket that accepts connections and never answers (a hung daemon)."""
    path = tmp_path / "hung.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"unix://{path}"
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    server.close()


def test_a_daemon_that_does_not_answer_is_transient(silent_socket: str) -> None:
    driver = DockerDriver(base_url=silent_socket, timeout=0.5)
    with pytest.raises(Transient) as caught:
        driver.list_containers()
    assert caught.value.__cause__ is not None


def _count_requests(driver: DockerDriver) -> list[str]:
    seen: list[str] = []
    driver.transport.hooks.append(lambda method, url: seen.append(url))  # type: ignore[attr-defined]
    return seen


def test_list_calls_are_one_api_call(busybox_ref: str, project_name: str) -> None:
    driver = DockerDriver()  # own instance: the request hook must not leak into other tests
    labels = ((LABEL_PROJECT, project_name),)
    net = driver.create_network(NetworkConfig(f"{project_name}_default", labels=labels))
    for i in range(3):
        driver.create_container(
            ContainerConfig(
                name=f"{project_name}-c{i}", image=busybox_ref, command=LOOP, labels=labels,
                networks=(NetworkAttach(net.name),),
            )
        )  # fmt: skip
    seen = _count_requests(driver)
    assert len(driver.list_containers({LABEL_PROJECT: project_name})) == 3
    assert len(driver.list_networks({LABEL_PROJECT: project_name})) == 1
    assert driver.list_volumes({LABEL_PROJECT: project_name}) == []
    assert [url.split("?")[0].rsplit("/", 2)[-2:] for url in seen] == [
        ["containers", "json"], ["v1.41", "networks"], ["v1.41", "volumes"],
    ]  # fmt: skip
    driver.close()


def test_health_events(docker_driver: DockerDriver, busybox_ref: str, project_name: str) -> None:
    labels = ((LABEL_PROJECT, project_name),)
    net = docker_driver.create_network(NetworkConfig(f"{project_name}_default", labels=labels))
    stream = docker_driver.events({LABEL_PROJECT: project_name})
    seen: list[Any] = []

    def read() -> None:
        for event in stream:
            seen.append(event)
            if event.action == "health_status":
                break

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    cid = docker_driver.create_container(
        ContainerConfig(
            name=f"{project_name}-hc", image=busybox_ref, command=LOOP, labels=labels,
            healthcheck=HealthSpec(("CMD", "true"), interval=0.5), stop_timeout=1,
            networks=(NetworkAttach(net.name),),
        )
    )  # fmt: skip
    docker_driver.start_container(cid)
    reader.join(30)
    stream.close()
    assert seen and seen[-1].action == "health_status", seen
    assert seen[-1].detail == "healthy"
    assert seen[-1].container_id == cid


def test_foreign_binds_and_tmpfs_are_read_back(
    docker_driver: DockerDriver, busybox_ref: str, project_name: str, tmp_path: Path
) -> None:
    """A container made with `docker run -v name:/data:ro -v /h:/h --tmpfs /t:size=1m`."""
    api = docker.APIClient(version="auto")
    created = api.create_container(
        busybox_ref,
        command=list(LOOP),
        name=f"{project_name}-foreign",
        labels={LABEL_PROJECT: project_name},
        host_config=api.create_host_config(
            binds=[f"{project_name}-vol:/data:ro", f"{tmp_path}:/h:rw"],
            tmpfs={"/t": "size=1m"},
            network_mode="none",
        ),
    )
    live = docker_driver.inspect_container(created["Id"]).config
    assert live.mounts == (
        MountSpec("volume", "/data", f"{project_name}-vol", read_only=True),
        MountSpec("bind", "/h", str(tmp_path)),
    )
    # `--tmpfs` options other than the ones a ``volumes`` tmpfs mount is written with are
    # the ``tmpfs`` key's, kept as written; `--network none` is a network_mode, no network
    assert live.tmpfs == (("/t", "size=1m"),)
    assert live.network_mode == "none" and live.networks == ()
    docker_driver.remove_container(created["Id"])
    docker_driver.remove_volume(f"{project_name}-vol")
    wait_for(lambda: not docker_driver.list_containers({LABEL_PROJECT: project_name}), "removal")


def test_rejected_configurations_are_invalid_requests(
    docker_driver: DockerDriver, busybox_ref: str, project_name: str
) -> None:
    labels = ((LABEL_PROJECT, project_name),)
    net = docker_driver.create_network(NetworkConfig(f"{project_name}_default", labels=labels))
    base = ContainerConfig(
        name=f"{project_name}-bad", image=busybox_ref, labels=labels,
        networks=(NetworkAttach(net.name),),
    )  # fmt: skip
    cid = docker_driver.create_container(replace(base, command=("/no/such/binary",)))
    with pytest.raises(InvalidRequest) as caught:
        docker_driver.start_container(cid)
    assert "/no/such/binary" in str(caught.value) and caught.value.hint
    with pytest.raises(InvalidRequest):
        docker_driver.create_container(
            replace(base, name=f"{project_name}-bad2", restart=RestartSpec("sometimes"))
        )
    with pytest.raises(InvalidRequest) as short:  # Docker wants 2+ characters; say so
        docker_driver.create_container(replace(base, name="q"))
    assert "at least 2 characters" in (short.value.hint or "")


def test_update_back_to_no_restart(
    docker_driver: DockerDriver, busybox_ref: str, project_name: str
) -> None:
    labels = ((LABEL_PROJECT, project_name),)
    cid = docker_driver.create_container(
        ContainerConfig(
            name=f"{project_name}-r", image=busybox_ref, labels=labels,
            restart=RestartSpec("on-failure", 5),
        )
    )  # fmt: skip
    docker_driver.update_container(cid, restart=RestartSpec("no"))
    assert docker_driver.inspect_container(cid).config.restart == RestartSpec()
