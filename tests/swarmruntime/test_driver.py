"""``runtime.swarm.driver`` against a real single-node Swarm: a created service reads back
equal to its spec (server defaults, network ids and the image normalised), an update sent
with a stale version index is re-read and sent again, not lost; ``ping`` passes on a manager
and says why a plain daemon is not one (its node state), or that the endpoint is gone."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from runtime.errors import InvalidRequest, Unavailable
from runtime.swarm import convert
from runtime.swarm.driver import SwarmDriver
from runtime.swarm.spec import RestartPolicy, ServiceSpec
from runtime.types import NetworkAttach, NetworkConfig
from tests.dockerd import PrivateDockerd
from tests.swarmruntime.conftest import IMAGE


def test_read_back_equal_and_stale_version_retried(swarm: SwarmDriver, name: str) -> None:
    swarm.create_network(NetworkConfig(f"{name}_net", labels=(("x", "y"),)))
    spec = convert.canonical(ServiceSpec(
        name, IMAGE.removesuffix(":latest"), command=("sleep", "100000"), replicas=0,
        networks=(NetworkAttach(f"{name}_net", ("db",)),), restart=RestartPolicy("none"),
        labels=(("io.dockwright.project", name),)))
    service_id = swarm.create_service(spec)
    try:
        first = swarm.inspect_service(service_id)
        assert first.spec == spec  # "busybox" read as busybox:latest, the network by name
        assert [s.id for s in swarm.list_services({"io.dockwright.project": name})] == [
            service_id]
        changed = dataclasses.replace(spec, env=(("A", "1"),))
        swarm.update_service(service_id, changed, first.version - 1)  # stale: re-read
        after = swarm.inspect_service(service_id)
        assert after.spec == changed and after.version > first.version
    finally:
        swarm.remove_service(service_id)
        swarm.remove_if_present("network", f"{name}_net")


def test_ping_passes_on_a_manager_and_names_an_inactive_node(swarm: SwarmDriver,
                                                              tmp_path: Path) -> None:
    swarm.ping()  # a manager: one GET /swarm
    daemon = PrivateDockerd()  # a plain daemon, never made a Swarm
    try:
        daemon.start()
        plain = SwarmDriver(daemon.url)
        try:
            with pytest.raises(InvalidRequest, match=r"not a Swarm manager \(node state "
                               r"inactive\)"):
                plain.ping()
        finally:
            plain.close()
    finally:
        daemon.destroy()
    gone = SwarmDriver(f"unix://{tmp_path}/none.sock")
    with pytest.raises(Unavailable):
        gone.ping()
    gone.close()
