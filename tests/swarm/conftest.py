"""Fixtures of the multi-node Swarm tests: one three-node cluster per test session.

Role: ``swarm_cluster`` starts a :class:`tests.swarm.cluster.SwarmCluster` once per
session (per xdist worker), with the busybox test image in every node and in the
lab's registry; at the end it is torn down and the session fails if anything of it
is left (processes, mounts, namespaces, cgroups, files). ``swarm_project`` gives each
test a unique ``dwt-<hex8>`` project with its own spec directory, whose CLI runs
(:meth:`SwarmProject.cli`) talk to the manager (``DOCKER_HOST``) with
``--runtime swarm``; afterwards every service, network, config and secret of the
project is removed from the cluster (by the ownership label or the name prefix), and
its volumes from every node. Neighbours: ``tests/swarm/cluster.py``,
``tests/integration/conftest.py`` (``run_cli``, the CLI in a subprocess).
"""

from __future__ import annotations

import contextlib
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

from runtime.types import LABEL_PROJECT
from tests.images import busybox_image
from tests.integration.conftest import Run, run_cli
from tests.swarm.cluster import SwarmCluster

IMAGE = "dockwright-test/busybox:latest"


@pytest.fixture(scope="session")
def swarm_cluster() -> Iterator[SwarmCluster]:
    """Three nodes (``node1`` manager, ``node2``/``node3`` workers), the test image on
    each; leak-checked after the session."""
    cluster = SwarmCluster(size=3, images=[busybox_image()])
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.teardown()
        left = cluster.leaks()
        if left:
            pytest.fail("the Swarm test cluster left: " + "; ".join(left))


@dataclass
class SwarmProject:
    """A uniquely named project whose CLI runs target the cluster's manager."""

    name: str
    dir: Path
    cluster: SwarmCluster
    client: Any  # docker.DockerClient on the manager

    def n(self, short: str) -> str:
        """A cluster-unique declared name: ``<project>-<short>``."""
        return f"{self.name}-{short}"

    def write_specs(self, body: str, project_extra: str = "") -> Path:
        """``project.toml`` (name, runtime swarm) and ``app.toml`` holding ``body``."""
        self.write("project.toml", f'[project]\nname = "{self.name}"\nruntime = "swarm"\n'
                                   + project_extra)
        return self.write("app.toml", body)

    def write(self, rel: str, text: str) -> Path:
        path = self.dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path

    def cli(self, command: str, *extra: str, with_dir: bool = True,
            env: dict[str, str] | None = None) -> Run:
        """``dockwright --project NAME --runtime swarm COMMAND [DIR] EXTRA...``."""
        args = ["--project", self.name, "--runtime", "swarm", command,
                *([str(self.dir)] if with_dir else []), *extra]
        return run_cli(args, env={**self.cluster.env(), **(env or {})})

    def apply_ok(self, *extra: str) -> Run:
        run = self.cli("apply", *extra)
        assert run.code == 0, str(run)
        return run

    def service(self, short: str) -> Any:
        """The live service of declared container ``short``."""
        found = [s for s in self.services() if s.name in (short, f"{self.name}_{short}",
                                                          f"{self.name}-{short}")]
        assert found, f"no service {short!r} of {self.name}: {[s.name for s in self.services()]}"
        return found[0]

    def services(self) -> list[Any]:
        return list(self.client.services.list(filters={"label": f"{LABEL_PROJECT}={self.name}"}))

    def versions(self) -> dict[str, int]:
        """Service name -> version index (bumped by every update sent)."""
        return {s.name: int(s.attrs["Version"]["Index"]) for s in self.services()}

    def tasks(self, short: str, state: str = "running") -> list[dict[str, Any]]:
        """Tasks of a service whose current state is ``state`` and that are meant to run."""
        return [t for t in self.service(short).tasks()
                if t["Status"]["State"] == state and t["DesiredState"] == "running"]

    def node_names(self, tasks: list[dict[str, Any]]) -> list[str]:
        """The lab node names (``node1`` ...) the tasks run on."""
        by_id = {n.node_id: n.name for n in self.cluster.nodes}
        return sorted(by_id.get(t.get("NodeID", ""), "?") for t in tasks)

    def wait_running(self, short: str, count: int, timeout: float = 90) -> list[dict[str, Any]]:
        return wait_until(lambda: (t if len(t := self.tasks(short)) == count else None),
                          f"{count} running tasks of {short}", timeout)


def wait_until(pred: Callable[[], Any], what: str, timeout: float = 60.0,
               step: float = 0.5, what_else: Callable[[], str] | None = None) -> Any:
    """Poll ``pred`` until it returns something truthy; fail naming ``what`` (and showing
    ``what_else()``, e.g. a log)."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            more = f"\n{what_else()}" if what_else else ""
            pytest.fail(f"timed out after {timeout}s waiting for {what}{more}")
        time.sleep(step)


def _mine(name: str, labels: dict[str, str] | None, project: str) -> bool:
    return name.startswith((f"{project}_", f"{project}-")) or name == project or (
        (labels or {}).get(LABEL_PROJECT) == project)


def cleanup_swarm_project(cluster: SwarmCluster, project: str) -> None:
    """Remove the project's services, then its configs, secrets and networks (manager),
    then its volumes (every node). Objects of other projects are never touched."""
    with contextlib.closing(cluster.client()) as client:
        for service in client.services.list():
            if _mine(service.name, service.attrs["Spec"].get("Labels"), project):
                with contextlib.suppress(docker.errors.APIError):
                    service.remove()
        for kind in (client.configs, client.secrets):
            for _ in range(30):  # in use until the removed services' tasks are gone
                left = [o for o in kind.list()
                        if _mine(o.name, o.attrs["Spec"].get("Labels"), project)]
                for obj in left:
                    with contextlib.suppress(docker.errors.APIError):
                        obj.remove()
                if not left:
                    break
                time.sleep(0.5)
        for _ in range(30):
            nets = [n for n in client.networks.list()
                    if _mine(str(n.name), n.attrs.get("Labels"), project)]
            for net in nets:
                with contextlib.suppress(docker.errors.APIError):
                    net.remove()
            if not nets:
                break
            time.sleep(0.5)
    for node in cluster.nodes:
        if not node.running:
            continue
        with contextlib.closing(node.client()) as client:
            for container in client.containers.list(all=True, ignore_removed=True):  # tasks left
                if (container.labels or {}).get(LABEL_PROJECT) == project:
                    with contextlib.suppress(docker.errors.APIError):
                        container.remove(force=True)
            for volume in client.volumes.list():
                if _mine(volume.name, volume.attrs.get("Labels"), project):
                    with contextlib.suppress(docker.errors.APIError):
                        volume.remove(force=True)


@pytest.fixture
def swarm_project(swarm_cluster: SwarmCluster, tmp_path: Path) -> Iterator[SwarmProject]:
    name = f"dwt-{uuid.uuid4().hex[:8]}"
    spec_dir = tmp_path / name
    spec_dir.mkdir()
    client = swarm_cluster.client()
    project = SwarmProject(name, spec_dir, swarm_cluster, client)
    try:
        yield project
    finally:
        for node in swarm_cluster.nodes:  # a test that stopped a node gives it back
            if not node.running:
                swarm_cluster.start_node(node.name)
        cleanup_swarm_project(swarm_cluster, name)
        client.close()
