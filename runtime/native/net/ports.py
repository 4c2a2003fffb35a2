"""Published ports of native containers: nftables DNAT plus a userspace proxy.

Role: make ``host_ip:host_port`` reach ``container_ip:container_port``.
- Clients on the host itself (127.0.0.1 or any host address) are DNATed in
  the output hook of our own table ``inet dockwright`` (priority -100: nft
  1.0.6 rejects ``dstnat`` there); 127.0.0.0/8 sources are masqueraded and the
  gateway veth has route_localnet=1 (see ``bridge``). This path keeps ~1 ms
  per request and never touches Docker's chains.
- Everything else (external clients, other containers dialling a host
  address) reaches a small detached proxy process per container
  (``proxy.py``), because DNATed packets would be forwarded in the host
  namespace, where Docker's ``FORWARD DROP`` discards them. The proxy's
  sockets are bound here first: a taken port is a ``Conflict`` naming it,
  and picked ports (host_port None) are known at once.
Each rule carries the comment ``dw:<id12>`` and each proxy is recorded in
``<state_dir>/net/ports/<id>.json`` with its pid and has the id on its
command line, so ``gc`` finds everything of a dead container.
Neighbours: ``proxy`` (the helper), ``manager`` (the caller), ``store``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from runtime.errors import Conflict, InvalidRequest, Permanent, Transient
from runtime.native.net import store
from runtime.native.net.proxy import MARKER
from runtime.types import PortBinding

TABLE = "dockwright"
NFT_HEADER = f"""table inet {TABLE} {{
  chain output {{ type nat hook output priority -100; policy accept; }}
  chain postrouting {{ type nat hook postrouting priority 100; policy accept; }}
}}
"""
LOOPBACK_MASQ = 'ip saddr 127.0.0.0/8 oifname "dwh*" masquerade comment "dw:loopback"'
PROXY = Path(__file__).with_name("proxy.py")


def nft(script: str, *args: str) -> str:
    """Run ``nft [args] -f -`` with ``script``; errors become ``Permanent``."""
    try:
        done = subprocess.run(["nft", *args, "-f", "-"], input=script, capture_output=True,
                              text=True, timeout=30, check=False)
    except FileNotFoundError as exc:
        raise Permanent("nft not found", hint="install the nftables package") from exc
    except subprocess.TimeoutExpired as exc:
        raise Transient("nft timed out", retry_after=1.0) from exc
    if done.returncode != 0:
        raise Permanent(f"nft failed: {done.stderr.strip()}\nscript:\n{script}",
                        hint="check that nftables works on this host (`nft list ruleset`)")
    return done.stdout


def nft_rules() -> list[dict[str, Any]]:
    """Rules of our table as nft JSON objects (empty when the table is missing)."""
    done = subprocess.run(["nft", "-j", "-a", "list", "table", "inet", TABLE],
                          capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0:
        return []
    items = json.loads(done.stdout).get("nftables", [])
    return [item["rule"] for item in items if "rule" in item]


def rule_owner(rule: dict[str, Any]) -> str | None:
    """The ``<id12>`` a rule belongs to (from its comment), or None."""
    comment = str(rule.get("comment", ""))
    return comment[3:] if comment.startswith("dw:") and comment != "dw:loopback" else None


def _pid_cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def proxy_pids() -> dict[int, str]:
    """Running proxy processes: pid -> container id (from their command lines)."""
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            argv = _pid_cmdline(int(entry.name))
            if MARKER in argv[1:3] and len(argv) > argv.index(MARKER) + 1:
                out[int(entry.name)] = argv[argv.index(MARKER) + 1]
    return out


class Ports:
    """Published ports of all native containers, recorded under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        self._table_ready = False

    def _record(self, cid: str) -> Path:
        return self.root / f"{cid}.json"

    def ensure_table(self) -> None:
        """Create our nft table, chains and the loopback masquerade (idempotent)."""
        if self._table_ready:
            return
        with store.flock(store.HOST_LOCK):
            nft(NFT_HEADER)
            if not any(r.get("comment") == "dw:loopback" for r in nft_rules()):
                nft(f"add rule inet {TABLE} postrouting {LOOPBACK_MASQ}\n")
        self._table_ready = True

    # publish -----------------------------------------------------------------
    def publish(self, cid: str, ip: str, ports: Sequence[PortBinding]) -> list[PortBinding]:
        """Publish ``ports`` of container ``cid`` at ``ip``; returns the actual bindings."""
        existing = store.read_json(self._record(cid))
        if existing is not None:
            actual = [PortBinding(**b) for b in existing.get("bindings", [])]
            if existing.get("ip") == ip and self._alive(existing) and _same(ports, actual):
                return actual
            self.unpublish(cid)
        if not ports:
            return []
        self.ensure_table()
        sockets: list[tuple[PortBinding, socket.socket]] = []
        try:
            for binding in ports:
                sockets.append(_bind(binding))
            actual = [b for b, _ in sockets]
            store.write_json(self._record(cid), {"cid": cid, "ip": ip, "pid": None,
                                                 "bindings": [asdict(b) for b in actual]})
            nft(_rules_script(cid, ip, actual))
            spec = [[b.protocol, s.fileno(), ip, b.container_port] for b, s in sockets]
            pid = self._spawn(cid, spec, [s.fileno() for _, s in sockets])
            store.write_json(self._record(cid), {"cid": cid, "ip": ip, "pid": pid,
                                                 "bindings": [asdict(b) for b in actual]})
            return actual
        except BaseException:
            with contextlib.suppress(Exception):
                self.unpublish(cid)
            raise
        finally:
            for _, sock in sockets:
                sock.close()

    def _spawn(self, cid: str, spec: list[list[Any]], fds: list[int]) -> int:
        log = self.root / f"{cid}.log"
        with open(log, "ab") as out:
            try:
                proc = subprocess.Popen(
                    [sys.executable, "-S", str(PROXY), MARKER, cid, json.dumps(spec)],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=out, pass_fds=fds,
                    start_new_session=True, cwd="/",
                )
            except OSError as exc:
                raise Permanent(f"cannot start the port proxy of {cid[:12]}: {exc}",
                                hint="check the Python interpreter of dockwright") from exc
        self._children[proc.pid] = proc
        return proc.pid

    @staticmethod
    def _alive(record: dict[str, Any]) -> bool:
        pid = record.get("pid")
        return isinstance(pid, int) and MARKER in _pid_cmdline(pid) and \
            str(record.get("cid")) in _pid_cmdline(pid)

    # unpublish -----------------------------------------------------------------
    def unpublish(self, cid: str) -> None:
        """Remove the rules, the proxy and the record of ``cid``; missing parts are fine."""
        record = store.read_json(self._record(cid))
        if record is None:
            return  # the record is written before any rule or proxy exists
        if isinstance(record.get("pid"), int):
            if self._alive(record):
                self._kill(int(record["pid"]))
        else:  # a crash between spawn and record: find the proxy by its command line
            for pid, owner in proxy_pids().items():
                if owner == cid:
                    self._kill(pid)
        self.delete_rules({cid[:12]})
        store.remove(self._record(cid))
        store.remove(self.root / f"{cid}.log")

    def _kill(self, pid: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        child = self._children.pop(pid, None)
        if child is not None:
            child.wait(timeout=5)
            return
        for _ in range(100):  # not our child: wait for it to disappear
            if not Path(f"/proc/{pid}").exists() or _zombie(pid):
                return
            time.sleep(0.01)

    def delete_rules(self, owners: set[str] | None, keep: set[str] | None = None) -> int:
        """Delete rules owned by ``owners`` (id12s), or by anyone not in ``keep``."""
        script = []
        for rule in nft_rules():
            owner = rule_owner(rule)
            if owner is None:
                continue
            if (owners is not None and owner in owners) or \
                    (keep is not None and owner not in keep):
                script.append(f"delete rule inet {TABLE} {rule['chain']} handle {rule['handle']}")
        if script:
            nft("\n".join(script) + "\n")
        return len(script)

    def bindings(self, cid: str) -> list[PortBinding]:
        record = store.read_json(self._record(cid)) or {}
        return [PortBinding(**b) for b in record.get("bindings", [])]


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def _same(wanted: Sequence[PortBinding], actual: Sequence[PortBinding]) -> bool:
    if len(wanted) != len(actual):
        return False
    for w, a in zip(wanted, actual, strict=True):
        if (w.container_port, w.protocol, w.host_ip) != (a.container_port, a.protocol, a.host_ip):
            return False
        if w.host_port is not None and w.host_port != a.host_port:
            return False
    return True


def _bind(binding: PortBinding) -> tuple[PortBinding, socket.socket]:
    """A listening (tcp) or bound (udp) socket for ``binding``; the actual binding."""
    proto = binding.protocol.lower()
    if proto not in ("tcp", "udp"):
        raise InvalidRequest(f"port protocol {binding.protocol!r} is not supported",
                             hint="use tcp or udp")
    host_ip = "" if binding.host_ip in ("", "0.0.0.0") else binding.host_ip
    if ":" in host_ip:
        raise InvalidRequest(f"IPv6 host address {host_ip} is not supported by the native "
                             "runtime", hint="publish on an IPv4 address or on all addresses")
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    sock = socket.socket(socket.AF_INET, kind)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host_ip, binding.host_port or 0))
        if proto == "tcp":
            sock.listen(128)
    except OSError as exc:
        sock.close()
        where = f"{host_ip or '0.0.0.0'}:{binding.host_port or 0}/{proto}"
        if exc.errno == errno.EADDRINUSE:
            raise Conflict(f"host port {binding.host_port}/{proto} ({where}) is already in use",
                           hint=f"free port {binding.host_port} or publish on another one") \
                from exc
        if exc.errno == errno.EADDRNOTAVAIL:
            raise InvalidRequest(f"cannot publish on {where}: not an address of this host",
                                 hint="use one of the host's addresses or leave ip empty") \
                from exc
        raise Permanent(f"cannot bind {where}: {exc}") from exc
    port = int(sock.getsockname()[1])
    return PortBinding(binding.container_port, proto, binding.host_ip, port), sock


def _rules_script(cid: str, ip: str, bindings: Sequence[PortBinding]) -> str:
    lines = []
    for b in bindings:
        host_ip = "" if b.host_ip in ("", "0.0.0.0") else b.host_ip
        match = f"ip daddr {host_ip}" if host_ip else "meta nfproto ipv4 fib daddr type local"
        lines.append(
            f"add rule inet {TABLE} output {match} {b.protocol} dport {b.host_port} "
            f'dnat ip to {ip}:{b.container_port} comment "dw:{cid[:12]}"'
        )
    return "\n".join(lines) + "\n"
