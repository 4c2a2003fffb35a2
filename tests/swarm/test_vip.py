"""Swarm's VIP and ingress routing mesh: on the cluster where the kernel has IPVS, else the spec.

Role: the one test here whose body depends on the machine. Swarm's VIP load balancing
and its ingress routing mesh need IPVS (``/proc/net/ip_vs``); this machine's kernel
may lack it (dockerd then logs "Could not get ipvs family information" and a VIP
answers "No route to host"). With IPVS, a ``vip`` service with an ``ingress`` port is
applied on the three-node cluster and answers on every node's address, also on the
node that runs no task. Without IPVS the test says so and asserts instead the
``ServiceSpec`` dockwright sends for that spec (built from the spec directory by the
controller's own code, converted to API JSON): endpoint mode ``vip``, the port
published in ``ingress`` mode (also when ``mode`` is left out, Swarm's default); it
is never skipped. Neighbours: ``tests/swarm/test_deploy.py`` (dnsrr and host-mode
ports, which work everywhere), ``runtime/swarm/convert.py``.
"""

from __future__ import annotations

from pathlib import Path

from controller.desired.service import services
from controller.desired.specload import recipe_of
from runtime.swarm import convert
from tests.swarm.conftest import SwarmProject, wait_until
from tests.swarm.workloads import host_port, web

IPVS = Path("/proc/net/ip_vs")


def _vip_spec(p: SwarmProject, port: int, mode: str | None) -> str:
    given = "" if mode is None else f', mode = "{mode}"'
    return (web(p.n("web"), replicas=1).replace('endpoint_mode = "dnsrr"',
                                                'endpoint_mode = "vip"')
            + f"ports = [{{ host = {port}, container = 8080{given} }}]\n")


def test_vip_and_the_ingress_routing_mesh(swarm_project: SwarmProject) -> None:
    p = swarm_project
    port = host_port()
    if IPVS.exists():
        p.write_specs(_vip_spec(p, port, "ingress"))
        p.apply_ok()
        tasks = p.wait_running(p.n("web"), 1)
        for node in p.cluster.nodes:  # the mesh answers on every node, task or not
            wait_until(lambda n=node: p.cluster.http_get(f"http://{n.ip}:{port}/") == "v1\n",
                       f"the routing mesh on {node.name} (task on {p.node_names(tasks)})", 60)
        again = p.cli("apply")
        assert again.code == 0, str(again)
        return
    print(f"{IPVS} is missing: this kernel has no IPVS, so Swarm's VIP and ingress routing "
          "mesh cannot work here; asserting the ServiceSpec dockwright sends instead")
    for mode in ("ingress", None):
        p.write_specs(_vip_spec(p, port, mode))
        _, recipe = recipe_of(p.dir, p.name, runtime="swarm")
        desired = services(recipe)
        assert not desired.errors, desired.errors
        (service,) = desired.services
        body = convert.to_api(service.spec)
        assert body["EndpointSpec"] == {"Mode": "vip", "Ports": [
            {"Protocol": "tcp", "TargetPort": 8080, "PublishedPort": port,
             "PublishMode": "ingress"}]}, body["EndpointSpec"]
        assert body["Name"] == p.n("web")
