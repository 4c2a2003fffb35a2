"""A small typed adapter over pyroute2's ``IPRoute`` with "ensure" semantics.

Role: every netlink call of the native network code goes through ``Links``:
create-or-accept-existing (``ensure_*``) and delete-or-accept-missing
(``delete_link``), typed return values instead of pyroute2's message objects,
and netlink errors mapped onto ``runtime.errors`` with the cause chained.
``Links.open(netns)`` enters a named namespace through ``netns.netlink_socket``
(setns in a thread, no fork). Neighbours: ``netns`` (sockets), ``bridge`` and
``manager`` (the callers). pyroute2 is untyped; its values stay in here.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from runtime.errors import Conflict, NotFound, Permanent, RuntimeError_, Transient
from runtime.native.net import netns


@dataclass(frozen=True)
class Link:
    index: int
    name: str
    kind: str  # "veth", "bridge", "" for others
    master: int | None
    mac: str
    up: bool


def map_error(exc: BaseException, what: str) -> RuntimeError_:
    """The runtime error for a netlink/OS failure while doing ``what``."""
    code = getattr(exc, "code", None) if isinstance(exc, NetlinkError) else None
    if code is None and isinstance(exc, OSError):
        code = exc.errno
    if code == errno.EEXIST:
        return Conflict(f"{what}: already exists ({exc})", hint="remove the leftover object")
    if code in (errno.ENODEV, errno.ENOENT, errno.ESRCH):
        return NotFound(f"{what}: not found ({exc})")
    if code in (errno.EBUSY, errno.EAGAIN, errno.ENOBUFS, errno.ENOMEM, errno.EINTR):
        return Transient(f"{what}: busy ({exc})", retry_after=0.5)
    if code == errno.EPERM:
        return Permanent(f"{what}: permission denied ({exc})", hint="run dockwright as root")
    return Permanent(f"{what}: {exc}")


def _attr(msg: Any, name: str) -> Any:
    return msg.get_attr(name) if hasattr(msg, "get_attr") else msg.get(name)


class Links:
    """Netlink operations in one network namespace (not thread-safe: one per thread)."""

    def __init__(self, ipr: Any, where: str) -> None:
        self._ipr = ipr
        self.where = where

    @classmethod
    @contextmanager
    def open(cls, ns: str | None) -> Iterator[Links]:
        """Links of namespace ``ns`` (None: the host's), closed on exit."""
        what = f"open netlink in netns {ns or 'host'}"
        try:
            sock = netns.netlink_socket(ns)
            ipr = IPRoute(fileno=sock.detach())
        except (OSError, NetlinkError) as exc:
            raise map_error(exc, what) from exc
        try:
            yield cls(ipr, ns or "host")
        finally:
            ipr.close()

    def _call(self, what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(self._ipr, method)(*args, **kwargs)
        except (OSError, NetlinkError) as exc:
            raise map_error(exc, f"{what} in netns {self.where}") from exc

    # queries -------------------------------------------------------------
    def index(self, name: str) -> int | None:
        found = self._call(f"look up {name}", "link_lookup", ifname=name)
        return int(found[0]) if found else None

    def links(self) -> list[Link]:
        out = []
        for msg in self._call("list links", "get_links"):
            info = _attr(msg, "IFLA_LINKINFO")
            kind = _attr(info, "IFLA_INFO_KIND") if info is not None else None
            master = _attr(msg, "IFLA_MASTER")
            out.append(
                Link(
                    index=int(msg["index"]),
                    name=str(_attr(msg, "IFLA_IFNAME")),
                    kind=str(kind or ""),
                    master=int(master) if master else None,
                    mac=str(_attr(msg, "IFLA_ADDRESS") or ""),
                    up=bool(msg["flags"] & 1),
                )
            )
        return out

    def link(self, name: str) -> Link | None:
        return next((lk for lk in self.links() if lk.name == name), None)

    def addresses(self, index: int) -> list[tuple[str, int]]:
        msgs = self._call("list addresses", "get_addr", index=index, family=2)
        return [(str(_attr(m, "IFA_ADDRESS")), int(m["prefixlen"])) for m in msgs]

    # ensure ----------------------------------------------------------------
    def ensure_bridge(self, name: str, mac: str) -> int:
        """A bridge named ``name`` with MAC ``mac``, up; returns its index."""
        idx = self.index(name)
        if idx is None:
            self._call(f"create bridge {name}", "link", "add", ifname=name, kind="bridge",
                       address=mac)
            idx = self.index(name)
            if idx is None:
                raise Transient(f"bridge {name} vanished after creation", retry_after=0.2)
        self.ensure_up(idx)
        return idx

    def ensure_veth(
        self,
        name: str,
        *,
        mac: str,
        peer: str,
        peer_mac: str,
        peer_netns_fd: int | None = None,
        master: int | None = None,
    ) -> bool:
        """A veth ``name`` here (up, enslaved to ``master``) whose peer ``peer`` is in
        the namespace of ``peer_netns_fd`` (None: here). True when created.

        An existing ``name`` is accepted as is (its peer goes with it); one
        netlink request creates both ends directly where they belong.
        """
        idx = self.index(name)
        if idx is None:
            peer_spec: dict[str, Any] = {"ifname": peer, "address": peer_mac}
            if peer_netns_fd is not None:
                peer_spec["net_ns_fd"] = peer_netns_fd
            spec: dict[str, Any] = {"ifname": name, "kind": "veth", "address": mac,
                                    "state": "up", "peer": peer_spec}
            if master is not None:
                spec["master"] = master
            self._call(f"create veth {name}/{peer}", "link", "add", **spec)
            return True
        if master is not None:
            current = self.link(name)
            if current is not None and current.master != master:
                self._call(f"enslave {name}", "link", "set", index=idx, master=master)
        self.ensure_up(idx)
        return False

    def ensure_up(self, index: int) -> None:
        self._call(f"set link {index} up", "link", "set", index=index, state="up")

    def ensure_addr(self, index: int, ip: str, prefixlen: int) -> None:
        if (ip, prefixlen) in self.addresses(index):
            return
        try:
            self._ipr.addr("add", index=index, address=ip, prefixlen=prefixlen)
        except NetlinkError as exc:
            if exc.code != errno.EEXIST:
                raise map_error(exc, f"add address {ip} in netns {self.where}") from exc

    def ensure_default_route(self, gateway: str) -> None:
        try:
            self._ipr.route("replace", dst="0.0.0.0/0", gateway=gateway)
        except (OSError, NetlinkError) as exc:
            raise map_error(exc, f"default route via {gateway} in {self.where}") from exc

    # delete ----------------------------------------------------------------
    def delete_link(self, name: str) -> bool:
        """Delete link ``name``; a missing link is accepted. True when deleted."""
        idx = self.index(name)
        if idx is None:
            return False
        try:
            self._ipr.link("del", index=idx)
        except NetlinkError as exc:
            if exc.code in (errno.ENODEV, errno.ENOENT):
                return False
            raise map_error(exc, f"delete link {name} in netns {self.where}") from exc
        return True
