"""The Docker driver against a daemon reached over TCP (``tcp://127.0.0.1:PORT``, no TLS).

The Swarm runtime will reach managers that way: the driver then talks through the
docker SDK's session (``runtime.docker.sdk.SdkTransport``) behind the same
``Transport`` interface as the unix-socket client. A private dockerd
(``tests/dockerd.py``) listens on TCP in its own network namespace; a loopback relay
brings it to the test. Every contract-relevant operation goes over that endpoint:
load (an upload), list, create/start/inspect, an event, logs (multiplexed frames),
exec, stop, remove. Neighbours: ``runtime.docker.sdk``, ``runtime.docker.engine``,
``tests/contract/`` (the same operations on the shared daemon's socket).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.docker.driver import DockerDriver
from runtime.docker.sdk import SdkTransport
from runtime.types import ContainerConfig, Event, NetworkAttach, State
from tests.conftest import wait_for
from tests.dockerd import PrivateDockerd
from tests.images import BUSYBOX, busybox_image, save_image

pytestmark = pytest.mark.docker


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port: int = sock.getsockname()[1]
    return port  # in the daemon's own namespace: free there whatever the host uses


@pytest.fixture(scope="module")
def tcp_driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerDriver]:
    daemon = PrivateDockerd(tcp_port=_free_port())
    daemon.start()
    driver = DockerDriver(base_url=daemon.tcp_url(), timeout=30)
    try:
        yield driver
    finally:
        driver.close()
        daemon.destroy()


def test_contract_operations_over_tcp(tcp_driver: DockerDriver, tmp_path: Path) -> None:
    driver = tcp_driver
    assert isinstance(driver.transport, SdkTransport)
    driver.ping()
    busybox_image()
    refs = driver.load_image(save_image(BUSYBOX, tmp_path / "busybox.tar"))
    assert BUSYBOX in refs
    labels = (("dwt.test", "tcp"),)
    seen: list[Event] = []
    stream = driver.events(dict(labels))
    reader = threading.Thread(target=lambda: seen.extend(stream), daemon=True)
    reader.start()
    cid = driver.create_container(ContainerConfig(
        name="dwt-tcp", image=BUSYBOX, labels=labels, networks=(NetworkAttach("none"),),
        command=("sh", "-c", "echo out; echo err >&2; trap 'exit 0' TERM; "
                 "while :; do sleep 1; done")))
    driver.start_container(cid)
    assert [c.id for c in driver.list_containers(dict(labels))] == [cid]
    assert driver.inspect_container(cid).summary.state == State.RUNNING
    wait_for(lambda: any(e.action == "start" and e.container_id == cid for e in seen),
             "the start event over TCP")
    wait_for(lambda: sorted(b"".join(driver.logs(cid)).split()) == [b"err", b"out"],
             "both log lines")
    result = driver.exec_in(cid, ["sh", "-c", "echo hi; exit 3"])
    assert (result.exit_code, result.output) == (3, b"hi\n")
    driver.stop_container(cid, timeout=5)
    assert driver.inspect_container(cid).summary.state == State.EXITED
    driver.remove_container(cid)
    assert driver.list_containers(dict(labels)) == []
    stream.close()
    reader.join(10)
    assert not reader.is_alive(), "close() ended the blocked event read"
