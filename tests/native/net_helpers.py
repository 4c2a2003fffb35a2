"""Helpers of the native networking tests: commands in namespaces.

Role: run things inside the bare network namespaces that stand in for
containers (``ip netns exec dw-<id12> busybox ...``), ask TCP/UDP servers from
the host or from a namespace, find the host's own address, and wire a fresh
container id into a network. Neighbours: ``tests/native/test_net.py`` and
``tests/native/test_net_ports.py`` (the tests), ``tests/native/conftest.py``
(their ``mgr``/``network``/``servers`` fixtures), ``runtime.native.net``
(under test).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from runtime.native.net import NetworkManager
from runtime.native.net.bridge import container_ns
from runtime.types import NetworkAttach
from tests.conftest import wait_for

BUSYBOX = "/bin/busybox"


def sh(*args: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout,
                          check=False)


def netns_names() -> set[str]:
    return set(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else set()


def host_links() -> set[str]:
    return set(os.listdir("/sys/class/net"))


def wait_until(pred: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """:func:`tests.conftest.wait_for` with a short default timeout and a fine step."""
    wait_for(pred, what, timeout, step=0.05)


def tcp_ask(ip: str, port: int, timeout: float = 5.0) -> bytes:
    """Connect from the host's namespace and read the server's greeting."""
    with socket.create_connection((ip, port), timeout=timeout) as conn:
        data = b""
        while chunk := conn.recv(4096):
            data += chunk
        return data


def ns_ask(cid: str, target: str, port: int, hosts_file: Path | None = None) -> str:
    """``busybox nc`` from inside a container netns (optionally with our /etc/hosts)."""
    nc = f"{BUSYBOX} nc -w 3 {target} {port} </dev/null"
    if hosts_file is not None:
        cmd = ["ip", "netns", "exec", container_ns(cid), "unshare", "-m", "sh", "-c",
               f"mount --bind {hosts_file} /etc/hosts && {nc}"]
    else:
        cmd = ["ip", "netns", "exec", container_ns(cid), "sh", "-c", nc]
    done = sh(*cmd)
    return done.stdout + done.stderr


def host_address() -> str:
    """The host's own IPv4 address on the interface of its default route (eth0 here)."""
    routes = json.loads(sh("ip", "-j", "-4", "route", "show", "default").stdout or "[]")
    devs = [r["dev"] for r in routes if "dev" in r] or ["eth0"]
    for dev in devs:
        addrs = json.loads(sh("ip", "-j", "-4", "addr", "show", "dev", dev).stdout or "[]")
        for link in addrs:
            for a in link.get("addr_info", []):
                if a.get("scope") == "global":
                    return str(a["local"])
    pytest.fail("this host has no global IPv4 address on its default-route interface")


def new_id() -> str:
    return secrets.token_hex(32)


class Servers:
    """busybox servers started in container namespaces; killed at the end."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def greet(self, cid: str, port: int, text: str) -> None:
        """A persistent TCP server in the container netns answering ``text``."""
        proc = subprocess.Popen(
            ["ip", "netns", "exec", container_ns(cid), BUSYBOX, "nc", "-ll", "-p", str(port),
             "-e", BUSYBOX, "echo", text],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(proc)

        def listening() -> bool:  # after `ip netns exec` has entered the netns and exec'ed
            if os.path.realpath(f"/proc/{proc.pid}/exe") != os.path.realpath(BUSYBOX):
                return False
            for table in ("tcp", "tcp6"):
                for line in Path(f"/proc/{proc.pid}/net/{table}").read_text().splitlines()[1:]:
                    fields = line.split()
                    if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":
                        return True
            return False

        wait_until(listening, f"server on port {port} in {container_ns(cid)}")

    def stop(self) -> None:
        for proc in self.procs:
            proc.kill()
            proc.wait(timeout=5)


def start(mgr: NetworkManager, network: str, hostname: str, *, name: str | None = None,
          aliases: tuple[str, ...] = ()) -> tuple[str, str]:
    cid = new_id()
    mgr.create_netns(cid)
    [(net, ip)] = mgr.attach(cid, [NetworkAttach(network, aliases)], hostname, name=name)
    assert net == network
    return cid, ip


UDP_ECHO = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
while True:
    data, addr = s.recvfrom(2048)
    s.sendto(b"echo:" + data, addr)
"""

UDP_ASK = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))
print(s.recvfrom(2048)[0].decode())
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return int(s.getsockname()[1])
