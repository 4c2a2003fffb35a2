"""``NetworkManager``: the native runtime's networking, as the native driver sees it.

Role: the one entry point of ``runtime.native.net`` (team brief, "Native
runtime split"): networks (a bridge in its own netns per network, see
``bridge``), container network namespaces named from the container id
(``dw-<id12>``), attach/detach with persistent addresses (``ipam``), the text
of /etc/hosts and resolv.conf (``hosts``), published ports (``ports``) and a
garbage collector for whatever a crash left behind.

State lives under ``<state_dir>/net/``: ``networks/<name>.json``,
``containers/<id>.json`` (endpoints: network, ifname, ip, mac, aliases;
written before any kernel object is made), ``ipam/<network>.json``,
``ports/<id>.json`` and ``ports/daemon.json`` (the port-proxy daemon, which
outlives the process on purpose; ``close()`` stops it when nothing is
published). ``gc`` only touches ids this state folder knows of, so several
state folders (parallel test runs) can share a host; what they share (subnet
choice, the nft table) is serialised by a host-wide lock.
Neighbours: the native driver (``runtime.native.driver``, the only caller),
``bridge``, ``netns``, ``ipam``, ``hosts``, ``ports``, ``store``.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from runtime.errors import Conflict, InvalidRequest, NotFound
from runtime.native.net import bridge, netns, store
from runtime.native.net.bridge import Endpoint
from runtime.native.net.hosts import HostEntry, entry, hosts_text
from runtime.native.net.hosts import resolv_conf as host_resolv_conf
from runtime.native.net.ipam import Ipam, mac_for
from runtime.native.net.links import map_error
from runtime.native.net.ports import Ports
from runtime.types import NetworkAttach, NetworkConfig, NetworkInfo, PortBinding

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}$")


def _check_name(kind: str, name: str) -> None:
    if not _NAME.match(name):
        raise InvalidRequest(f"invalid {kind} name {name!r}",
                             hint="use letters, digits, '_', '.', '-' (start alphanumeric)")


class NetworkManager:
    """Networks, container namespaces, addresses, hosts files and ports of one state folder."""

    def __init__(self, state_dir: Path | str) -> None:
        self.root = Path(state_dir) / "net"
        self.ipam = Ipam(self.root / "ipam")
        self.ports = Ports(self.root / "ports")
        for sub in ("networks", "containers", "ipam", "ports"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.timings: dict[str, float] = {}  # last duration (s) of attach/publish, for bench

    # networks ----------------------------------------------------------------
    def _net_path(self, name: str) -> Path:
        return self.root / "networks" / f"{name}.json"

    @staticmethod
    def _info(data: dict[str, Any]) -> NetworkInfo:
        labels = tuple(sorted((str(k), str(v)) for k, v in data.get("labels", [])))
        return NetworkInfo(id=str(data["id"]), name=str(data["name"]), driver="bridge",
                           internal=bool(data.get("internal")), subnet=data.get("subnet"),
                           labels=labels)

    def ensure_network(self, cfg: NetworkConfig) -> NetworkInfo:
        """Create the network (or accept and repair the existing one); returns its info."""
        _check_name("network", cfg.name)
        if cfg.driver not in ("bridge", ""):
            raise InvalidRequest(f"network {cfg.name}: driver {cfg.driver!r} is not supported "
                                 "by the native runtime", hint="use driver = \"bridge\"")
        with store.flock(store.HOST_LOCK), store.flock(self.root / ".networks.lock"):
            data = store.read_json(self._net_path(cfg.name))
            if data is None:
                pool = self.ipam.ensure_pool(cfg.name, cfg.subnet)
                data = {"id": hashlib.sha256(f"{cfg.name}:{time.time_ns()}".encode())
                        .hexdigest(), "name": cfg.name, "internal": cfg.internal,
                        "subnet": pool.subnet, "labels": [list(p) for p in cfg.labels]}
                store.write_json(self._net_path(cfg.name), data)
            else:
                pool = self.ipam.ensure_pool(cfg.name, str(data["subnet"]))
            bridge.ensure_network(cfg.name, str(data["id"]), pool)
            self.ports.ensure_table()  # isolation between networks, loopback DNAT support
            if not data.get("internal"):
                self.ports.ensure_masquerade(cfg.name, pool.subnet)
            return self._info(data)

    def get_network(self, name: str) -> NetworkInfo | None:
        data = store.read_json(self._net_path(name))
        return None if data is None else self._info(data)

    def list_networks(self) -> list[NetworkInfo]:
        out = []
        for path in sorted((self.root / "networks").glob("*.json")):
            data = store.read_json(path)
            if data is not None:
                out.append(self._info(data))
        return out

    def remove_network(self, name: str) -> None:
        """Remove a network; ``NotFound`` if missing, ``Conflict`` while containers use it."""
        with store.flock(self.root / ".networks.lock"):
            data = store.read_json(self._net_path(name))
            if data is None:
                raise NotFound(f"network {name} not found")
            users = [r["cid"] for r in self._records() if r.get("attached")
                     and any(e["network"] == name for e in r.get("endpoints", []))]
            if users:
                raise Conflict(f"network {name} is in use by containers "
                               f"{', '.join(u[:12] for u in users)}",
                               hint="remove those containers first")
            self.ports.remove_masquerade(name)
            bridge.remove_network(name, str(data["id"]))
            self.ipam.remove_pool(name)
            store.remove(self._net_path(name))

    # container records -------------------------------------------------------
    def _rec_path(self, cid: str) -> Path:
        return self.root / "containers" / f"{cid}.json"

    def _record(self, cid: str) -> dict[str, Any]:
        return store.read_json(self._rec_path(cid)) or {"cid": cid, "endpoints": [],
                                                         "attached": False}

    def _records(self) -> list[dict[str, Any]]:
        out = []
        for path in (self.root / "containers").glob("*.json"):
            data = store.read_json(path)
            if data is not None:
                out.append(data)
        return out

    # namespaces --------------------------------------------------------------
    def create_netns(self, cid: str) -> str:
        """Create (or accept) the container's netns; returns its path for the OCI spec."""
        _check_name("container id", cid)
        record = self._record(cid)
        record["netns"] = bridge.container_ns(cid)
        store.write_json(self._rec_path(cid), record)  # recorded before it exists
        try:
            return str(netns.create(bridge.container_ns(cid)))
        except OSError as exc:
            raise map_error(exc, f"create netns of container {cid[:12]}") from exc

    def delete_netns(self, cid: str) -> None:
        """Delete the container's netns (its veths go with it); a missing one is fine."""
        try:
            netns.delete(bridge.container_ns(cid))
        except OSError as exc:
            raise map_error(exc, f"delete netns of container {cid[:12]}") from exc
        if self._rec_path(cid).exists():
            record = self._record(cid)
            record["attached"] = False
            store.write_json(self._rec_path(cid), record)

    # attach ------------------------------------------------------------------
    def attach(self, cid: str, attachments: Sequence[NetworkAttach], hostname: str,
               *, name: str | None = None, mac: str | None = None) -> list[tuple[str, str]]:
        """Wire the container into each network (eth0, eth1, ... in order).

        Addresses persist per (network, container id); the MAC is derived from
        the address, or is ``mac`` on the first network (``mac_address``, as on
        Docker); the first non-internal network carries the default route.
        Returns (network, ip) pairs.
        """
        start = time.perf_counter()
        _check_name("container id", cid)
        endpoints: list[Endpoint] = []
        aliases: dict[str, list[str]] = {}
        for i, att in enumerate(attachments):
            pool = self.ipam.pool(att.network)
            if pool is None or not self._net_path(att.network).exists():
                raise NotFound(f"network {att.network} not found",
                               hint="create the network before the container")
            ip = self.ipam.allocate(att.network, cid)
            endpoints.append(Endpoint(network=att.network, ifname=f"eth{i}", ip=ip,
                                      prefixlen=pool.prefixlen, gateway=pool.gateway,
                                      mac=mac if mac and i == 0 else mac_for(ip)))
            aliases[att.network] = list(att.aliases)
        record = self._record(cid)
        stale = [e["network"] for e in record.get("endpoints", [])
                 if e["network"] not in aliases]
        record.update({
            "cid": cid, "name": name or record.get("name"), "hostname": hostname,
            "netns": bridge.container_ns(cid), "attached": True,
            "endpoints": [{"network": e.network, "ifname": e.ifname, "ip": e.ip,
                           "mac": e.mac, "aliases": aliases[e.network]} for e in endpoints],
        })
        store.write_json(self._rec_path(cid), record)  # before the kernel objects
        for network in stale:
            bridge.disconnect(cid, network)
        if not netns.exists(bridge.container_ns(cid)):
            self.create_netns(cid)
        routed = False
        for endpoint in endpoints:
            internal = bool((store.read_json(self._net_path(endpoint.network)) or {})
                            .get("internal"))
            bridge.connect(cid, endpoint, default_route=not internal and not routed)
            routed = routed or not internal
        self.timings["attach"] = time.perf_counter() - start
        return [(e.network, e.ip) for e in endpoints]

    def detach(self, cid: str) -> None:
        """Remove the container's veths; its addresses stay reserved for a re-attach."""
        record = store.read_json(self._rec_path(cid))
        if record is None:
            return
        for ep in record.get("endpoints", []):
            bridge.disconnect(cid, ep["network"])
        record["attached"] = False
        store.write_json(self._rec_path(cid), record)

    def set_aliases(self, cid: str, aliases: Mapping[str, Sequence[str]]) -> None:
        """Replace the container's aliases on the given networks (those it has an endpoint
        on; the others take them at the next ``attach``). Peers see them in their
        /etc/hosts once it is rewritten from :meth:`hosts_file`."""
        path = self._rec_path(cid)
        record = store.read_json(path)
        if record is None:
            return
        for ep in record.get("endpoints", []):
            if ep["network"] in aliases:
                ep["aliases"] = list(aliases[ep["network"]])
        store.write_json(path, record)

    def endpoints(self, cid: str) -> list[tuple[str, str]]:
        """(network, ip) pairs recorded for the container."""
        return [(e["network"], e["ip"]) for e in self._record(cid).get("endpoints", [])]

    def release(self, cid: str) -> None:
        """Forget a removed container: ports, veths, netns, addresses, record."""
        self.ports.unpublish(cid)
        self.detach(cid)
        self.delete_netns(cid)
        self.ipam.release(cid)
        store.remove(self._rec_path(cid))

    # names -------------------------------------------------------------------
    def hosts_file(self, cid: str) -> str:
        """/etc/hosts text: localhost, own addresses, peers on shared networks."""
        own = self._record(cid)
        own_name = own.get("name")
        hostname = own.get("hostname") or cid[:12]
        nets = {e["network"] for e in own.get("endpoints", [])}
        mine = [entry(e["ip"], hostname, own_name) for e in own.get("endpoints", [])]
        peers: list[HostEntry] = []
        for rec in self._records():
            if rec.get("cid") == cid or not rec.get("attached"):
                continue
            for ep in rec.get("endpoints", []):
                if ep["network"] in nets:
                    peers.append(entry(ep["ip"], rec.get("name"), rec.get("hostname"),
                                       *ep.get("aliases", [])))
        return hosts_text(mine, peers)

    def resolv_conf(self) -> str:
        """resolv.conf for containers: the host's, without loopback nameservers."""
        return host_resolv_conf()

    # ports -------------------------------------------------------------------
    def publish(self, cid: str, ip: str, ports: Sequence[PortBinding]) -> list[PortBinding]:
        """Publish container ports (DNAT for host clients, proxy for others)."""
        start = time.perf_counter()
        result = self.ports.publish(cid, ip, ports)
        self.timings["publish"] = time.perf_counter() - start
        return result

    def unpublish(self, cid: str) -> None:
        self.ports.unpublish(cid)

    def port_bindings(self, cid: str) -> list[PortBinding]:
        return self.ports.bindings(cid)

    def close(self) -> None:
        """Finish background work; stop the port proxy when nothing is published.

        The proxy daemon otherwise outlives the process on purpose (published
        ports keep working while the controller restarts)."""
        self.ports.close()

    # garbage collection -----------------------------------------------------------
    def known_ids(self) -> set[str]:
        """Container ids this state folder has records of (any kind)."""
        ids = {p.stem for p in (self.root / "containers").glob("*.json")}
        ids |= set(self.ports.records())
        for pool in self.ipam.pools():
            ids |= set(self.ipam.allocations(pool.network))
        return ids

    def gc(self, live_ids: set[str]) -> None:
        """Remove netns, veths, nft rules, proxies, addresses of known ids not live."""
        live = set(live_ids)
        dead = self.known_ids() - live
        self.ports.unpublish_many(dead)
        dropped: set[str] = set()
        for cid in sorted(dead):
            if netns.exists(bridge.container_ns(cid)):
                # the kernel frees the netns with all its veths (and their bridge ends) in
                # one batch, much faster than deleting veth by veth; if a process still
                # holds the netns, the sweep below catches the veths on a later pass
                self.delete_netns(cid)
                dropped.add(cid[:12])
            else:
                self.detach(cid)
            self.ipam.release(cid)
            store.remove(self._rec_path(cid))
        self.ports.gc(live)
        keep = {cid[:12] for cid in live} | dropped
        for net in self.list_networks():
            for port in bridge.bridge_ports(net.name):
                id12 = port[len(bridge.BRIDGE_VETH_PREFIX):]
                if id12 not in keep:
                    bridge.disconnect(id12, net.name)
