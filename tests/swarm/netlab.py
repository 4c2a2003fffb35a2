"""Network namespaces joined by a bridge, and a prefix-based sweep that leaves nothing behind.

Role: :class:`Lab` makes the network of a one-machine Swarm: a *hub* namespace
holding a bridge (``br0``, ``SUBNET.1``) and one namespace per node, each with an
``eth0`` (``SUBNET.1N``) that is one end of a veth pair whose other end sits on the
bridge. Everything lives in namespaces the lab created, named ``<prefix>-hub``,
``<prefix>-node1`` ...: the host's own interfaces, routes and iptables are never
touched (the bridge is not in the host's namespace, so the host's ``FORWARD DROP``
and ``br_netfilter`` do not apply to it), and address ranges of concurrent labs
cannot collide. :func:`sweep` removes everything a lab with that prefix may have
left (processes, mounts, namespaces, cgroups, files); :func:`leaks` lists what is
still there. Both work from the prefix alone, so a lab whose test process was killed
is swept by the next run (:func:`sweep_stale`). Neighbours: ``tests/swarm/cluster.py``
(the dockerds and the Swarm on top), ``tests/swarm/test_cluster.py`` (the leak check).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

SUBNET = "192.168.240"  # inside the lab's namespaces only; clear of Docker's and Swarm's pools
HUB_IP = f"{SUBNET}.1"
NETNS_DIR = Path("/run/netns")
CGROUP_ROOT = Path("/sys/fs/cgroup")
BASE_DIR = Path("/tmp")
PREFIX_STEM = "dwsw-"


def _ip(*args: str) -> None:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {proc.stderr.strip()}")


def node_ip(index: int) -> str:
    """The address of node ``index`` (1-based) on the lab's bridge."""
    return f"{SUBNET}.{10 + index}"


@dataclass
class Lab:
    """The namespaces of one lab; ``base`` is its folder (``/tmp/<prefix>``)."""

    prefix: str
    nodes: int
    base: Path = field(init=False)
    inodes: dict[str, int] = field(default_factory=dict)  # netns name -> inode, for leaks()

    def __post_init__(self) -> None:
        self.base = BASE_DIR / self.prefix

    def netns(self, name: str) -> str:
        """``<prefix>-<name>`` (``hub``, ``node1`` ...)."""
        return f"{self.prefix}-{name}"

    def netns_path(self, name: str) -> Path:
        return NETNS_DIR / self.netns(name)

    def create(self) -> None:
        """Folder, owner record, hub with its bridge, one namespace per node wired to it."""
        self.base.mkdir(mode=0o755)
        (self.base / "owner").write_text(str(os.getpid()))
        hub = self.netns("hub")
        _ip("netns", "add", hub)
        _ip("-n", hub, "link", "set", "lo", "up")
        _ip("-n", hub, "link", "add", "br0", "type", "bridge")
        _ip("-n", hub, "addr", "add", f"{HUB_IP}/24", "dev", "br0")
        _ip("-n", hub, "link", "set", "br0", "up")
        for i in range(1, self.nodes + 1):
            ns = self.netns(f"node{i}")
            _ip("netns", "add", ns)
            _ip("-n", hub, "link", "add", f"v{i}", "type", "veth", "peer", "name", "eth0",
                "netns", ns)
            _ip("-n", hub, "link", "set", f"v{i}", "master", "br0", "up")
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "addr", "add", f"{node_ip(i)}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
        for path in NETNS_DIR.glob(f"{self.prefix}-*"):
            self.inodes[path.name] = path.stat().st_ino

    def run(self, where: str, argv: list[str], timeout: float = 60,
            ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in namespace ``where`` (``hub``, ``node1`` ...), entered with nsenter."""
        return subprocess.run(["nsenter", f"--net={self.netns_path(where)}", "--", *argv],
                              capture_output=True, text=True, timeout=timeout, check=False)


def _proc_pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def _ns_inode(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def lab_pids(prefix: str, inodes: set[int]) -> list[int]:
    """Processes of the lab: its folder in their command line, one of its namespaces as
    their network namespace, or a cgroup under one of its cgroup parents (containers)."""
    base = str(BASE_DIR / prefix).encode()
    cgroup = f"/{prefix}-".encode()
    found = []
    for pid in _proc_pids():
        if pid == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if (base in Path(f"/proc/{pid}/cmdline").read_bytes()
                    or cgroup in Path(f"/proc/{pid}/cgroup").read_bytes()
                    or _ns_inode(pid) in inodes):
                found.append(pid)
    return found


def _mounts(prefix: str) -> list[str]:
    base = str(BASE_DIR / prefix)
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == base or point.startswith(base + "/") or point.startswith(
                f"{NETNS_DIR}/{prefix}-"):
            points.append(point)
    return points


def _cgroups(prefix: str) -> list[Path]:
    """The lab's cgroup parents in every hierarchy (cgroup v1 controllers or v2)."""
    roots = [CGROUP_ROOT, *(p for p in CGROUP_ROOT.iterdir() if p.is_dir())]
    return [g for root in roots for g in root.glob(f"{prefix}-*") if g.is_dir()]


def _rmdir_tree(path: Path) -> None:
    for child in sorted((p for p in path.rglob("*") if p.is_dir()),
                        key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            child.rmdir()
    with contextlib.suppress(OSError):
        path.rmdir()


def _inodes(prefix: str) -> set[int]:
    found = set()
    for path in NETNS_DIR.glob(f"{prefix}-*"):
        with contextlib.suppress(OSError):
            found.add(path.stat().st_ino)
    return found


def sweep(prefix: str, known_inodes: set[int] | None = None) -> None:
    """Remove all a lab with ``prefix`` left: SIGKILL its remaining processes, unmount
    everything under its folder, delete its namespaces and cgroups, delete its folder."""
    inodes = _inodes(prefix) | (known_inodes or set())
    for _ in range(20):  # children may be forked while we kill (shims, restarts)
        pids = lab_pids(prefix, inodes)
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
    for point in sorted(_mounts(prefix), key=lambda p: p.count("/"), reverse=True):
        if subprocess.run(["umount", point], capture_output=True, check=False).returncode:
            subprocess.run(["umount", "-l", point], capture_output=True, check=False)
    for path in NETNS_DIR.glob(f"{prefix}-*"):
        subprocess.run(["ip", "netns", "delete", path.name], capture_output=True, check=False)
        with contextlib.suppress(OSError):
            path.unlink()
    for group in _cgroups(prefix):
        _rmdir_tree(group)
    shutil.rmtree(BASE_DIR / prefix, ignore_errors=True)


def leaks(prefix: str, known_inodes: set[int]) -> list[str]:
    """What of a lab is still there: processes, mounts, namespaces, cgroups, files,
    host interfaces or iptables rules naming it. Empty after a complete teardown."""
    out = [f"process {pid}: {Path(f'/proc/{pid}/cmdline').read_bytes()[:120]!r}"
           for pid in lab_pids(prefix, known_inodes) if Path(f"/proc/{pid}").exists()]
    out += [f"mount {m}" for m in _mounts(prefix)]
    out += [f"netns {p}" for p in NETNS_DIR.glob(f"{prefix}-*")]
    out += [f"cgroup {g}" for g in _cgroups(prefix)]
    if (BASE_DIR / prefix).exists():
        out.append(f"folder {BASE_DIR / prefix}")
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=False)
    out += [f"host link {line.split(':')[1].strip()}" for line in links.stdout.splitlines()
            if prefix in line]
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True, check=False)
    out += [f"iptables {line}" for line in rules.stdout.splitlines()
            if prefix in line or SUBNET + "." in line]
    return out


def sweep_stale() -> list[str]:
    """Sweep labs whose owning test process is gone (a run killed before its teardown);
    labs of live processes (other runs on this machine) are left alone."""
    swept = []
    for base in BASE_DIR.glob(f"{PREFIX_STEM}*"):
        owner = base / "owner"
        try:
            pid = int(owner.read_text())
        except (OSError, ValueError):
            continue
        if not Path(f"/proc/{pid}").exists():
            sweep(base.name)
            swept.append(base.name)
    return swept
