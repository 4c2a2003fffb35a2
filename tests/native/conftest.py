"""Fixtures of the native runtime's tests (root, crun/runc, conmon, netns).

Role: ``busybox_archive`` (the busybox test image as a ``docker save``
archive, built with Docker once per host by ``tests/images.py``),
``native_driver`` (one ``NativeDriver`` on a temp state folder for the
session, with the image loaded), ``nproject`` (a unique project per test
whose containers, networks and volumes are removed through the driver at the
end), helpers to find leaked kernel objects of given container ids, and the
networking tests' ``mgr`` (a ``NetworkManager`` on a fresh state folder whose
finalizer asserts that nothing of it leaked), ``network`` and ``servers``.
Neighbours: ``tests/native/test_driver.py``, ``tests/native/net_helpers.py``,
``tests/images.py``, ``runtime.native.driver``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from runtime.errors import NotFound
from runtime.native.driver import NativeDriver
from runtime.native.net import NetworkManager
from runtime.native.net.bridge import bridge_ns, container_ns, host_veth
from runtime.native.net.ports import masquerade_owner, nft_rules, rule_owner
from runtime.types import (
    LABEL_MANAGED_BY,
    LABEL_PROJECT,
    MANAGED_BY,
    ContainerConfig,
    NetworkConfig,
    Pairs,
)
from tests.conftest import cleanup_project
from tests.images import BUSYBOX, busybox_image, save_image
from tests.native.net_helpers import Servers, host_links, netns_names

LOOP = ("sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done")


@pytest.fixture(scope="session")
def busybox_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    busybox_image()
    return save_image(BUSYBOX, tmp_path_factory.mktemp("native-images") / "busybox.tar")


@pytest.fixture(scope="session")
def native_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("native-state")


@pytest.fixture(scope="session")
def native_driver(native_state: Path, busybox_archive: Path) -> Iterator[NativeDriver]:
    driver = NativeDriver(state_dir=native_state)
    assert BUSYBOX in driver.load_image(busybox_archive)
    yield driver
    for c in driver.list_containers():
        driver.remove_container(c.id, force=True)
    driver.close()


@dataclass(frozen=True)
class NProject:
    name: str
    driver: NativeDriver

    @property
    def labels(self) -> Pairs:
        return ((LABEL_MANAGED_BY, MANAGED_BY), (LABEL_PROJECT, self.name))

    def n(self, short: str) -> str:
        return f"{self.name}-{short}"

    def config(self, short: str, **fields: Any) -> ContainerConfig:
        base: dict[str, Any] = {
            "name": self.n(short),
            "image": BUSYBOX,
            "command": LOOP,
            "labels": self.labels,
            "stop_timeout": 1.0,
        }
        base.update(fields)
        return ContainerConfig(**base)

    def run(self, short: str, **fields: Any) -> str:
        cid = self.driver.create_container(self.config(short, **fields))
        self.driver.start_container(cid)
        return cid


@pytest.fixture
def nproject(native_driver: NativeDriver) -> Iterator[NProject]:
    proj = NProject(name=f"dwt-{uuid.uuid4().hex[:8]}", driver=native_driver)
    try:
        yield proj
    finally:
        left = cleanup_project(native_driver, proj.name)
        assert not left, f"cleanup of {proj.name} left: {left}"


def leaks(state_dir: Path, ids: Iterable[str]) -> list[str]:
    """Kernel objects and files that still exist for container ``ids``."""
    found: list[str] = []
    ids = set(ids)
    mounts = Path("/proc/self/mountinfo").read_text()
    netns = set(os.listdir("/run/netns")) if Path("/run/netns").is_dir() else set()
    procs: list[bytes] = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                procs.append(Path(entry.path, "cmdline").read_bytes())
            except OSError:
                continue
    for cid in ids:
        short = cid[:12]
        if cid in mounts:
            found.append(f"mount of {short}")
        if any(short in ns for ns in netns):
            found.append(f"netns of {short}")
        for ctrl in Path("/sys/fs/cgroup").iterdir():
            if (ctrl / "dockwright" / cid).exists():
                found.append(f"cgroup {ctrl.name} of {short}")
        if any(cid.encode() in p and (b"conmon" in p or b"shim" in p) for p in procs):
            found.append(f"process of {short}")
        if (state_dir / "containers" / cid).exists():
            found.append(f"folder of {short}")
        if (state_dir / "oci" / cid).exists():
            found.append(f"runtime state of {short}")
        if (state_dir / "net" / "containers" / f"{cid}.json").exists():
            found.append(f"net record of {short}")
    return found


def veth_leaks(network: str, ids: Iterable[str]) -> list[str]:
    """Bridge-side veths of ``ids`` still plugged into ``network``'s bridge."""
    from runtime.native.net import bridge

    ports = set(bridge.bridge_ports(network))
    return [f"veth of {cid[:12]}" for cid in ids if bridge.bridge_veth(cid) in ports]


# native networking (test_net.py, test_net_ports.py) ---------------------------------
@pytest.fixture
def mgr(tmp_path: Path) -> Iterator[NetworkManager]:
    """A manager on a fresh state folder; at the end everything it knows is released
    and no kernel object of its ids or networks may be left."""
    manager = NetworkManager(tmp_path / "state")
    ids: set[str] = set()
    nets: list[tuple[str, str]] = []
    yield manager
    ids |= manager.known_ids()
    nets += [(n.name, n.id) for n in manager.list_networks()]
    manager.gc(set())
    for name, _ in nets:
        with contextlib.suppress(NotFound):
            manager.remove_network(name)
    leftover_ns = {container_ns(c) for c in ids} | {bridge_ns(n) for n, _ in nets}
    assert not (leftover_ns & netns_names()), "leaked network namespaces"
    assert not ({host_veth(i) for _, i in nets} & host_links()), "leaked host veths"
    owners = {rule_owner(r) for r in nft_rules()}
    assert not ({c[:12] for c in ids} & owners), "leaked nft rules"
    masq = {masquerade_owner(r) for r in nft_rules()}
    assert not ({n for n, _ in nets} & masq), "leaked masquerade rules"
    assert manager.ports.proxy.pid() is None, "the proxy daemon outlived its last container"


@pytest.fixture
def servers() -> Iterator[Servers]:
    srv = Servers()
    yield srv
    srv.stop()


@pytest.fixture
def network(mgr: NetworkManager) -> str:
    name = f"dwt-{secrets.token_hex(4)}"
    mgr.ensure_network(NetworkConfig(name=name))
    return name
