"""Contract: a running container joins and leaves networks in place.

``connect_network(ref, NetworkAttach(net, aliases))`` joins ``net`` answering to the
aliases there; ``disconnect_network(ref, net)`` leaves it. The container keeps its id,
keeps running and keeps its other networks; a peer on the joined network reaches it by
an alias, and no longer once it left. This is what lets the controller heal a container
disconnected by hand, or apply a spec that adds a network, without a recreate.
Neighbours: ``tests/contract/conftest.py``, ``tests/contract/test_aliases.py``.
"""

from __future__ import annotations

import pytest

from runtime.driver import Driver
from runtime.errors import Conflict, NotFound
from runtime.types import NetworkAttach, NetworkConfig, State
from tests.conftest import wait_for
from tests.contract.conftest import Project
from tests.contract.test_networking import HTTPD, PAGE

pytestmark = pytest.mark.docker


def test_join_and_leave_a_network_in_place(driver: Driver, project: Project) -> None:
    extra = project.n("extra")
    driver.create_network(NetworkConfig(extra, labels=project.labels))
    server = project.run("server", command=HTTPD)
    client = project.run("client", networks=(NetworkAttach(extra),))

    def answer(name: str) -> str:
        script = f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {name} 80 2>&1"
        return driver.exec_in(client, ["sh", "-c", script]).output.decode(errors="replace")

    assert PAGE not in answer("srv")
    driver.connect_network(server, NetworkAttach(extra, ("srv",)))
    info = driver.inspect_container(server)
    assert info.summary.id == server and info.summary.state is State.RUNNING
    assert {n.network: n.aliases for n in info.config.networks} == {
        project.network: (), extra: ("srv",)}
    wait_for(lambda: PAGE in answer("srv"), "the client to reach the server as 'srv'")
    with pytest.raises(Conflict):
        driver.connect_network(server, NetworkAttach(extra, ("srv",)))

    driver.disconnect_network(server, extra)
    info = driver.inspect_container(server)
    assert info.summary.id == server and info.summary.state is State.RUNNING
    assert [n.network for n in info.config.networks] == [project.network]
    wait_for(lambda: PAGE not in answer("srv"), "the alias 'srv' to stop answering")
    with pytest.raises(NotFound):
        driver.disconnect_network(server, extra)


def test_unpause_of_a_running_container_is_done(driver: Driver, project: Project) -> None:
    cid = project.run("a")
    if driver.name == "docker":  # the native runtime never pauses
        import docker

        docker.from_env().containers.get(cid).pause()
        assert driver.inspect_container(cid).summary.state is State.PAUSED
        driver.unpause_container(cid)
    else:
        driver.unpause_container(cid)
    assert driver.inspect_container(cid).summary.state is State.RUNNING
