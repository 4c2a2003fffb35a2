"""A counting unix-socket proxy that fires a fault at the N-th Docker API request.

Role: sits between the CLI (``DOCKER_HOST=unix://<proxy.sock>``) and a private
``dockerd`` socket; parses each HTTP request's head (method, path,
``Content-Length``) so that it can count requests on every connection, and
when request number N arrives calls the armed action (SIGKILL the CLI, or kill
the daemon) either *before* forwarding it (the daemon never sees it) or
*after* it, as soon as the daemon's first reply bytes come back (the daemon
did the work; the CLI never learns it). No hooks in the product. Neighbours:
``tests/faults/harness.py`` (the sweep), ``tests/dockerd.py``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Armed:
    """What to do, and when: request number ``at`` (1-based), ``mode`` "before" or "after"."""

    at: int
    mode: str
    action: Callable[[], None]
    fired: bool = False


@dataclass
class KillProxy:
    """``start()``; ``arm(...)`` before each run; ``count`` is the requests seen since."""

    upstream: Path
    path: Path
    count: int = 0
    requests: list[str] = field(default_factory=list)
    armed: Armed | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _listener: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.path}"

    def start(self) -> None:
        self.path.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.path))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.close()

    def arm(self, at: int | None, mode: str = "before",
            action: Callable[[], None] | None = None) -> None:
        """Reset the count; fire ``action`` at request ``at`` (None: count only)."""
        with self._lock:
            self.count = 0
            self.requests = []
            self.armed = Armed(at, mode, action) if at is not None and action else None

    @property
    def fired(self) -> bool:
        return self.armed is not None and self.armed.fired

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.connect(str(self.upstream))
        except OSError:
            client.close()
            return
        pending = _Pending()  # set: the next reply bytes answer the armed request
        threading.Thread(target=self._back, args=(upstream, client, pending),
                         daemon=True).start()
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = client.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, rest = buf.partition(b"\r\n\r\n")
                length, chunked = _body_of(head)
                if chunked:  # not counted further: relay the rest as it comes
                    upstream.sendall(head + b"\r\n\r\n" + rest)
                    while data := client.recv(65536):
                        upstream.sendall(data)
                    return
                while len(rest) < length:
                    data = client.recv(65536)
                    if not data:
                        return
                    rest += data
                body, buf = rest[:length], rest[length:]
                if self._on_request(head, pending) == "drop":
                    return
                upstream.sendall(head + b"\r\n\r\n" + body)
        except OSError:
            return
        finally:
            with contextlib.suppress(OSError):
                upstream.shutdown(socket.SHUT_WR)

    def _on_request(self, head: bytes, pending: _Pending) -> str:
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        with self._lock:
            self.count += 1
            self.requests.append(" ".join(line.split(" ")[:2]))
            armed = self.armed
            hit = armed is not None and not armed.fired and self.count >= armed.at
            if hit and armed is not None:
                armed.fired = True
        if not hit or armed is None:
            return "forward"
        if armed.mode == "before":
            armed.action()
            return "drop"
        pending.action = armed.action
        return "forward"

    def _back(self, upstream: socket.socket, client: socket.socket,
              pending: _Pending) -> None:
        with contextlib.suppress(OSError):
            while data := upstream.recv(65536):
                action, pending.action = pending.action, None
                if action is not None:  # the answer is lost, the connection closed
                    action()
                    break
                client.sendall(data)
        for sock in (client, upstream):  # shutdown wakes the other thread's recv; close alone
            with contextlib.suppress(OSError):  # would leave the peer waiting for an answer
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()


@dataclass
class _Pending:
    """Per connection: the action to fire when the daemon's next reply bytes arrive."""

    action: Callable[[], None] | None = None


def _body_of(head: bytes) -> tuple[int, bool]:
    """``(Content-Length, chunked?)`` of a request head."""
    length, chunked = 0, False
    for raw in head.split(b"\r\n")[1:]:
        name, _, value = raw.decode("latin-1").partition(":")
        key = name.strip().lower()
        if key == "content-length":
            length = int(value.strip())
        elif key == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    return length, chunked
