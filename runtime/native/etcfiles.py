"""The /etc files of native containers: hosts, resolv.conf and hostname.

Role: :class:`EtcFiles` writes a container's three files when it is created
(its networks' names, or the host's own files on the host's network, then
``extra_hosts`` and the DNS options through ``runtime.native.hostopts``) and
rewrites /etc/hosts of a container and of its peers on shared networks when
names change (a first start, a network joined or left, new aliases). The files
are rewritten in place: a running container has them bind-mounted, so the inode
must stay. Parallel refreshes in one process coalesce. Neighbours:
``runtime.native.containers`` (create, start, update), ``runtime.native.netchange``
(network changes), ``runtime.native.records`` (where the files live),
``runtime.native.deps.NetworkLike`` (the names and the resolver).
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

from runtime.errors import RuntimeError_
from runtime.native import hostopts
from runtime.native.deps import NetworkLike
from runtime.native.records import READY, Record, RecordStore
from runtime.types import ContainerConfig

ETC = ("hosts", "resolv.conf", "hostname")


def _write_text(path: Path, text: str) -> None:
    """Rewrite in place (keeps the inode that a running container has bind-mounted)."""
    with path.open("w") as f:
        f.write(text)


def _read_text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


class EtcFiles:
    """Writes a container's /etc files, and refreshes /etc/hosts of it and its peers."""

    def __init__(self, records: RecordStore, net: NetworkLike) -> None:
        self.records, self.net = records, net
        self._hosts_lock = threading.Lock()  # one /etc/hosts refresh at a time
        self._hosts_state = threading.Lock()  # guards the counters and dirty sets below
        self._hosts_gen = self._hosts_done = 0
        self._dirty_nets: set[str] = set()
        self._dirty_ids: set[str] = set()

    def hosts(self, cid: str, config: ContainerConfig) -> str:
        """/etc/hosts of a container: its networks' names (the host's own file on the
        host's network), then ``extra_hosts``."""
        if config.network_mode == "host":
            base = _read_text(Path("/etc/hosts"))
        else:
            base = self.net.hosts_file(cid)
        return hostopts.hosts_text(base, config)

    def write(self, cid: str, hostname: str, config: ContainerConfig) -> None:
        lay = self.records.layout(cid)
        _write_text(lay.etc("hosts"), self.hosts(cid, config))
        resolv = (_read_text(Path("/etc/resolv.conf")) if config.network_mode == "host"
                  else self.net.resolv_conf())
        _write_text(lay.etc("resolv.conf"), hostopts.resolv_text(resolv, config))
        _write_text(lay.etc("hostname"), hostname + "\n")

    def refresh(self, rec: Record) -> None:
        """Rewrite /etc/hosts of this container and of its peers on shared networks.

        Parallel starts in one process coalesce: a refresh covers every change
        registered before it began, so waiting callers whose change it covered
        return at once (one pass instead of one per start).
        """
        with self._hosts_state:
            self._hosts_gen += 1
            mine = self._hosts_gen
            self._dirty_nets |= {n for n, _ in rec.ip_addresses}
            self._dirty_ids.add(rec.id)
        with self._hosts_lock:
            if self._hosts_done >= mine:
                return
            with self._hosts_state:
                upto, nets, ids = self._hosts_gen, self._dirty_nets, self._dirty_ids
                self._dirty_nets, self._dirty_ids = set(), set()
            for other in self.records.all():
                if other.phase != READY:
                    continue
                if other.id in ids or nets & {n for n, _ in other.ip_addresses}:
                    with contextlib.suppress(OSError, RuntimeError_):
                        path = self.records.layout(other.id).etc("hosts")
                        if path.exists():
                            _write_text(path, self.hosts(other.id, other.config))
            self._hosts_done = upto
