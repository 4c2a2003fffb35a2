"""The test cluster itself: three ready nodes that really are apart, and no leaks.

Role: proves what the Swarm runtime's integration tests rely on, with the Docker SDK
only (no dockwright code): three nodes with distinct hostnames and ``dw.node``
labels, the test image on every node and in the lab's registry (pulled by a worker),
tasks spread over the nodes, an overlay network between namespaces (``dnsrr`` names
resolve to tasks on other nodes), host-mode ports on each node's address, a stopped
node seen down and its tasks rescheduled. ``test_teardown_leaves_nothing`` builds a
cluster of its own with running tasks and checks that teardown removes everything.
Neighbours: ``tests/swarm/cluster.py``, ``tests/swarm/netlab.py``, ``conftest.py``.
"""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from pathlib import Path
from typing import Any

import docker.errors
from docker.types import EndpointSpec, ServiceMode

from tests.images import busybox_image
from tests.swarm.cluster import NODE_LABEL, SwarmCluster
from tests.swarm.conftest import IMAGE, wait_until
from tests.swarm.netlab import BASE_DIR, Lab, sweep_stale

HTTPD = ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]


def _service(client: Any, name: str, replicas: int, **extra: Any) -> Any:
    return client.services.create(
        IMAGE, command=HTTPD, name=name, mode=ServiceMode("replicated", replicas),
        endpoint_spec=EndpointSpec(mode="dnsrr", ports={8080: (8080, "tcp", "host")}),
        **extra)


def _running(service: Any) -> list[dict[str, Any]]:
    return [t for t in service.tasks()
            if t["Status"]["State"] == "running" and t["DesiredState"] == "running"]


def test_three_ready_nodes_with_their_own_names_and_the_image(
        swarm_cluster: SwarmCluster) -> None:
    with contextlib.closing(swarm_cluster.client()) as client:
        nodes = client.nodes.list()
        assert sorted(n.attrs["Description"]["Hostname"] for n in nodes) == [
            "node1", "node2", "node3"]
        assert {n.attrs["Status"]["State"] for n in nodes} == {"ready"}
        assert sorted(n.attrs["Spec"]["Labels"][NODE_LABEL] for n in nodes) == [
            "node1", "node2", "node3"]
        assert [n.attrs["Spec"]["Role"] for n in nodes].count("manager") == 1
    for node in swarm_cluster.nodes:
        with contextlib.closing(node.client()) as client:
            assert client.images.get(IMAGE).tags, node.name
    # every node is reachable from the hub (where the test clients run)
    for node in swarm_cluster.nodes:
        assert swarm_cluster.run("hub", ["busybox", "ping", "-c1", "-W2", node.ip]).returncode == 0


def test_a_worker_pulls_from_the_lab_registry(swarm_cluster: SwarmCluster) -> None:
    ref = f"{swarm_cluster.registry}/{IMAGE}"
    with contextlib.closing(swarm_cluster.client("node3")) as client:
        with contextlib.suppress(docker.errors.ImageNotFound):
            client.images.remove(ref)
        image = client.images.pull(ref)
        assert ref in image.tags
        client.images.remove(ref)


def test_tasks_spread_talk_over_the_overlay_and_publish_host_ports(
        swarm_cluster: SwarmCluster) -> None:
    name = f"dwt-{uuid.uuid4().hex[:8]}"
    with contextlib.closing(swarm_cluster.client()) as client:
        net = client.networks.create(name, driver="overlay", attachable=True)
        service = _service(client, name, 3, networks=[name], maxreplicas=1)
        try:
            tasks = wait_until(lambda: (r if len(r := _running(service)) == 3 else None),
                               "3 running tasks", 90)
            assert len({t["NodeID"] for t in tasks}) == 3  # one per node
            hosts = {swarm_cluster.http_get(f"http://{n.ip}:8080/").strip()
                     for n in swarm_cluster.nodes}
            assert len(hosts) == 3 and "" not in hosts  # each node serves its own task
            probe = client.containers.run(
                IMAGE, ["sh", "-c", f"nslookup tasks.{name} | grep -c '^Address: 10\\.'"],
                network=name, remove=True)
            assert probe.decode().strip() == "3"  # dnsrr over VXLAN, three namespaces
        finally:
            service.remove()
            wait_until(lambda: not _containers_of(swarm_cluster, name), "tasks gone", 60)
            net.remove()


def _containers_of(cluster: SwarmCluster, service: str) -> list[str]:
    found = []
    for node in cluster.nodes:
        with contextlib.closing(node.client()) as client:
            found += [c.name for c in client.containers.list(
                all=True, ignore_removed=True,
                filters={"label": f"com.docker.swarm.service.name={service}"})]
    return found


def test_a_stopped_node_is_seen_down_and_its_task_rescheduled(
        swarm_cluster: SwarmCluster) -> None:
    name = f"dwt-{uuid.uuid4().hex[:8]}"
    with contextlib.closing(swarm_cluster.client()) as client:
        service = _service(client, name, 2, maxreplicas=1,
                           constraints=[f"node.labels.{NODE_LABEL} != node1"])
        try:
            wait_until(lambda: len(_running(service)) == 2, "2 running tasks", 90)
            swarm_cluster.stop_node("node3")
            swarm_cluster.wait_down("node3")
            node1 = swarm_cluster.node("node1").node_id
            # node3's slot cannot go to node1 (constraint) nor node2 (max 1 per node):
            # it waits, and runs again once node3 is back
            wait_until(lambda: any(t["Status"]["State"] == "pending"
                                   for t in service.tasks()), "a pending task", 60)
            assert all(t.get("NodeID") != node1 for t in service.tasks())
            swarm_cluster.start_node("node3")
            wait_until(lambda: len(_running(service)) == 2, "2 running tasks again", 90)
        finally:
            if not swarm_cluster.node("node3").running:
                swarm_cluster.start_node("node3")
            service.remove()


def test_teardown_leaves_nothing(tmp_path: Path) -> None:
    cluster = SwarmCluster(size=2, images=[busybox_image()])
    cluster.start()
    try:
        with contextlib.closing(cluster.client()) as client:
            client.networks.create("lab", driver="overlay", attachable=True)
            service = _service(client, "web", 2, networks=["lab"])
            wait_until(lambda: len(_running(service)) == 2, "2 running tasks", 90)
        running = cluster.leaks()  # the check sees a live lab
        assert any(x.startswith("process") for x in running), running
        assert any(x.startswith("mount") for x in running), running
        assert any(x.startswith("netns") for x in running), running
        assert any(x.startswith("cgroup") for x in running), running
    finally:
        cluster.teardown()
    assert cluster.leaks() == []


def test_a_lab_whose_owner_died_is_swept_by_the_next_run() -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    lab = Lab(f"dwsw-{uuid.uuid4().hex[:6]}", 1)
    lab.create()
    (lab.base / "owner").write_text(str(dead.pid))
    inodes = set(lab.inodes.values())
    assert Path(f"/run/netns/{lab.prefix}-hub").exists()
    assert lab.prefix in sweep_stale()
    assert not (BASE_DIR / lab.prefix).exists()
    assert not list(Path("/run/netns").glob(f"{lab.prefix}-*"))
    assert inodes  # the namespaces existed
