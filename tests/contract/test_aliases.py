"""Contract: a running container's network aliases change in place.

``update_container(ref, networks=...)`` sets the container's aliases on each
listed network to exactly the given ones: the container keeps its id and keeps
running, a peer on that network reaches it by a new alias and no longer
resolves a removed one (Docker: disconnect + connect; native: the record and
the peers' /etc/hosts). This is what lets a new ``links`` entry on one
container leave its target running. Neighbours: ``tests/contract/conftest.py``,
``tests/contract/test_networking.py`` (aliases at create time).
"""

from __future__ import annotations

import pytest

from runtime.driver import Driver
from runtime.types import NetworkAttach, State
from tests.conftest import wait_for
from tests.contract.conftest import Project
from tests.contract.test_networking import HTTPD, PAGE

pytestmark = pytest.mark.docker


def test_aliases_change_in_place_on_a_running_container(
    driver: Driver, project: Project
) -> None:
    net = project.network
    server = project.run("server", command=HTTPD, networks=(NetworkAttach(net, ("old", "kept")),))
    client = project.run("client")

    def answer(name: str) -> str:
        script = f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {name} 80 2>&1"
        return driver.exec_in(client, ["sh", "-c", script]).output.decode(errors="replace")

    wait_for(lambda: PAGE in answer("old"), "the client to reach the server as 'old'")
    driver.update_container(server, networks=[NetworkAttach(net, ("kept", "new"))])
    info = driver.inspect_container(server)
    assert info.summary.id == server
    assert info.summary.state is State.RUNNING
    assert info.config.networks == (NetworkAttach(net, ("kept", "new")),)
    wait_for(lambda: PAGE in answer("new"), "the client to reach the server as 'new'")
    wait_for(lambda: PAGE not in answer("old"), "the alias 'old' to stop answering")
    # not resolved (Docker's DNS: "bad address"; native: not in /etc/hosts, so the lookup
    # goes to the host's resolver and times out), not merely refused
    assert any(text in answer("old") for text in ("bad address", "timed out"))
    assert PAGE in answer("kept")
