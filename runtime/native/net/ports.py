"""Published ports of native containers: nftables DNAT plus a userspace proxy.

Role: make ``host_ip:host_port`` reach ``container_ip:container_port``.
- Clients on the host itself (127.0.0.1 or any host address) are DNATed in
  the output hook of our own table ``inet dockwright`` (priority -100: nft
  1.0.6 rejects ``dstnat`` there); 127.0.0.0/8 sources are masqueraded and the
  gateway veth has route_localnet=1 (see ``bridge``). This path keeps ~1 ms
  per request and never touches Docker's chains.
- Everything else (external clients, other containers dialling a host
  address) reaches the state folder's proxy daemon (``proxy.py`` through
  ``proxyctl``), because DNATed packets would be forwarded in the host
  namespace, where Docker's ``FORWARD DROP`` discards them. The listening
  sockets are bound here first and handed over: a taken port is a
  ``Conflict`` naming it, and picked ports (host_port None) are known at once.
Each rule carries the comment ``dw:<id12>``; each container's bindings are
recorded in ``<state_dir>/net/ports/<id>.json`` before any rule or listener
exists, so ``gc`` finds everything of a dead container, and a restarted
daemon gets every recorded listener back.
Neighbours: ``proxyctl`` + ``proxy`` (the daemon), ``manager`` (the caller),
``store``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from runtime.errors import Conflict, InvalidRequest, Permanent, RuntimeError_, Transient
from runtime.native.net import store
from runtime.native.net.proxyctl import START_TIMEOUT, ProxyClient
from runtime.types import PortBinding

TABLE = "dockwright"
NFT_HEADER = f"""table inet {TABLE} {{
  chain output {{ type nat hook output priority -100; policy accept; }}
  chain postrouting {{ type nat hook postrouting priority 100; policy accept; }}
  chain forward {{ type filter hook forward priority 0; policy accept; }}
}}
"""
# Networks are isolated from each other (as Docker's DOCKER-ISOLATION does): traffic
# within a network is bridged in its own netns and never reaches this hook.
ISOLATION = 'iifname "dwh*" oifname "dwh*" drop comment "dw:isolation"'
LOOPBACK_MASQ = 'ip saddr 127.0.0.0/8 oifname "dwh*" masquerade comment "dw:loopback"'


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
    shared = ("dw:loopback", "dw:isolation")
    return comment[3:] if comment.startswith("dw:") and comment not in shared else None


def masquerade_owner(rule: dict[str, Any]) -> str | None:
    """The network an egress masquerade rule belongs to, or None."""
    comment = str(rule.get("comment", ""))
    return comment[6:] if comment.startswith("dwnet:") else None


class Ports:
    """Published ports of all native containers of one state folder (records under ``root``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.proxy = ProxyClient(root)
        self._table_ready = False
        self._pending: list[threading.Thread] = []
        self._pending_cids: set[str] = set()

    def _record(self, cid: str) -> Path:
        return self.root / f"{cid}.json"

    def records(self) -> dict[str, dict[str, Any]]:
        out = {}
        for path in self.root.glob("*.json"):
            data = store.read_json(path) if path.name != "daemon.json" else None
            if data is not None and "cid" in data:
                out[str(data["cid"])] = data
        return out

    def ensure_table(self) -> None:
        """Create our nft table, chains, the loopback masquerade and the isolation of
        networks from each other (idempotent)."""
        if self._table_ready:
            return
        with store.flock(store.HOST_LOCK):
            nft(NFT_HEADER)
            comments = {r.get("comment") for r in nft_rules()}
            if "dw:loopback" not in comments:
                nft(f"add rule inet {TABLE} postrouting {LOOPBACK_MASQ}\n")
            if "dw:isolation" not in comments:
                nft(f"add rule inet {TABLE} forward {ISOLATION}\n")
        self._table_ready = True

    def ensure_masquerade(self, network: str, subnet: str) -> None:
        """Masquerade the network's traffic leaving the host (egress of a non-internal network).

        Beside Docker, forwarded egress still meets Docker's FORWARD DROP unless the
        operator accepts it in DOCKER-USER; on other hosts this is all egress needs.
        """
        self.ensure_table()
        comment = f"dwnet:{network}"
        if any(r.get("comment") == comment for r in nft_rules()):
            return
        nft(f"add rule inet {TABLE} postrouting ip saddr {subnet} ip daddr != {subnet} "
            f'oifname != "dwh*" masquerade comment "{comment}"\n')

    def remove_masquerade(self, network: str) -> None:
        comment = f"dwnet:{network}"
        script = [f"delete rule inet {TABLE} {r['chain']} handle {r['handle']}"
                  for r in nft_rules() if r.get("comment") == comment]
        if script:
            nft("\n".join(script) + "\n")

    # publish -----------------------------------------------------------------
    def publish(self, cid: str, ip: str, ports: Sequence[PortBinding]) -> list[PortBinding]:
        """Publish ``ports`` of container ``cid`` at ``ip``; returns the actual bindings."""
        existing = store.read_json(self._record(cid))
        if existing is not None:
            actual = [PortBinding(**b) for b in existing.get("bindings", [])]
            if existing.get("ip") == ip and _same(ports, actual) and \
                    (cid in self._pending_cids or cid in self.proxy.proxied()):
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
            store.write_json(self._record(cid), {"cid": cid, "ip": ip,
                                                 "bindings": [asdict(b) for b in actual]})
            try:
                nft(_rules_script(cid, ip, actual))
            except Permanent:  # our table was flushed behind our back: make it again
                self._table_ready = False
                self.ensure_table()
                nft(_rules_script(cid, ip, actual))
            self._hand_over(cid, ip, sockets)
            return actual
        except BaseException:
            with contextlib.suppress(Exception):
                self.unpublish(cid)
            raise
        finally:
            for _, sock in sockets:
                sock.close()

    def _hand_over(self, cid: str, ip: str,
                   sockets: list[tuple[PortBinding, socket.socket]]) -> None:
        """Give the listeners to the daemon; when it must start first, do that in the
        background (the kernel queues connections on the listening sockets meanwhile,
        and local clients are DNATed anyway), so a publish never waits for an
        interpreter to start."""
        targets = [[b.protocol, ip, b.container_port] for b, _ in sockets]
        with self.proxy.guard():
            if self.proxy.running():
                self.proxy.request({"op": "add", "cid": cid, "targets": targets},
                                   [s.fileno() for _, s in sockets])
                return
            self.proxy.spawn()
        fds = [os.dup(s.fileno()) for _, s in sockets]
        self._pending_cids.add(cid)
        thread = threading.Thread(target=self._finish_hand_over, args=(cid, targets, fds),
                                  name=f"dw-proxy-{cid[:12]}", daemon=True)
        self._pending.append(thread)
        thread.start()

    def _finish_hand_over(self, cid: str, targets: list[list[Any]], fds: list[int]) -> None:
        try:
            self.proxy.wait_ready()
            with self.proxy.guard():
                held = self.proxy.proxied()
                self._restore(skip=held | {cid})
                if cid not in held and self._record(cid).exists():  # not unpublished since
                    self.proxy.request({"op": "add", "cid": cid, "targets": targets}, fds)
        except RuntimeError_ as exc:
            with contextlib.suppress(OSError), open(self.root / "proxy.log", "a") as log:
                log.write(f"hand-over of {cid[:12]} failed: {exc}\n")
        finally:
            self._pending_cids.discard(cid)
            for fd in fds:
                os.close(fd)

    def settle(self, timeout: float = START_TIMEOUT) -> None:
        """Wait for background hand-overs (tests, shutdown)."""
        while self._pending:
            self._pending.pop().join(timeout)

    def _restore(self, skip: set[str]) -> None:
        """A new daemon: give it back the listeners of every recorded container."""
        for cid, record in self.records().items():
            if cid in skip:
                continue
            sockets: list[tuple[PortBinding, socket.socket]] = []
            try:
                for b in record.get("bindings", []):
                    sockets.append(_bind(PortBinding(**b)))
                targets = [[b.protocol, record["ip"], b.container_port] for b, _ in sockets]
                self.proxy.request({"op": "add", "cid": cid, "targets": targets},
                                   [s.fileno() for _, s in sockets])
            except RuntimeError_:
                continue  # its port is taken (or its hand-over is pending): DNAT still works
            finally:
                for _, sock in sockets:
                    sock.close()

    # unpublish -----------------------------------------------------------------
    def unpublish(self, cid: str) -> None:
        """Remove the rules, listeners and record of ``cid``; missing parts are fine."""
        self.unpublish_many({cid})

    def unpublish_many(self, cids: set[str]) -> None:
        """``unpublish`` for several containers with one nft transaction."""
        recorded = [c for c in cids if self._record(c).exists()]
        if not recorded:
            return  # the record is written before any rule or listener exists
        with self.proxy.guard():  # serialised with background hand-overs
            held = self.proxy.proxied()
            for cid in recorded:
                if cid in held:
                    self.proxy.request({"op": "remove", "cid": cid}, start=False)
            self.delete_rules({c[:12] for c in recorded})
            for cid in recorded:
                store.remove(self._record(cid))

    def delete_rules(self, owners: set[str]) -> int:
        """Delete the rules owned by ``owners`` (id12s) in one transaction."""
        script = [f"delete rule inet {TABLE} {r['chain']} handle {r['handle']}"
                  for r in nft_rules() if rule_owner(r) in owners]
        if script:
            nft("\n".join(script) + "\n")
        return len(script)

    def bindings(self, cid: str) -> list[PortBinding]:
        record = store.read_json(self._record(cid)) or {}
        return [PortBinding(**b) for b in record.get("bindings", [])]

    def close(self) -> None:
        """Finish hand-overs; stop the daemon when nothing is published."""
        self.settle()
        with self.proxy.guard():
            if not self.records():
                self.proxy.stop()

    def gc(self, live_ids: set[str]) -> None:
        """Drop listeners of ids that are not live; stop the daemon when nothing is left,
        and start it again (with every recorded listener) when it died."""
        self.settle()
        with self.proxy.guard():
            if not self.records():
                self.proxy.stop()
                return
            if not self.proxy.running():
                self.proxy.start()
                self._restore(skip=set())
            for cid in self.proxy.proxied() - set(live_ids):
                self.proxy.request({"op": "remove", "cid": cid}, start=False)


def _same(wanted: Sequence[PortBinding], actual: Sequence[PortBinding]) -> bool:
    if len(wanted) != len(actual):
        return False
    for w, a in zip(wanted, actual, strict=True):
        if (w.container_port, w.protocol.lower(), w.host_ip) != \
                (a.container_port, a.protocol, a.host_ip):
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
