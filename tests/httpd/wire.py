"""Socket helpers of the HTTP endpoint tests: raw bytes in, a parsed answer out.

Neighbours: ``tests/httpd/conftest.py`` (the server), the tests of this folder.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Answer:
    """What came back on one connection (``status`` 0: closed without an answer)."""

    status: int
    headers: dict[str, str]  # names lower-cased
    body: bytes
    raw: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def parse(raw: bytes) -> Answer:
    if not raw:
        return Answer(0, {}, b"", raw)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    version, code, _ = lines[0].split(" ", 2)
    assert version == "HTTP/1.1", raw[:200]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        assert name.lower() not in headers, f"{name} twice"
        headers[name.lower()] = value.strip()
    return Answer(int(code), headers, body, raw)


def read_all(sock: socket.socket, timeout: float = 10.0) -> bytes:
    """Everything until the server closes (a reset after an answer still keeps it)."""
    sock.settimeout(timeout)
    out = b""
    try:
        while chunk := sock.recv(65536):
            out += chunk
    except ConnectionResetError:
        pass
    return out


def connect(address: tuple[str, int], source: str = "127.0.0.1",
            timeout: float = 30.0) -> socket.socket:
    """A connection from the loopback address ``source`` (127.0.0.2 ... is another client)."""
    return socket.create_connection(address, timeout=timeout, source_address=(source, 0))


def raw(address: tuple[str, int], data: bytes, *, close_write: bool = True,
        timeout: float = 10.0, source: str = "127.0.0.1") -> Answer:
    """Send ``data`` on a new connection (then end the sending side) and read the answer."""
    with connect(address, source, timeout) as sock:
        try:
            sock.sendall(data)
            if close_write:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server answered and closed before all of it was sent
        return parse(read_all(sock, timeout))


def request(address: tuple[str, int], method: str, path: str, *, body: bytes = b"",
            headers: dict[str, str] | None = None, source: str = "127.0.0.1") -> Answer:
    given = headers or {}
    lines = [f"{method} {path} HTTP/1.1"] + ([] if "Host" in given else ["Host: localhost"])
    lines += [f"{k}: {v}" for k, v in given.items()]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return raw(address, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body,
               source=source)
