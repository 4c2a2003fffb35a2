"""Published ports of native networking: nft DNAT, the userspace proxy, conflicts.

Role: proves ``runtime.native.net.ports`` (through ``NetworkManager.publish``)
on this host, beside Docker: bare network namespaces stand in for containers;
a published TCP or UDP port answers on 127.0.0.1 and the host's address
(DNAT) and from another container (proxy); a loopback-only binding; a killed
proxy daemon gets its listeners back; a taken port is a ``Conflict`` naming
it. Same rules as ``test_net.py``: fresh ids and networks, a temporary state
folder, and the ``mgr`` fixture asserts nothing leaked. Neighbours:
``net_helpers`` (commands inside namespaces), ``conftest.py`` (fixtures),
``test_net.py``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys

import pytest

from runtime.errors import Conflict
from runtime.native.net import NetworkManager
from runtime.native.net.bridge import container_ns
from runtime.native.net.ports import nft_rules, rule_owner
from runtime.types import PortBinding
from tests.native.net_helpers import (
    UDP_ASK,
    UDP_ECHO,
    Servers,
    free_port,
    host_address,
    ns_ask,
    sh,
    start,
    tcp_ask,
    wait_until,
)

pytestmark = pytest.mark.native


def test_published_port_from_loopback_host_address_and_other_container(
    mgr: NetworkManager, network: str, servers: Servers
) -> None:
    srv, ip = start(mgr, network, "srv")
    client, _ = start(mgr, network, "client")
    servers.greet(srv, 80, "published")
    [fixed, picked] = mgr.publish(srv, ip, [PortBinding(80, host_port=free_port()),
                                            PortBinding(80)])
    assert picked.host_port is not None and picked.host_port > 0
    assert fixed.host_port is not None
    gateway = mgr.ipam.pool(network).gateway  # type: ignore[union-attr]
    for binding in (fixed, picked):
        port = binding.host_port
        assert port is not None
        assert b"published" in tcp_ask("127.0.0.1", port)  # DNAT, output hook
        assert b"published" in tcp_ask(host_address(), port)  # DNAT, output hook
        assert "published" in ns_ask(client, host_address(), port)  # proxy
        assert "published" in ns_ask(client, gateway, port)  # proxy
    assert mgr.port_bindings(srv) == [fixed, picked]
    assert mgr.publish(srv, ip, [PortBinding(80, host_port=fixed.host_port),
                                 PortBinding(80)]) == [fixed, picked]  # idempotent
    mgr.unpublish(srv)
    with pytest.raises(OSError):
        tcp_ask("127.0.0.1", fixed.host_port or 0, timeout=1)
    assert srv[:12] not in {rule_owner(r) for r in nft_rules()}

def test_published_udp_port_from_loopback_and_other_container(
    mgr: NetworkManager, network: str
) -> None:
    srv, ip = start(mgr, network, "udp-srv")
    client, _ = start(mgr, network, "udp-client")
    echo = subprocess.Popen(["ip", "netns", "exec", container_ns(srv), sys.executable, "-c",
                             UDP_ECHO, "5353"], stdin=subprocess.DEVNULL)
    try:
        [binding] = mgr.publish(srv, ip, [PortBinding(5353, protocol="udp")])
        assert binding.protocol == "udp" and binding.host_port
        port = binding.host_port

        def ask_from_host() -> bool:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(0.5)
                s.sendto(b"ping", ("127.0.0.1", port))
                with contextlib.suppress(OSError):
                    return s.recvfrom(2048)[0] == b"echo:ping"
            return False

        wait_until(ask_from_host, "a UDP answer through DNAT on 127.0.0.1")
        done = sh("ip", "netns", "exec", container_ns(client), sys.executable, "-c", UDP_ASK,
                  host_address(), str(port), "via-proxy")
        assert done.stdout.strip() == "echo:via-proxy", done.stderr
    finally:
        echo.kill()
        echo.wait(timeout=5)


def test_published_port_on_loopback_only(
    mgr: NetworkManager, network: str, servers: Servers
) -> None:
    srv, ip = start(mgr, network, "srv")
    servers.greet(srv, 81, "loopback-only")
    [binding] = mgr.publish(srv, ip, [PortBinding(81, host_ip="127.0.0.1")])
    assert binding.host_ip == "127.0.0.1" and binding.host_port
    assert b"loopback-only" in tcp_ask("127.0.0.1", binding.host_port)


def test_a_restarted_proxy_daemon_gets_every_listener_back(
    mgr: NetworkManager, network: str, servers: Servers
) -> None:
    first, ip1 = start(mgr, network, "first")
    second, ip2 = start(mgr, network, "second")
    client, _ = start(mgr, network, "client")
    servers.greet(first, 80, "first")
    [b1] = mgr.publish(first, ip1, [PortBinding(80)])
    pid = mgr.ports.proxy.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)  # the daemon we started dies
    wait_until(lambda: mgr.ports.proxy.pid() is None, "the proxy daemon to die")
    assert "first" not in ns_ask(client, host_address(), b1.host_port or 0)
    mgr.publish(second, ip2, [PortBinding(80)])  # starts a new daemon, which restores
    mgr.ports.settle()
    assert mgr.ports.proxy.proxied() == {first, second}
    assert "first" in ns_ask(client, host_address(), b1.host_port or 0)
    pid = mgr.ports.proxy.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)  # dies again; a gc pass brings it back
    wait_until(lambda: mgr.ports.proxy.pid() is None, "the proxy daemon to die")
    mgr.gc({first, second, client})
    assert mgr.ports.proxy.proxied() == {first, second}
    assert "first" in ns_ask(client, host_address(), b1.host_port or 0)
    mgr.unpublish(first)
    mgr.unpublish(second)
    assert mgr.ports.proxy.pid() is not None  # kept for the next publish ...
    mgr.close()
    assert mgr.ports.proxy.pid() is None  # ... until close() with nothing published


def test_port_in_use_is_a_conflict_naming_the_port(mgr: NetworkManager, network: str) -> None:
    srv, ip = start(mgr, network, "srv")
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(Conflict, match=str(port)) as info:
            mgr.publish(srv, ip, [PortBinding(80, host_port=port)])
        assert isinstance(info.value.__cause__, OSError)
    assert mgr.port_bindings(srv) == []
    assert srv[:12] not in {rule_owner(r) for r in nft_rules()}
