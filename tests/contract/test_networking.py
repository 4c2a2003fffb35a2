"""Contract: published ports, network aliases, networks and volumes, mounts.

What every driver must do beyond the container itself: a published port
answers on 127.0.0.1 from the host; containers on one network reach each
other by alias; networks and volumes are created with labels (and a subnet),
listed by label in one call and removed; named, bind, tmpfs and read-only
mounts and ``volumes_from`` work in the process. Neighbours:
``tests/contract/conftest.py``, ``tests/contract/test_containers.py``.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest

from runtime.driver import Driver
from runtime.errors import Conflict, NotFound
from runtime.types import (
    MountSpec,
    NetworkAttach,
    NetworkConfig,
    PortBinding,
    VolumeConfig,
)
from tests.conftest import wait_for
from tests.contract.conftest import Project
from tests.ports import free_port

pytestmark = pytest.mark.docker

PAGE = "hello from dockwright"
HTTPD = (
    "sh",
    "-c",
    f"mkdir -p /www && echo '{PAGE}' > /www/index.html && exec httpd -f -p 80 -h /www",
)


def http_get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return str(resp.read().decode())
    except (urllib.error.URLError, OSError):
        return None


def test_published_port_answers_on_loopback(driver: Driver, project: Project) -> None:
    port = free_port()
    binding = PortBinding(80, "tcp", "127.0.0.1", port)
    cid = project.run("web", command=HTTPD, ports=(binding,), stop_signal="SIGKILL")
    info = driver.inspect_container(cid)
    assert info.config.ports == (binding,)
    assert binding in info.host_ports
    body = wait_for(lambda: http_get(f"http://127.0.0.1:{port}/"), "the published port")
    assert body is not None and PAGE in body


def test_taken_host_port_is_a_conflict(driver: Driver, project: Project) -> None:
    port = free_port()
    binding = PortBinding(80, "tcp", "127.0.0.1", port)
    project.run("first", command=HTTPD, ports=(binding,))
    with pytest.raises(Conflict) as caught:
        project.run("second", command=HTTPD, ports=(binding,))
    assert str(port) in str(caught.value)


def test_containers_reach_each_other_by_alias(driver: Driver, project: Project) -> None:
    net = driver.create_network(NetworkConfig(project.n("net"), labels=project.labels))
    other = driver.create_network(NetworkConfig(project.n("other"), labels=project.labels))
    server = project.run(
        "server",
        command=HTTPD,
        networks=(NetworkAttach(net.name, ("backend", "api")), NetworkAttach(other.name, ("b2",))),
    )
    client = project.run("client", networks=(NetworkAttach(net.name),))
    live = driver.inspect_container(server).config.networks
    assert live == (NetworkAttach(net.name, ("api", "backend")), NetworkAttach(other.name, ("b2",)))
    assert {name for name, _ in driver.inspect_container(server).ip_addresses} == {
        net.name, other.name,
    }  # fmt: skip

    def fetch() -> str | None:
        result = driver.exec_in(
            client, ["sh", "-c", "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc backend 80"]
        )
        text = result.output.decode(errors="replace")
        return text if PAGE in text else None

    wait_for(fetch, "the client to reach the server by its alias")


def test_networks_create_list_remove(driver: Driver, project: Project) -> None:
    config = NetworkConfig(
        project.n("sub"), subnet="10.213.200.0/24", labels=(*project.labels, ("tier", "x"))
    )
    created = driver.create_network(config)
    assert (created.name, created.subnet) == (config.name, "10.213.200.0/24")
    assert created.driver == "bridge"
    assert created.label("tier") == "x"
    plain = driver.create_network(NetworkConfig(project.n("plain"), labels=project.labels))
    listed = {n.name: n for n in driver.list_networks(project.selector)}
    assert set(listed) == {config.name, plain.name, project.network}
    assert listed[config.name].id == created.id
    tier = driver.list_networks({**project.selector, "tier": "x"})
    assert [n.name for n in tier] == [config.name]
    with pytest.raises(Conflict):
        driver.create_network(config)
    cid = project.run("member", networks=(NetworkAttach(config.name),))
    (address,) = [a for n, a in driver.inspect_container(cid).ip_addresses if n == config.name]
    assert address.startswith("10.213.200.")
    with pytest.raises(Conflict) as in_use:  # a live member: refused at once, naming it
        driver.remove_network(config.name)
    assert project.n("member") in str(in_use.value)
    driver.remove_container(cid, force=True)
    driver.remove_network(config.name)  # right after its container: must not fail
    driver.remove_network(plain.name)
    assert [n.name for n in driver.list_networks(project.selector)] == [project.network]
    with pytest.raises(NotFound):
        driver.remove_network(plain.name)


def test_volumes_create_list_remove(driver: Driver, project: Project) -> None:
    config = VolumeConfig(project.n("data"), labels=(*project.labels, ("keep", "yes")))
    created = driver.create_volume(config)
    assert (created.name, created.driver, created.label("keep")) == (config.name, "local", "yes")
    driver.create_volume(VolumeConfig(project.n("other"), labels=project.labels))
    assert {v.name for v in driver.list_volumes(project.selector)} == {
        config.name, project.n("other"),
    }  # fmt: skip
    assert [v.name for v in driver.list_volumes({**project.selector, "keep": "yes"})] == [
        config.name
    ]
    with pytest.raises(Conflict):
        driver.create_volume(config)
    cid = project.run("user", mounts=(MountSpec("volume", "/data", config.name),))
    with pytest.raises(Conflict):  # in use
        driver.remove_volume(config.name)
    driver.remove_container(cid, force=True)
    driver.remove_volume(config.name)
    with pytest.raises(NotFound):
        driver.remove_volume(config.name)


def test_mounts_and_volumes_from(driver: Driver, project: Project, tmp_path: Path) -> None:
    volume = driver.create_volume(VolumeConfig(project.n("vol"), labels=project.labels))
    host = tmp_path / "host"
    host.mkdir()
    (host / "marker").write_text("from the host\n")
    mounts = (
        MountSpec("volume", "/data", volume.name),
        MountSpec("bind", "/host", str(host), read_only=True),
        MountSpec("tmpfs", "/scratch", size=4 * 1024 * 1024),
        MountSpec("bind", "/rw", str(tmp_path)),
    )
    writer = project.run("writer", mounts=mounts)
    assert driver.inspect_container(writer).config.mounts == tuple(
        sorted(mounts, key=lambda m: m.target)
    )

    def sh(ref: str, script: str) -> tuple[int, str]:
        result = driver.exec_in(ref, ["sh", "-c", script])
        return result.exit_code, result.output.decode(errors="replace")

    assert sh(writer, "echo shared > /data/f && cat /host/marker") == (0, "from the host\n")
    assert sh(writer, "touch /host/nope")[0] != 0  # read-only bind
    assert sh(writer, "echo out > /rw/written")[0] == 0
    assert (tmp_path / "written").read_text() == "out\n"
    code, mounts_text = sh(writer, "grep ' /scratch ' /proc/mounts")
    assert code == 0 and "tmpfs" in mounts_text and "size=4096k" in mounts_text
    # another container sees the named volume's content
    reader = project.run("reader", mounts=(MountSpec("volume", "/v", volume.name, read_only=True),))
    assert sh(reader, "cat /v/f") == (0, "shared\n")
    assert sh(reader, "touch /v/x")[0] != 0
    # volumes_from: every mount of the writer, read-only when asked
    follower = project.run("follower", volumes_from=((project.n("writer"), True),))
    assert driver.inspect_container(follower).config.volumes_from == ((project.n("writer"), True),)
    assert sh(follower, "cat /data/f /host/marker") == (0, "shared\nfrom the host\n")
    assert sh(follower, "touch /data/y")[0] != 0
