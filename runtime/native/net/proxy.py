"""Userspace TCP/UDP port proxy of the native runtime (one detached daemon per state folder).

Role: carry published-port traffic that nftables DNAT cannot: clients
arriving on the host's addresses from outside or from another container,
whose DNATed packets would be forwarded in the host namespace and dropped by
Docker's ``FORWARD DROP``. The caller (``ports``) binds and listens on the
host ports itself (so a taken port is a ``Conflict`` at once and picked ports
are known) and hands the sockets over a unix control socket with SCM_RIGHTS:

    {"op": "add", "cid": ID, "targets": [[proto, ip, port], ...]}  + one fd per target
    {"op": "remove", "cid": ID}     {"op": "list"}     {"op": "exit"}

Each request gets one JSON line back (``{"ok": true, ...}``). One daemon
serves every container of a state folder, so publishing costs a message, not
an interpreter start. Local clients never reach it (they are DNATed in the
output hook). Stdlib only; started as ``python -S proxy.py dw-proxy <name> <folder>`` where
``<name>`` is the abstract unix socket it listens on (derived from the state
folder) and ``<folder>`` its ports folder: it exits when that folder is gone.
Neighbours: ``ports`` (client, spawns and records the daemon).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import signal
import socket
import sys
from typing import Any, cast

MARKER = "dw-proxy"
UDP_IDLE = 60.0
MAX_FDS = 64


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()


def _tcp_handler(target: tuple[str, int]) -> Any:
    async def handle(c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        try:
            t_reader, t_writer = await asyncio.wait_for(asyncio.open_connection(*target), 10)
        except (TimeoutError, OSError):
            c_writer.close()
            return
        await asyncio.gather(_pipe(c_reader, t_writer), _pipe(t_reader, c_writer))
        for w in (c_writer, t_writer):
            w.close()

    return handle


class _UdpFront(asyncio.DatagramProtocol):
    """Listening side: one upstream socket per client address, closed when idle."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.transport: asyncio.DatagramTransport | None = None
        self.clients: dict[tuple[str, int], tuple[asyncio.DatagramTransport, float]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        asyncio.get_running_loop().create_task(self._forward(data, addr))

    async def _forward(self, data: bytes, addr: tuple[str, int]) -> None:
        loop = asyncio.get_running_loop()
        entry = self.clients.get(addr)
        if entry is None:
            front = self

            class Back(asyncio.DatagramProtocol):
                def datagram_received(self, reply: bytes, _src: tuple[str, int]) -> None:
                    if front.transport is not None:
                        front.transport.sendto(reply, addr)

            transport, _ = await loop.create_datagram_endpoint(Back, remote_addr=self.target)
            entry = (transport, loop.time())
        self.clients[addr] = (entry[0], loop.time())
        entry[0].sendto(data)

    def close(self) -> None:
        for transport, _ in self.clients.values():
            transport.close()
        self.clients.clear()
        if self.transport is not None:
            self.transport.close()

    def expire(self, now: float) -> None:
        for addr, (transport, seen) in list(self.clients.items()):
            if now - seen > UDP_IDLE:
                transport.close()
                del self.clients[addr]


class Daemon:
    """Listeners per container id, managed over the control socket."""

    def __init__(self, loop: asyncio.AbstractEventLoop, home: str | None = None) -> None:
        self.loop = loop
        self.home = home
        self.servers: dict[str, list[asyncio.Server]] = {}
        self.fronts: dict[str, list[_UdpFront]] = {}
        self.stop = asyncio.Event()

    async def add(self, cid: str, targets: list[list[Any]], fds: list[int]) -> None:
        await self.remove(cid)
        servers, fronts = [], []
        for (proto, ip, port), fd in zip(targets, fds, strict=True):
            sock = socket.socket(fileno=fd)
            target = (str(ip), int(port))
            if proto == "tcp":
                servers.append(await asyncio.start_server(_tcp_handler(target), sock=sock))
            else:
                front = _UdpFront(target)
                await self.loop.create_datagram_endpoint(lambda f=front: f, sock=sock)  # type: ignore[misc]
                fronts.append(front)
        self.servers[cid], self.fronts[cid] = servers, fronts

    async def remove(self, cid: str) -> None:
        for server in self.servers.pop(cid, []):
            server.close()
            with contextlib.suppress(Exception):
                await server.wait_closed()
        for front in self.fronts.pop(cid, []):
            front.close()

    async def request(self, conn: socket.socket) -> None:
        """Serve one control connection: one JSON request (+ fds), one JSON reply."""
        fds: list[int] = []
        try:
            data, fds, _flags, _addr = socket.recv_fds(conn, 1 << 20, MAX_FDS)
            req = json.loads(data)
            op = req.get("op")
            if op == "add":
                await self.add(str(req["cid"]), list(req["targets"]), fds)
                fds = []
                reply: dict[str, Any] = {"ok": True}
            elif op == "remove":
                await self.remove(str(req["cid"]))
                reply = {"ok": True}
            elif op == "list":
                reply = {"ok": True, "cids": sorted(set(self.servers) | set(self.fronts))}
            elif op == "exit":
                self.stop.set()
                reply = {"ok": True}
            else:
                reply = {"ok": False, "error": f"unknown op {op!r}"}
        except Exception as exc:  # report to the client, keep serving others
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        finally:
            for fd in fds:
                os.close(fd)
        with contextlib.suppress(OSError):
            conn.sendall(json.dumps(reply).encode() + b"\n")
        conn.close()

    async def serve(self, name: str) -> None:
        control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        for attempt in range(200):  # a predecessor may still be exiting
            try:
                control.bind("\0" + name)  # abstract: gone with the process, no path limit
                break
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE or attempt == 199:
                    raise
                await asyncio.sleep(0.01)
        control.listen(64)
        control.setblocking(False)
        for sig in (signal.SIGTERM, signal.SIGINT):
            self.loop.add_signal_handler(sig, self.stop.set)
        accept = asyncio.ensure_future(self.loop.sock_accept(control))
        while not self.stop.is_set():
            stopper = asyncio.ensure_future(self.stop.wait())
            done, _ = await asyncio.wait({accept, stopper}, timeout=UDP_IDLE / 2,
                                         return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if accept in done:
                conn, _ = accept.result()
                conn.setblocking(True)
                conn.settimeout(5)
                await self.request(conn)
                accept = asyncio.ensure_future(self.loop.sock_accept(control))
            if self.home is not None and not os.path.isdir(self.home):
                break  # the state folder is gone (a deleted test folder): nobody owns us
            for fronts in self.fronts.values():
                for front in fronts:
                    front.expire(self.loop.time())
        accept.cancel()
        for cid in list(self.servers):
            await self.remove(cid)
        control.close()


async def main(name: str, home: str | None) -> None:
    await Daemon(asyncio.get_running_loop(), home).serve(name)


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4) or sys.argv[1] != MARKER:
        sys.exit(f"usage: {sys.argv[0]} {MARKER} <abstract-control-socket-name> [state-folder]")
    asyncio.run(main(sys.argv[2], sys.argv[3] if len(sys.argv) == 4 else None))
