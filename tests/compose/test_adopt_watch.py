"""``watch`` heals containers adopted from docker-compose 1.29 on their own events.

An adopted container that was never recreated carries only compose's labels,
not dockwright's project label that the event subscription follows; the watch
service must still react to it being killed, stopped, paused or disconnected
from its network by hand. The service runs with ``--resync 0`` (no periodic
pass), so only a runtime event can explain a heal. Neighbours:
``tests/compose/conftest.py`` (the compose project), ``tests/watch/helpers.py``
(the service as a subprocess), ``controller.planning.adoption``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import docker

from tests.compose.conftest import ComposeProject
from tests.conftest import wait_for
from tests.ports import free_port
from tests.watch.helpers import Service

COMPOSE = """
version: "3.7"
services:
  web:
    image: IMAGE
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]
    volumes: ["data:/data"]
  worker:
    image: IMAGE
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]
    stop_grace_period: 1s
volumes:
  data:
"""


def _watch(p: ComposeProject, tmp_path: Path) -> Service:
    locks = tmp_path / "locks"
    locks.mkdir()
    port = free_port()
    return Service(["watch", "--resync", "0", str(p.folder / "dockwright"),
                    "--listen", f"127.0.0.1:{port}"],
                   env={"DOCKWRIGHT_STATE_DIR": str(p.state), "DOCKWRIGHT_LOCK_DIR": str(locks)},
                   port=port)


def _again(client: docker.DockerClient, name: str, cid: str, started: str) -> Any:
    """The container ``cid``, running again since ``started`` (None until then)."""
    c = client.containers.get(name)
    return c if c.id == cid and c.status == "running" and \
        c.attrs["State"]["StartedAt"] != started else None


def test_watch_heals_adopted_containers_on_their_events(
        compose_project: ComposeProject, docker_client: docker.DockerClient,
        tmp_path: Path) -> None:
    p = compose_project
    p.write(COMPOSE)
    p.compose("up", "-d")
    web, worker = (docker_client.containers.get(f"{p.name}_{s}_1") for s in ("web", "worker"))
    p.import_and_adopt()
    svc = _watch(p, tmp_path)
    try:
        svc.wait_ready()
        first = svc.wait_event("pass")
        assert first["actions"] == 0, svc.output()  # adopted: nothing to do
        assert "io.dockwright.project" not in docker_client.containers.get(web.id).labels

        # docker kill: an event of the adopted container brings it back (same container)
        web.reload()
        web.kill()
        wait_for(lambda: _again(docker_client, web.name, web.id,
                                web.attrs["State"]["StartedAt"]), "killed web running again")
        svc.wait_event("drift_corrected", resource="web", action="start")

        # docker stop
        worker.reload()
        worker.stop(timeout=1)
        wait_for(lambda: _again(docker_client, worker.name, worker.id,
                                worker.attrs["State"]["StartedAt"]),
                 "stopped worker running again")
        svc.wait_event("drift_corrected", resource="worker", action="start")

        # docker pause: unpaused again
        worker.pause()
        wait_for(lambda: docker_client.containers.get(worker.id).status == "running",
                 "paused worker unpaused")

        # docker network disconnect (a network event: it carries no container labels)
        network = docker_client.networks.get(f"{p.name}_default")
        network.disconnect(web.id)
        wait_for(lambda: network.name in docker_client.containers.get(web.id).attrs[
            "NetworkSettings"]["Networks"], "web connected again")

        assert not any("resync" in e["triggers"] for e in svc.logged("pass"))
        assert svc.terminate() == 0
    finally:
        svc.close()
    for c in (web, worker):  # healed in place: still compose's containers, never recreated
        assert docker_client.containers.get(c.id).labels["com.docker.compose.project"] == p.name
