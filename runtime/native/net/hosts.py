"""Text of a native container's /etc/hosts and /etc/resolv.conf (pure functions).

Role: name resolution without a DNS server. A container's /etc/hosts lists
localhost, its own addresses with its hostname and name, and every peer that
shares a network with it by container name, hostname and the aliases it has
on that network (links are aliases, DESIGN principle 7). resolv.conf is the
host's, minus nameservers on 127.0.0.0/8 and ::1 (unreachable from a
container's own loopback). Neighbours: ``manager`` (collects endpoints from
its records and calls these), the native driver (writes the files into the
container's bundle).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

LOCALHOST = (
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
    "fe00::0\tip6-localnet",
    "ff00::0\tip6-mcastprefix",
    "ff02::1\tip6-allnodes",
    "ff02::2\tip6-allrouters",
)
FALLBACK_NAMESERVERS = ("8.8.8.8", "8.8.4.4")  # Docker's fallback when none is usable


@dataclass(frozen=True)
class HostEntry:
    ip: str
    names: tuple[str, ...]


def _unique(names: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for name in names:
        if name and name not in seen:
            seen[name] = None
    return tuple(seen)


def entry(ip: str, *names: str | None) -> HostEntry:
    """An /etc/hosts line for ``ip``; empty and repeated names are dropped."""
    return HostEntry(ip=ip, names=_unique(n for n in names if n))


def hosts_text(own: Iterable[HostEntry], peers: Iterable[HostEntry]) -> str:
    """The full /etc/hosts: localhost lines, own addresses, then peers (sorted by ip)."""
    lines = list(LOCALHOST)
    lines += [f"{e.ip}\t{' '.join(e.names)}" for e in own if e.names]
    peer_list = sorted(peers, key=lambda e: (tuple(int(p) for p in e.ip.split(".")), e.names))
    lines += [f"{e.ip}\t{' '.join(e.names)}" for e in peer_list if e.names]
    return "\n".join(lines) + "\n"


def _loopback(server: str) -> bool:
    return server.startswith("127.") or server in ("::1", "0:0:0:0:0:0:0:1")


def resolv_conf_text(host_text: str) -> str:
    """resolv.conf for a container from the host's text (loopback nameservers dropped)."""
    out: list[str] = []
    servers = 0
    for line in host_text.splitlines():
        fields = line.split()
        if fields[:1] == ["nameserver"] and len(fields) > 1:
            if _loopback(fields[1]):
                continue
            servers += 1
        out.append(line)
    if servers == 0:
        out += [f"nameserver {s}" for s in FALLBACK_NAMESERVERS]
    return "\n".join(out) + "\n"


def resolv_conf(path: Path = Path("/etc/resolv.conf")) -> str:
    """The container resolv.conf derived from the host's file at ``path``."""
    try:
        text = path.read_text()
    except OSError:
        text = ""
    return resolv_conf_text(text)
