"""Native networking with real namespaces, veths, nft rules and proxies, beside Docker.

Role: proves ``runtime.native.net`` on this host, where Docker runs with its
``FORWARD DROP`` policy: "containers" are bare network namespaces
(``dw-<id12>``) running busybox servers through ``ip netns exec``; traffic
goes only to 127.0.0.0/8, the host's own address and the namespaces made
here. Every test uses fresh ids and network names and a temporary state
folder, and its finalizer releases everything and asserts that no kernel
object of its ids is left. Published ports are tested in ``test_net_ports.py``.
Neighbours: ``runtime/native/net/*`` (under test), ``net_helpers`` (commands
inside namespaces), ``conftest.py`` (the ``mgr``/``network``/``servers`` fixtures).
"""

from __future__ import annotations

import ipaddress
import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from runtime.errors import Conflict, NotFound
from runtime.native.net import NetworkManager
from runtime.native.net.bridge import bridge_ns, bridge_veth, container_ns, host_veth
from runtime.native.net.hosts import resolv_conf_text
from runtime.native.net.ipam import Ipam, host_routes, mac_for
from runtime.native.net.ports import masquerade_owner, nft_rules, rule_owner
from runtime.types import NetworkAttach, NetworkConfig, PortBinding
from tests.native.net_helpers import (
    Servers,
    host_links,
    netns_names,
    new_id,
    ns_ask,
    sh,
    start,
    tcp_ask,
    wait_until,
)

pytestmark = pytest.mark.native


def test_containers_reach_each_other_by_ip_and_alias(
    mgr: NetworkManager, network: str, servers: Servers, tmp_path: Path
) -> None:
    a, ip_a = start(mgr, network, "host-a", name="web")
    b, ip_b = start(mgr, network, "host-b", name="db", aliases=("database", "mysql"))
    servers.greet(b, 8080, "hi-from-b")

    assert "hi-from-b" in ns_ask(a, ip_b, 8080)  # bridged outside Docker's FORWARD DROP

    hosts = mgr.hosts_file(a)
    lines = hosts.splitlines()
    assert "127.0.0.1\tlocalhost" in lines
    assert f"{ip_a}\thost-a web" in lines
    assert f"{ip_b}\tdb host-b database mysql" in lines
    path = tmp_path / "hosts-a"
    path.write_text(hosts)
    assert "hi-from-b" in ns_ask(a, "database", 8080, hosts_file=path)  # a link is an alias
    assert "hi-from-b" in ns_ask(a, "db", 8080, hosts_file=path)
    assert f"{ip_a}\tweb host-a" in mgr.hosts_file(b).splitlines()

    mgr.detach(b)  # a detached peer disappears from the hosts text
    assert ip_b not in mgr.hosts_file(a)


def test_hosts_only_list_peers_on_shared_networks(mgr: NetworkManager, network: str) -> None:
    other = f"dwt-{secrets.token_hex(4)}"
    mgr.ensure_network(NetworkConfig(name=other))
    a, _ = start(mgr, network, "a")
    b, ip_b = start(mgr, other, "b")
    assert ip_b not in mgr.hosts_file(a)
    # a container on two networks: eth0 + eth1, both peers see it
    c = new_id()
    mgr.create_netns(c)
    pairs = mgr.attach(c, [NetworkAttach(network), NetworkAttach(other, ("both",))], "c")
    assert [n for n, _ in pairs] == [network, other]
    assert "both" in mgr.hosts_file(b)
    assert "both" not in mgr.hosts_file(a)  # the alias belongs to the other network
    for i, (_, ip) in enumerate(pairs):
        addrs = sh("ip", "netns", "exec", container_ns(c), "ip", "-4", "-o", "addr", "show",
                   "dev", f"eth{i}").stdout
        assert f"inet {ip}/24" in addrs
    route = sh("ip", "netns", "exec", container_ns(c), "ip", "route", "show", "default").stdout
    assert "dev eth0" in route


def test_networks_are_isolated_from_each_other(
    mgr: NetworkManager, network: str, servers: Servers
) -> None:
    other = f"dwt-{secrets.token_hex(4)}"
    mgr.ensure_network(NetworkConfig(name=other))
    a, _ = start(mgr, network, "a")
    b, ip_b = start(mgr, other, "b")
    servers.greet(b, 8080, "hi-from-b")
    assert b"hi-from-b" in tcp_ask(ip_b, 8080)  # the host reaches both networks
    assert "hi-from-b" not in ns_ask(a, ip_b, 8080)  # a container does not cross over
    rules = [r for r in nft_rules() if r.get("comment") == "dw:isolation"]
    assert len(rules) == 1 and rules[0]["chain"] == "forward"


def test_attach_in_parallel_gives_unique_addresses(mgr: NetworkManager, network: str) -> None:
    ids = [new_id() for _ in range(8)]

    def one(cid: str) -> str:
        mgr.create_netns(cid)
        return mgr.attach(cid, [NetworkAttach(network)], cid[:6])[0][1]

    with ThreadPoolExecutor(4) as pool:
        ips = list(pool.map(one, ids))
    assert len(set(ips)) == len(ids)
    assert sorted(mgr.ipam.allocations(network).values()) == sorted(ips)
    for cid, ip in zip(ids, ips, strict=True):
        assert f"inet {ip}/24" in sh("ip", "netns", "exec", container_ns(cid), "ip", "-4",
                                     "-o", "addr", "show", "dev", "eth0").stdout


def test_host_reaches_container_ip(mgr: NetworkManager, network: str, servers: Servers) -> None:
    cid, ip = start(mgr, network, "h")
    servers.greet(cid, 7000, "hello-host")
    assert b"hello-host" in tcp_ask(ip, 7000)
    # a damaged network (its host veth deleted behind our back) is repaired by ensure
    info = mgr.get_network(network)
    assert info is not None
    assert sh("ip", "link", "del", host_veth(info.id)).returncode == 0
    assert host_veth(info.id) not in host_links()
    assert mgr.ensure_network(NetworkConfig(name=network)) == info
    assert b"hello-host" in tcp_ask(ip, 7000)


def test_address_persists_across_detach_attach_and_mac_follows_ip(
    mgr: NetworkManager, network: str, servers: Servers
) -> None:
    cid, ip = start(mgr, network, "p")
    mac = sh("ip", "netns", "exec", container_ns(cid), "cat",
             "/sys/class/net/eth0/address").stdout.strip()
    assert mac == mac_for(ip) == "02:42:" + ":".join(f"{int(x):02x}" for x in ip.split("."))
    mgr.detach(cid)
    assert "eth0" not in sh("ip", "netns", "exec", container_ns(cid), "ip", "link").stdout
    _other, other_ip = start(mgr, network, "o")  # a newcomer must not take the address
    assert other_ip != ip
    mgr.delete_netns(cid)  # a restart: new netns, same id
    mgr.create_netns(cid)
    assert mgr.attach(cid, [NetworkAttach(network)], "p") == [(network, ip)]
    # another manager on the same state folder (a restarted controller) agrees
    again = NetworkManager(mgr.root.parent)
    assert again.attach(cid, [NetworkAttach(network)], "p") == [(network, ip)]
    servers.greet(cid, 7001, "back")
    assert b"back" in tcp_ask(ip, 7001)  # no stale ARP entry: the MAC is the same


def test_gc_removes_dead_ids_and_keeps_live_ones(
    mgr: NetworkManager, network: str, servers: Servers
) -> None:
    live, live_ip = start(mgr, network, "live")
    dead, dead_ip = start(mgr, network, "dead")
    servers.greet(live, 80, "alive")
    [live_port] = mgr.publish(live, live_ip, [PortBinding(80)])
    [dead_port] = mgr.publish(dead, dead_ip, [PortBinding(80)])
    mgr.ports.settle()
    assert mgr.ports.proxy.proxied() == {live, dead}

    mgr.gc({live})

    assert container_ns(dead) not in netns_names()
    wait_until(lambda: bridge_veth(dead) not in sh("ip", "netns", "exec", bridge_ns(network),
                                                   "ip", "link").stdout,
               "the kernel to free the dead netns and its veth")  # asynchronous
    assert bridge_veth(live) in sh("ip", "netns", "exec", bridge_ns(network), "ip",
                                   "link").stdout
    owners = {rule_owner(r) for r in nft_rules()}
    assert dead[:12] not in owners and live[:12] in owners
    assert mgr.ports.proxy.proxied() == {live}
    assert dead not in mgr.known_ids()
    assert dead not in mgr.ipam.allocations(network)
    assert dead_port.host_port is not None
    with pytest.raises(OSError):
        tcp_ask("127.0.0.1", dead_port.host_port, timeout=1)
    # the live one is untouched
    assert container_ns(live) in netns_names()
    assert live_port.host_port is not None
    assert b"alive" in tcp_ask("127.0.0.1", live_port.host_port)
    assert b"alive" in tcp_ask(live_ip, 80)


def test_gc_finds_leaks_after_a_crash(mgr: NetworkManager, network: str) -> None:
    """A record exists but the manager crashed before updating it: gc still cleans up."""
    cid, ip = start(mgr, network, "x")
    mgr.publish(cid, ip, [PortBinding(80)])
    (mgr.root / "containers" / f"{cid}.json").unlink()  # lost record, objects remain
    NetworkManager(mgr.root.parent).gc(set())
    assert container_ns(cid) not in netns_names()
    assert cid[:12] not in {rule_owner(r) for r in nft_rules()}
    assert mgr.ports.proxy.pid() is None  # nothing left to proxy: the daemon stopped
    # a veth on one of our bridges whose id nobody knows (made by hand here) is swept too
    stray = new_id()
    made = sh("ip", "netns", "exec", bridge_ns(network), "ip", "link", "add",
              bridge_veth(stray), "type", "veth", "peer", "name", "strayp0")
    assert made.returncode == 0, made.stderr
    mgr.gc(set())
    links = sh("ip", "netns", "exec", bridge_ns(network), "ip", "link").stdout
    assert bridge_veth(stray) not in links and "strayp0" not in links


def test_ensure_calls_are_idempotent(mgr: NetworkManager) -> None:
    name = f"dwt-{secrets.token_hex(4)}"
    first = mgr.ensure_network(NetworkConfig(name=name, labels=(("k", "v"),)))
    assert mgr.ensure_network(NetworkConfig(name=name)) == first
    assert [n.name for n in mgr.list_networks()] == [name]
    assert first.label("k") == "v" and first.subnet
    assert [masquerade_owner(r) for r in nft_rules()].count(name) == 1  # egress, once
    internal = f"dwt-{secrets.token_hex(4)}"
    mgr.ensure_network(NetworkConfig(name=internal, internal=True))
    assert internal not in [masquerade_owner(r) for r in nft_rules()]
    cid = new_id()
    assert mgr.create_netns(cid) == mgr.create_netns(cid) == f"/run/netns/{container_ns(cid)}"
    pairs = mgr.attach(cid, [NetworkAttach(name)], "i")
    assert mgr.attach(cid, [NetworkAttach(name)], "i") == pairs
    links = sh("ip", "netns", "exec", container_ns(cid), "ip", "-o", "link").stdout
    assert links.count("eth0") == 1
    mgr.detach(cid)
    mgr.detach(cid)
    mgr.unpublish(cid)
    mgr.unpublish(cid)
    mgr.attach(cid, [NetworkAttach(name)], "i")
    with pytest.raises(Conflict, match="in use"):
        mgr.remove_network(name)
    mgr.release(cid)
    mgr.release(cid)
    mgr.delete_netns(cid)
    mgr.remove_network(name)
    with pytest.raises(NotFound):
        mgr.remove_network(name)
    assert bridge_ns(name) not in netns_names()


def test_subnets_avoid_host_routes_and_each_other(tmp_path: Path, mgr: NetworkManager) -> None:
    ipam = Ipam(tmp_path / "ipam")
    a = ipam.ensure_pool("a")
    b = ipam.ensure_pool("b")
    assert a.subnet != b.subnet and a.gateway.endswith(".1")
    for pool in (a, b):
        net = ipaddress.ip_network(pool.subnet)
        assert not any(net.overlaps(r) for r in host_routes())
    c = ipam.ensure_pool("c", "10.99.7.0/24")
    assert (c.subnet, c.gateway) == ("10.99.7.0/24", "10.99.7.1")
    with pytest.raises(Conflict):
        ipam.ensure_pool("d", "10.99.7.128/25")
    first = ipam.allocate("c", "id1")
    assert first == "10.99.7.2" and ipam.allocate("c", "id2") == "10.99.7.3"
    assert Ipam(tmp_path / "ipam").allocate("c", "id1") == first
    ipam.release("id1")
    assert ipam.allocations("c") == {"id2": "10.99.7.3"}


def test_resolv_conf_drops_loopback_nameservers(mgr: NetworkManager) -> None:
    text = resolv_conf_text("search example.org\nnameserver 127.0.0.53\nnameserver 10.0.0.2\n"
                            "nameserver ::1\noptions ndots:2\n")
    assert text == "search example.org\nnameserver 10.0.0.2\noptions ndots:2\n"
    only_local = resolv_conf_text("nameserver 127.0.0.11\n")
    assert "127.0.0.11" not in only_local and "nameserver" in only_local
    assert "nameserver 127." not in mgr.resolv_conf()
