"""The bridge layout of a native network, beside Docker's firewall.

Role: wire one network and its containers, as measured in the notes
(shared/notes/native-runtime.md, "Networking"):

    host netns                 bridge netns dwn-<network>        container netns dw-<id12>
    dwh-<netid10> (gateway) -- gw0 --+
                                     br0 (fixed MAC, no address)
                                     +-- c<id12>  ------------------- eth0 (ip/prefix, MAC from ip)
                                                                       default via gateway

The bridge lives in a namespace of its own with an empty ruleset, so
container-to-container traffic is bridged where Docker's ``FORWARD DROP``
(with bridge-nf-call-iptables on) cannot see it; host <-> container traffic
is local to the host through ``dwh-*`` and works too. Each container veth is
created by one netlink request directly in both namespaces (no move, no
rename: ~3 ms instead of ~45 ms). Neighbours: ``links`` (netlink), ``netns``
(namespaces), ``ipam`` (addresses, MACs), ``manager`` (the caller).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from runtime.errors import Permanent
from runtime.native.net import netns
from runtime.native.net.ipam import Pool, mac_for
from runtime.native.net.links import Links, map_error

BRIDGE = "br0"
BRIDGE_PORT = "gw0"
CONTAINER_NS_PREFIX = "dw-"
BRIDGE_NS_PREFIX = "dwn-"
HOST_VETH_PREFIX = "dwh"
BRIDGE_VETH_PREFIX = "c"
LOOPBACK_INDEX = 1  # lo is always ifindex 1 in a network namespace


def container_ns(cid: str) -> str:
    """Name of a container's network namespace: ``dw-<first 12 chars of the id>``."""
    return CONTAINER_NS_PREFIX + cid[:12]


def bridge_ns(network: str) -> str:
    return BRIDGE_NS_PREFIX + network


def host_veth(net_id: str) -> str:
    return HOST_VETH_PREFIX + net_id[:11]


def bridge_veth(cid: str) -> str:
    """Name of the bridge-side end of a container's veth (unique per bridge netns)."""
    return BRIDGE_VETH_PREFIX + cid[:12]


def bridge_mac(pool: Pool) -> str:
    """A fixed MAC for the bridge (02:43:<gateway bytes>): it never moves with its ports."""
    return "02:43:" + mac_for(pool.gateway)[6:]


@dataclass(frozen=True)
class Endpoint:
    network: str
    ifname: str  # inside the container: eth0, eth1, ...
    ip: str
    prefixlen: int
    gateway: str
    mac: str


def _set_sysctl(path: str, value: str) -> None:
    try:
        Path(path).write_text(value)
    except OSError as exc:
        raise map_error(exc, f"write {value} to {path}") from exc


def ensure_network(network: str, net_id: str, pool: Pool) -> None:
    """Create (or accept) the bridge netns, the bridge and the host's gateway veth."""
    ns = bridge_ns(network)
    try:
        netns.create(ns)
    except OSError as exc:
        raise map_error(exc, f"create netns {ns}") from exc
    hveth = host_veth(net_id)
    prefixlen = pool.prefixlen
    with Links.open(None) as host:
        host_missing = host.index(hveth) is None
    with Links.open(ns) as br:
        br_index = br.ensure_bridge(BRIDGE, bridge_mac(pool))
        if host_missing:  # a half-made or damaged pair: make it again
            br.delete_link(BRIDGE_PORT)
        host_fd = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            br.ensure_veth(BRIDGE_PORT, mac="02:44:" + mac_for(pool.gateway)[6:], peer=hveth,
                           peer_mac=mac_for(pool.gateway), peer_netns_fd=host_fd,
                           master=br_index)
        finally:
            os.close(host_fd)
    with Links.open(None) as host:
        index = host.index(hveth)
        if index is None:
            raise Permanent(f"host veth {hveth} of network {network} is missing although its "
                            f"peer exists in netns {ns}",
                            hint=f"remove the network (or `ip netns del {ns}`) and retry")
        host.ensure_addr(index, pool.gateway, prefixlen)
        host.ensure_up(index)
    # 127.0.0.1 clients of published ports are DNATed out of this interface.
    _set_sysctl(f"/proc/sys/net/ipv4/conf/{hveth}/route_localnet", "1")


def remove_network(network: str, net_id: str) -> None:
    """Remove the gateway veth and the bridge netns; missing parts are accepted."""
    with Links.open(None) as host:
        host.delete_link(host_veth(net_id))
    try:
        netns.delete(bridge_ns(network))
    except OSError as exc:
        raise map_error(exc, f"delete netns {bridge_ns(network)}") from exc


def connect(cid: str, endpoint: Endpoint, *, default_route: bool) -> None:
    """Wire container ``cid`` (its netns must exist) to the endpoint's network."""
    cns = container_ns(cid)
    try:
        cfd = netns.open_fd(cns)
    except OSError as exc:
        raise map_error(exc, f"open netns {cns} of container {cid[:12]}") from exc
    try:
        with Links.open(bridge_ns(endpoint.network)) as br, Links.open(cns) as ct:
            br_index = br.index(BRIDGE)
            if br_index is None:
                raise Permanent(f"bridge of network {endpoint.network} is missing",
                                hint="run the reconciler again to recreate the network")
            for _attempt in range(2):
                br.ensure_veth(bridge_veth(cid), mac="02:45:" + endpoint.mac[6:],
                               peer=endpoint.ifname, peer_mac=endpoint.mac,
                               peer_netns_fd=cfd, master=br_index)
                index = ct.index(endpoint.ifname)
                if index is not None:
                    break
                # the bridge end is a leftover whose peer lives in an older netns of this
                # id (the kernel frees a dead netns asynchronously): replace it
                br.delete_link(bridge_veth(cid))
            if index is None:
                raise Permanent(f"{endpoint.ifname} of container {cid[:12]} is missing in "
                                f"{cns} although its peer exists", hint="attach again")
            ct.ensure_up(LOOPBACK_INDEX)
            ct.ensure_addr(index, endpoint.ip, endpoint.prefixlen)
            ct.ensure_up(index)
            if default_route:
                ct.ensure_default_route(endpoint.gateway)
    finally:
        os.close(cfd)


def disconnect(cid: str, network: str) -> bool:
    """Remove the container's veth on ``network`` (both ends); a missing one is accepted."""
    if not netns.exists(bridge_ns(network)):
        return False
    with Links.open(bridge_ns(network)) as br:
        return br.delete_link(bridge_veth(cid))


def bridge_ports(network: str) -> list[str]:
    """Names of the container veths on a network's bridge (``c<id12>``)."""
    if not netns.exists(bridge_ns(network)):
        return []
    with Links.open(bridge_ns(network)) as br:
        return [lk.name for lk in br.links()
                if lk.kind == "veth" and lk.name.startswith(BRIDGE_VETH_PREFIX)]

