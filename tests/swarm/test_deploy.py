"""``apply``, ``diff``, ``status``, ``ps``, prune and ``down`` on a three-node Swarm (the CLI).

Role: the issue's deploy behaviour checked with the Docker SDK on the manager,
independently of the runtime under test: ``max_per_node`` spreads the tasks over the
nodes and each node serves its own task on a host-mode port; a second ``apply``
sends nothing (no service version changes) and ``diff`` reports no change; ``status``
and ``ps`` show replicas and each task's node; prune removes only what the project
owns and was removed from the specs (never a volume, never an unowned service);
``down`` removes the project's services, networks, secrets and configs.
Neighbours: ``tests/swarm/conftest.py`` (cluster, project), ``workloads.py``.
"""

from __future__ import annotations

import contextlib

import pytest
from docker.types import ServiceMode

from runtime.errors import Conflict
from runtime.swarm.driver import SwarmDriver
from tests.swarm.conftest import SwarmProject, wait_until
from tests.swarm.workloads import IMAGE, host_port, network, sleeper, web


def test_max_per_node_spreads_tasks_and_a_second_apply_sends_nothing(
        swarm_project: SwarmProject) -> None:
    p = swarm_project
    port = host_port()
    p.write_specs(web(p.n("web"), replicas=3, port=port,
                      extra="placement = { max_per_node = 1 }"))
    p.apply_ok()
    tasks = p.wait_running(p.n("web"), 3)
    assert p.node_names(tasks) == ["node1", "node2", "node3"]  # one task on each node
    answers = [p.cluster.http_get(f"http://{node.ip}:{port}/") for node in p.cluster.nodes]
    assert answers == ["v1\n"] * 3  # each node serves its own task on the host-mode port

    before = p.versions()
    again = p.cli("apply")
    assert again.code == 0, str(again)
    diff = p.cli("diff")
    assert diff.code == 0, str(diff)  # exit 2 would mean a change
    assert p.versions() == before  # no update sent: Swarm's rollback target is kept
    assert [t["ID"] for t in p.tasks(p.n("web"))] == [t["ID"] for t in tasks]

    status = p.cli("status")
    assert status.code == 0, str(status)
    assert p.n("web") in status.text and "3/3" in status.text, str(status)
    ps = p.cli("ps", with_dir=False)
    assert ps.code == 0, str(ps)
    for node in ("node1", "node2", "node3"):  # each task's node
        assert node in ps.text, str(ps)


def test_a_changed_replica_count_updates_only_that_service(swarm_project: SwarmProject) -> None:
    p = swarm_project
    p.write_specs(sleeper(p.n("a")) + sleeper(p.n("b")))
    p.apply_ok()
    before = p.versions()
    p.write_specs(sleeper(p.n("a"), replicas=2) + sleeper(p.n("b")))
    diff = p.cli("diff")
    assert diff.code == 2 and p.n("a") in diff.text and p.n("b") not in diff.text, str(diff)
    p.apply_ok()
    after = p.versions()
    assert after[p.n("b")] == before[p.n("b")]
    assert after[p.n("a")] > before[p.n("a")]
    p.wait_running(p.n("a"), 2)


def test_prune_removes_only_owned_undeclared_services_and_keeps_volumes(
        swarm_project: SwarmProject) -> None:
    p = swarm_project
    keep, gone = p.n("keep"), p.n("gone")
    vol = p.n("data")
    mount = (f'volumes = ["{vol}:/data"]\n'
             'placement = { constraints = ["node.labels.dw.node == node2"] }')
    p.write_specs(f"[volume.{vol}]\n\n" + sleeper(keep) + sleeper(gone, extra=mount)
                  + sleeper(p.n("third")))
    p.apply_ok()
    p.wait_running(gone, 1)
    stranger = p.client.services.create(  # same prefix, no ownership label: not ours
        IMAGE, name=p.n("stranger"), command=["sleep", "3600"],
        mode=ServiceMode("replicated", 0))
    try:
        p.write_specs(f"[volume.{vol}]\n\n" + sleeper(keep) + sleeper(p.n("third")))
        p.apply_ok()
        names = {s.name for s in p.client.services.list()}
        assert gone not in names and keep in names and p.n("stranger") in names
        with contextlib.closing(p.cluster.client("node2")) as node2:
            assert node2.volumes.get(vol)  # named volumes are never pruned
    finally:
        stranger.remove()


def test_down_removes_services_networks_secrets_and_configs(swarm_project: SwarmProject) -> None:
    p = swarm_project
    net = p.n("net")
    p.write("pw.txt", "s3cret-down\n")
    p.write("app.conf", "mode = down\n")
    files = ('secrets = { pw = { file = "pw.txt" } }\n'
             'configs = { "/etc/app.conf" = { file = "app.conf" } }\n')
    # b's tasks take 3 s to stop: the network is still in use by them when down removes it
    lingering = (f'[container.{p.n("b")}]\nimage = "{IMAGE}"\nreplicas = 3\n'
                 'command = ["sh", "-c", "trap \'sleep 3; exit 0\' TERM; '
                 'while :; do sleep 1; done"]\n'
                 f'stop_timeout = "10s"\nendpoint_mode = "dnsrr"\nnetworks = ["{net}"]\n')
    p.write_specs(network(net) + sleeper(p.n("a"), extra=f'networks = ["{net}"]\n' + files)
                  + lingering)
    p.apply_ok()
    p.wait_running(p.n("a"), 1)
    p.wait_running(p.n("b"), 3)
    assert [s for s in p.client.secrets.list() if s.name.startswith(f"{p.name}_")]
    down = p.cli("down")
    assert down.code == 0, str(down)
    assert p.services() == []
    wait_until(lambda: not [n for n in p.client.networks.list(names=[net])
                            if n.name == net], "the project network removed", 60)
    assert not [s for s in p.client.secrets.list() if s.name.startswith(f"{p.name}_")]
    assert not [c for c in p.client.configs.list() if c.name.startswith(f"{p.name}_")]
    again = p.cli("down")  # nothing left: still fine
    assert again.code == 0, str(again)
    assert p.n("a") not in {s.name for s in p.client.services.list()}


def test_a_network_in_use_is_a_conflict_that_down_retries(swarm_project: SwarmProject) -> None:
    """Swarm refuses to remove a network that a service, or a task meant to run, uses
    (HTTP 400 "is in use by service/task"). Right after a service is removed its tasks keep
    that desired state a moment, so ``down`` of 20 services met "in use by task" and
    failed. It must be a Conflict (``down`` retries it while the tasks go), not a
    configuration error; shown here with the deterministic case, a service still there."""
    p = swarm_project
    net = p.n("net")
    p.write_specs(network(net) + sleeper(p.n("a"), extra=f'networks = ["{net}"]'))
    p.apply_ok()
    p.wait_running(p.n("a"), 1)
    driver = SwarmDriver(p.cluster.url)
    try:
        with pytest.raises(Conflict, match="is in use by service"):
            driver.remove_network(net)
    finally:
        driver.close()
