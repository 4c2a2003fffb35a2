"""Persistent IPv4 address management for native networks.

Role: one pool per network in ``<state_dir>/net/ipam/<network>.json``
(subnet, gateway, allocations keyed by container id), guarded by an flock so
several dockwright processes agree. A container that is detached and
attached again keeps its address (its MAC is derived from the address, so
peers' ARP caches stay right); only ``release`` (container removal or
``gc``) frees it. Default subnets are ``10.213.N.0/24``, chosen not to overlap
the host's routes nor another pool. Neighbours: ``store`` (files, locks),
``manager`` (the caller), ``bridge`` (uses the gateway address).
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

from runtime.errors import Conflict, InvalidRequest, NotFound, Permanent
from runtime.native.net import store

DEFAULT_BASE = "10.213.0.0/16"


@dataclass(frozen=True)
class Pool:
    network: str
    subnet: str  # "10.213.0.0/24"
    gateway: str  # "10.213.0.1"

    @property
    def prefixlen(self) -> int:
        return ipaddress.ip_network(self.subnet).prefixlen


def mac_for(ip: str) -> str:
    """The MAC of a container interface: 02:42 followed by the IPv4 bytes (as Docker)."""
    return "02:42:" + ":".join(f"{b:02x}" for b in ipaddress.IPv4Address(ip).packed)


def host_routes() -> list[ipaddress.IPv4Network]:
    """IPv4 destinations of the host's main routing table (default route excluded)."""
    nets = []
    try:
        lines = Path("/proc/net/route").read_text().splitlines()[1:]
    except OSError:
        return []
    for line in lines:
        fields = line.split()
        if len(fields) < 8:
            continue
        dest = socket.inet_ntoa(struct.pack("<I", int(fields[1], 16)))
        mask = socket.inet_ntoa(struct.pack("<I", int(fields[7], 16)))
        net = ipaddress.IPv4Network(f"{dest}/{mask}", strict=False)
        if net.prefixlen > 0:
            nets.append(net)
    return nets


class Ipam:
    """Address pools of all native networks, persisted under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = root / ".lock"

    def _path(self, network: str) -> Path:
        return self.root / f"{network}.json"

    def _load(self, network: str) -> dict[str, object] | None:
        return store.read_json(self._path(network))

    @staticmethod
    def _pool(network: str, data: dict[str, object]) -> Pool:
        return Pool(network=network, subnet=str(data["subnet"]), gateway=str(data["gateway"]))

    def pool(self, network: str) -> Pool | None:
        data = self._load(network)
        return None if data is None else self._pool(network, data)

    def pools(self) -> list[Pool]:
        out = []
        for path in sorted(self.root.glob("*.json")):
            data = store.read_json(path)
            if data is not None:
                out.append(self._pool(path.stem, data))
        return out

    def ensure_pool(self, network: str, subnet: str | None = None) -> Pool:
        """The pool of ``network``, creating it (with ``subnet`` or a free default)."""
        with store.flock(self._lock):
            data = self._load(network)
            if data is not None:
                pool = self._pool(network, data)
                if subnet is not None and ipaddress.ip_network(subnet, strict=False) != \
                        ipaddress.ip_network(pool.subnet):
                    raise Conflict(
                        f"network {network} exists with subnet {pool.subnet}, not {subnet}",
                        hint="remove the network to change its subnet",
                    )
                return pool
            taken = [ipaddress.ip_network(p.subnet) for p in self.pools()]
            net = self._choose(network, subnet, taken)
            hosts = net.hosts()
            gateway = str(next(hosts))
            store.write_json(self._path(network), {
                "subnet": str(net), "gateway": gateway, "allocations": {},
            })
            return Pool(network=network, subnet=str(net), gateway=gateway)

    @staticmethod
    def _choose(
        network: str, subnet: str | None, taken: list[ipaddress.IPv4Network | ipaddress.IPv6Network]
    ) -> ipaddress.IPv4Network:
        if subnet is not None:
            try:
                net = ipaddress.ip_network(subnet, strict=False)
            except ValueError as exc:
                raise InvalidRequest(f"network {network}: bad subnet {subnet!r}: {exc}",
                                     hint="use CIDR notation, e.g. 10.20.0.0/24") from exc
            if not isinstance(net, ipaddress.IPv4Network) or net.prefixlen > 29:
                raise InvalidRequest(f"network {network}: subnet {subnet} is not an IPv4 /29 "
                                     "or larger", hint="use e.g. 10.20.0.0/24")
            clash = next((t for t in taken if t.overlaps(net)), None)
            if clash is not None:
                raise Conflict(f"network {network}: subnet {net} overlaps {clash} of another "
                               "dockwright network", hint="choose another subnet")
            return net
        busy = [*taken, *host_routes()]
        for candidate in ipaddress.IPv4Network(DEFAULT_BASE).subnets(new_prefix=24):
            if not any(candidate.overlaps(b) for b in busy):
                return candidate
        raise Permanent(f"network {network}: no free /24 left in {DEFAULT_BASE}",
                        hint="remove unused networks or give this one a subnet")

    def remove_pool(self, network: str) -> None:
        with store.flock(self._lock):
            store.remove(self._path(network))

    def allocate(self, network: str, cid: str) -> str:
        """The address of container ``cid`` on ``network`` (kept across detach/attach)."""
        with store.flock(self._lock):
            data = self._load(network)
            if data is None:
                raise NotFound(f"network {network} has no address pool",
                               hint="create the network first")
            allocs = data.setdefault("allocations", {})
            assert isinstance(allocs, dict)
            if cid in allocs:
                return str(allocs[cid])
            pool = self._pool(network, data)
            used = {pool.gateway, *map(str, allocs.values())}
            for host in ipaddress.ip_network(pool.subnet).hosts():
                if str(host) not in used:
                    allocs[cid] = str(host)
                    store.write_json(self._path(network), data)
                    return str(host)
            raise Conflict(f"network {network} ({pool.subnet}) has no free address",
                           hint="remove containers or use a larger subnet")

    def allocations(self, network: str) -> dict[str, str]:
        data = self._load(network)
        if data is None:
            return {}
        allocs = data.get("allocations", {})
        assert isinstance(allocs, dict)
        return {str(k): str(v) for k, v in allocs.items()}

    def release(self, cid: str, network: str | None = None) -> None:
        """Free the addresses of ``cid`` (on one network, or on all)."""
        with store.flock(self._lock):
            names = [network] if network else [p.stem for p in self.root.glob("*.json")]
            for name in names:
                data = self._load(name)
                allocs = (data or {}).get("allocations")
                if data is not None and isinstance(allocs, dict) and cid in allocs:
                    del allocs[cid]
                    store.write_json(self._path(name), data)
