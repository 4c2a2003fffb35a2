"""Userspace TCP/UDP port proxy of one native container (a detached helper process).

Role: carry published-port traffic that nftables DNAT cannot: clients
arriving on the host's addresses from outside or from another container,
whose DNATed packets would be forwarded in the host namespace and dropped by
Docker's ``FORWARD DROP``. The parent (``ports``) binds and listens on the
host ports itself (so a taken port is a ``Conflict`` at once and picked ports
are known) and passes the sockets here as inherited descriptors; local
clients never reach this process (they are DNATed in the output hook).
Stdlib only, started as a script: ``python proxy.py dw-proxy <cid> <spec>``
where spec is JSON ``[[proto, fd, target_ip, target_port], ...]``.
Neighbours: ``ports`` (spawns, records, kills and garbage-collects it).
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys

MARKER = "dw-proxy"
UDP_IDLE = 60.0


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()


async def _serve_tcp(sock: socket.socket, target: tuple[str, int]) -> asyncio.Server:
    async def handle(c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        try:
            t_reader, t_writer = await asyncio.wait_for(asyncio.open_connection(*target), 10)
        except (TimeoutError, OSError):
            c_writer.close()
            return
        await asyncio.gather(_pipe(c_reader, t_writer), _pipe(t_reader, c_writer))
        for w in (c_writer, t_writer):
            w.close()

    return await asyncio.start_server(handle, sock=sock)


class _UdpFront(asyncio.DatagramProtocol):
    """Listening side: one upstream socket per client address, closed when idle."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.transport: asyncio.DatagramTransport | None = None
        self.clients: dict[tuple[str, int], tuple[asyncio.DatagramTransport, float]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.DatagramTransport)
        self.transport = transport

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

    def expire(self, now: float) -> None:
        for addr, (transport, seen) in list(self.clients.items()):
            if now - seen > UDP_IDLE:
                transport.close()
                del self.clients[addr]


async def main(spec: list[list[object]]) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    servers: list[asyncio.Server] = []
    fronts: list[_UdpFront] = []
    for proto, fd, ip, port in spec:
        target = (str(ip), int(str(port)))
        if proto == "tcp":
            sock = socket.socket(fileno=int(str(fd)))
            servers.append(await _serve_tcp(sock, target))
        else:
            sock = socket.socket(fileno=int(str(fd)))
            front = _UdpFront(target)
            await loop.create_datagram_endpoint(lambda f=front: f, sock=sock)  # type: ignore[misc]
            fronts.append(front)
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=UDP_IDLE / 2)
        except TimeoutError:
            for front in fronts:
                front.expire(loop.time())
    for server in servers:
        server.close()


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != MARKER:
        sys.exit(f"usage: {sys.argv[0]} {MARKER} <container-id> <json-spec>")
    asyncio.run(main(json.loads(sys.argv[3])))
