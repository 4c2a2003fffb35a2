"""A multi-node Docker Swarm on one machine, for the Swarm runtime's integration tests.

Role: :class:`SwarmCluster` starts one ``dockerd`` per network namespace of a
:class:`tests.swarm.netlab.Lab` (entered with ``nsenter --net=/run/netns/NAME``, never
``ip netns exec``, which remounts ``/sys`` and hides the cgroup mounts; each also in a
UTS namespace of its own so that nodes have distinct hostnames ``node1`` ...). Each
daemon has its own data root, exec root (and so its own containerd), pid file, unix
socket, empty config file (``{}``), cgroup parent, containerd namespaces and
``DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1`` (a worker never tries to pull an image it
has). ``node1`` runs ``swarm init`` (manager, dispatcher heartbeat 1 s so that a stopped
node is seen down quickly), the others join as workers; every node gets the label
``dw.node=<name>``. The given images are copied from the host's daemon into every
node, and pushed to a local registry (Debian's ``docker-registry``) that runs in the
hub namespace at ``HUB_IP:5000``, which every node reaches and trusts as insecure.
Clients (dockwright's CLI, the tests) talk to the manager through its socket:
``env()`` gives ``DOCKER_HOST``. :meth:`SwarmCluster.teardown` stops everything and
sweeps the lab; :meth:`SwarmCluster.leaks` lists what would be left.
Neighbours: ``tests/swarm/netlab.py`` (namespaces, sweep, leak check),
``tests/swarm/conftest.py`` (the session fixture), ``bench/bench_swarm.py``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import docker

from tests.swarm.netlab import HUB_IP, PREFIX_STEM, Lab, leaks, node_ip, sweep, sweep_stale

REGISTRY = f"{HUB_IP}:5000"
REGISTRY_BIN = "/usr/bin/docker-registry"
NODE_LABEL = "dw.node"
REGISTRY_CONFIG = """\
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: {addr}
"""


def _wait(pred: Callable[[], Any], what: str, timeout: float, step: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(step)


class Node:
    """One ``dockerd`` in the lab namespace ``<prefix>-<name>``."""

    def __init__(self, lab: Lab, index: int) -> None:
        self.lab = lab
        self.index = index
        self.name = f"node{index}"
        self.ip = node_ip(index)
        self.base = lab.base / self.name
        self.sock = self.base / "docker.sock"
        self.url = f"unix://{self.sock}"
        self.log = self.base / "dockerd.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.node_id = ""

    def argv(self) -> list[str]:
        ns = self.lab.netns(self.name)
        dockerd = ["dockerd", "--host", self.url,
                   "--data-root", str(self.base / "data"), "--exec-root", str(self.base / "exec"),
                   "--pidfile", str(self.base / "docker.pid"),
                   "--config-file", str(self.lab.base / "daemon.json"),
                   "--cgroup-parent", ns,
                   "--containerd-namespace", ns, "--containerd-plugins-namespace", f"{ns}-p",
                   "--insecure-registry", REGISTRY, "--shutdown-timeout", "2"]  # fmt: skip
        return ["nsenter", f"--net={self.lab.netns_path(self.name)}", "--",
                "unshare", "--uts", "--",
                "sh", "-c", 'hostname "$0" && exec "$@"', self.name, *dockerd]

    def spawn(self) -> None:
        """Start the daemon (returns at once; :meth:`wait_up` waits for its API)."""
        self.base.mkdir(exist_ok=True)
        with self.log.open("ab") as log:
            env = dict(os.environ, DOCKER_SERVICE_PREFER_OFFLINE_IMAGE="1")
            self.proc = subprocess.Popen(self.argv(), stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL, env=env)

    def wait_up(self, timeout: float = 60) -> None:
        _wait(self._ping, f"dockerd of {self.name} (log: {self.log})", timeout)

    def _ping(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            tail = self.log.read_text(errors="replace")[-1500:] if self.log.exists() else ""
            raise RuntimeError(f"dockerd of {self.name} exited; end of {self.log}:\n{tail}")
        if not self.sock.exists():
            return False
        try:
            client = docker.DockerClient(base_url=self.url, timeout=5)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except Exception:  # not answering yet
            return False

    def client(self, timeout: int = 60) -> Any:
        return docker.DockerClient(base_url=self.url, timeout=timeout)

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM the daemon (it stops its containers) and wait for it to exit."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class SwarmCluster:
    """``start()`` builds it, ``teardown()`` removes it; ``nodes[0]`` is the manager."""

    def __init__(self, size: int = 3, images: Iterable[str] = (),
                 host_client: Any = None) -> None:
        self.lab = Lab(f"{PREFIX_STEM}{uuid.uuid4().hex[:6]}", size)
        self.nodes = [Node(self.lab, i) for i in range(1, size + 1)]
        self.images = tuple(images)
        self.host_client = host_client
        self.registry = REGISTRY
        self.registry_proc: subprocess.Popen[bytes] | None = None

    @property
    def prefix(self) -> str:
        return self.lab.prefix

    @property
    def manager(self) -> Node:
        return self.nodes[0]

    @property
    def url(self) -> str:
        """The manager's ``DOCKER_HOST``."""
        return self.manager.url

    def env(self) -> dict[str, str]:
        """Environment for a client of the cluster (dockwright's CLI, ``docker``)."""
        return {"DOCKER_HOST": self.url}

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def client(self, name: str = "node1", timeout: int = 60) -> Any:
        return self.node(name).client(timeout)

    # ---------------------------------------------------------------- building it
    def start(self) -> None:
        sweep_stale()
        try:
            self.lab.create()
            (self.lab.base / "daemon.json").write_text("{}")  # empty: no host settings
            self._start_registry()
            for node in self.nodes:
                node.spawn()
            for node in self.nodes:
                node.wait_up()
            self._form_swarm()
            self._load_images()
        except BaseException:
            self.teardown()
            raise

    def _start_registry(self) -> None:
        root = self.lab.base / "registry"
        root.mkdir()
        config = root / "config.yml"
        config.write_text(REGISTRY_CONFIG.format(root=root / "storage", addr=self.registry))
        with (root / "registry.log").open("ab") as log:
            self.registry_proc = subprocess.Popen(
                ["nsenter", f"--net={self.lab.netns_path('hub')}", "--",
                 REGISTRY_BIN, "serve", str(config)],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        _wait(lambda: self.lab.run("hub", ["curl", "-sf", "-o", "/dev/null",
                                           f"http://{self.registry}/v2/"]).returncode == 0,
              f"the registry at {self.registry} (log: {root / 'registry.log'})", 30)

    def _form_swarm(self) -> None:
        mgr = self.manager
        with contextlib.closing(mgr.client()) as client:
            client.swarm.init(advertise_addr=mgr.ip, listen_addr=f"{mgr.ip}:2377",
                              dispatcher_heartbeat_period=1_000_000_000)
            token = client.swarm.attrs["JoinTokens"]["Worker"]
            mgr.node_id = client.info()["Swarm"]["NodeID"]

        def join(node: Node) -> None:
            with contextlib.closing(node.client()) as worker:
                worker.swarm.join(remote_addrs=[f"{mgr.ip}:2377"], join_token=token,
                                  listen_addr=f"{node.ip}:2377", advertise_addr=node.ip)
                node.node_id = worker.info()["Swarm"]["NodeID"]

        with concurrent.futures.ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(join, self.nodes[1:]))
        with contextlib.closing(mgr.client()) as client:
            for node in self.nodes:
                live = client.nodes.get(node.node_id)
                spec = dict(live.attrs["Spec"])
                spec["Labels"] = {**(spec.get("Labels") or {}), NODE_LABEL: node.name}
                live.update(spec)
        self.wait_ready([n.name for n in self.nodes])

    def wait_ready(self, names: list[str], timeout: float = 60) -> None:
        """Wait until the manager sees the named nodes ``ready``."""
        ids = {self.node(n).node_id for n in names}

        def ready() -> bool:
            with contextlib.closing(self.manager.client()) as client:
                states = {n.id: n.attrs["Status"]["State"] for n in client.nodes.list()}
            return all(states.get(i) == "ready" for i in ids)

        _wait(ready, f"nodes {names} ready", timeout)

    def wait_down(self, name: str, timeout: float = 60) -> None:
        """Wait until the manager sees node ``name`` ``down``."""
        node_id = self.node(name).node_id

        def down() -> bool:
            with contextlib.closing(self.manager.client()) as client:
                return bool(client.nodes.get(node_id).attrs["Status"]["State"] == "down")

        _wait(down, f"node {name} down", timeout)

    def _load_images(self) -> None:
        if not self.images:
            return
        host = self.host_client or docker.from_env(timeout=300)
        try:
            archives = [b"".join(host.images.get(ref).save(named=True)) for ref in self.images]
        finally:
            if self.host_client is None:
                host.close()

        def load(node: Node) -> None:
            with contextlib.closing(node.client(timeout=300)) as client:
                for archive in archives:
                    client.images.load(archive)

        with concurrent.futures.ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(load, self.nodes))
        with contextlib.closing(self.manager.client(timeout=300)) as client:
            for ref in self.images:
                self.push(client, ref)

    def push(self, client: Any, ref: str) -> str:
        """Tag ``ref`` (present on the node of ``client``) into the lab's registry and push
        it; return the registry reference."""
        target = f"{self.registry}/{ref}"
        repo, _, tag = target.rpartition(":")
        client.api.tag(ref, repo, tag)
        for chunk in client.api.push(repo, tag=tag, stream=True, decode=True):
            if "error" in chunk:
                raise RuntimeError(f"push of {target} failed: {chunk['error']}")
        return target

    # ---------------------------------------------------------------- node failures
    def stop_node(self, name: str) -> None:
        """Stop a node's daemon (its tasks stop); the manager sees it down after ~3 s."""
        if self.node(name) is self.manager:
            raise ValueError("stopping the only manager loses the cluster: stop a worker")
        self.node(name).stop()

    def start_node(self, name: str) -> None:
        """Start a stopped node again; it rejoins (its Swarm state is in its data root)."""
        node = self.node(name)
        node.spawn()
        node.wait_up()
        self.wait_ready([name])

    # ---------------------------------------------------------------- running things
    def run(self, where: str, argv: list[str], timeout: float = 60,
            ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in the network namespace of a node (``node1`` ...) or ``hub``."""
        return self.lab.run(where, argv, timeout)

    def http_get(self, url: str, where: str = "hub") -> str:
        """GET ``url`` from a lab namespace; "" when it fails."""
        proc = self.run(where, ["curl", "-sf", "--max-time", "5", url], timeout=15)
        return proc.stdout if proc.returncode == 0 else ""

    # ---------------------------------------------------------------- removing it
    def teardown(self) -> None:
        """Stop the daemons (they stop their containers) and the registry, then sweep:
        remaining processes, mounts, namespaces (with the bridge and veths), cgroups,
        files."""
        with concurrent.futures.ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(lambda n: n.stop(30), self.nodes))
        if self.registry_proc is not None:
            self.registry_proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.registry_proc.wait(10)
            self.registry_proc = None
        sweep(self.prefix, set(self.lab.inodes.values()))

    def leaks(self) -> list[str]:
        return leaks(self.prefix, set(self.lab.inodes.values()))
