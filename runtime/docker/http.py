"""The stdlib HTTP client of the Docker Engine API over its unix socket (no docker SDK).

Role: the fast :class:`runtime.docker.transport.Transport`. Importing the docker
SDK (requests, urllib3) costs more than a whole no-op ``diff`` otherwise needs, so
on a local unix socket every call of the Docker driver goes through
:class:`EngineClient`: a minimal HTTP/1.1 client (``http.client`` alone imports
``email`` and ``ssl``) over an ``AF_UNIX`` socket, one keep-alive connection per
thread for JSON calls, a connection of its own for each stream (chunked, sized or
read-to-close answers read as they arrive; ``close()`` shuts the socket down so a
blocked read returns), request bodies streamed from a file with their length. The
API version is negotiated once with ``GET /version``. Neighbours:
``runtime.docker.transport`` (the interface, errors and stream decoders),
``runtime.docker.sdk`` (the other implementation, for TCP/TLS),
``runtime.docker.engine`` (the API calls on top).
"""

from __future__ import annotations

import json
import os
import select
import socket
import sys
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

from runtime.docker.transport import (
    EngineError,
    EngineTimeout,
    EngineUnreachable,
    Params,
    Upload,
    explanation,
)

DEFAULT_SOCKET = "/var/run/docker.sock"
CHUNK = 1 << 16


class _Stale(EngineUnreachable):
    """A kept-alive connection was closed by the daemon before it answered."""


def socket_path(base_url: str | None) -> str | None:
    """The unix socket of ``base_url`` (else ``DOCKER_HOST``, else the default), or None
    when the daemon is reached otherwise (TCP, TLS, ssh): the SDK's transport does that."""
    if os.environ.get("DOCKER_TLS_VERIFY") or os.environ.get("DOCKER_CERT_PATH"):
        return None
    url = base_url or os.environ.get("DOCKER_HOST") or f"unix://{DEFAULT_SOCKET}"
    if url.startswith("unix://"):
        return url[len("unix://"):] or DEFAULT_SOCKET
    if url.startswith("/"):
        return url
    return None


class _Head:
    """Status and headers (lower-case names) of one answer; its body is read after."""

    def __init__(self, status: int, headers: dict[str, str]) -> None:
        self.status, self.headers = status, headers

    @property
    def framing(self) -> str:
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            return "chunked"
        return "sized" if "content-length" in self.headers else "to-close"


class _Connection:
    """One HTTP/1.1 connection over a unix socket (what the Engine API needs: sized,
    chunked or read-to-close bodies; no TLS, no proxies, no redirects)."""

    def __init__(self, path: str, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self._file: Any = None

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
        except TimeoutError as exc:
            sock.close()
            raise EngineTimeout(f"connecting to {self.path} timed out", connect=True) from exc
        except OSError as exc:
            sock.close()
            raise EngineUnreachable(f"cannot connect to {self.path}: {exc}") from exc
        self.sock, self._file = sock, sock.makefile("rb")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        if self.sock is not None:
            self.sock.close()
        self.sock = self._file = None

    def shutdown(self) -> None:
        """End a read blocked in another thread (then :meth:`close`)."""
        sock = self.sock
        if sock is not None:
            try:  # noqa: SIM105
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __del__(self) -> None:  # a worker thread ended: its connection goes with it
        try:  # noqa: SIM105 - no module globals here: at exit they may be gone already
            self.close()
        except Exception:
            pass

    def send(self, method: str, url: str, headers: dict[str, str], body: bytes | None,
             upload: Upload | None, timeout: float | None) -> _Head:
        """Send one request and read the status line and headers of its answer."""
        if self.sock is None:
            self.connect()
        assert self.sock is not None
        self.sock.settimeout(timeout)
        lines = [f"{method} {url} HTTP/1.1", "Host: docker"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if upload is not None:
            lines += [f"Content-Type: {upload.content_type}", f"Content-Length: {upload.size}"]
        elif body is not None or method in ("POST", "PUT"):
            lines.append(f"Content-Length: {len(body or b'')}")
        try:
            self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
                              + (body or b""))
            if upload is not None:
                for block in upload.chunks(CHUNK):
                    self.sock.sendall(block)
            status_line = self._file.readline(65537)
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise _Stale(f"the daemon closed the connection: {exc}") from exc
        if not status_line:
            raise _Stale("the daemon closed the connection without answering")
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            raise EngineUnreachable(f"not an HTTP answer: {status_line[:80]!r}")
        found: dict[str, str] = {}
        while (line := self._file.readline(65537)) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            found[name.strip().lower()] = value.strip()
        head = _Head(int(parts[1]), found)
        if method == "HEAD" or head.status in (204, 304) or 100 <= head.status < 200:
            head.headers["content-length"] = "0"
        return head

    def body(self, head: _Head) -> bytes:
        """The whole body of an answer (then the connection is ready for the next call)."""
        payload = b"".join(self.chunks(head))
        if head.framing == "to-close" or head.headers.get("connection", "").lower() == "close":
            self.close()
        return payload

    def chunks(self, head: _Head) -> Iterator[bytes]:
        """The body of an answer as it arrives."""
        if head.framing == "chunked":
            while True:
                size_line = self._file.readline(65537)
                if not size_line:
                    raise EngineUnreachable("the daemon closed the connection in a chunked answer")
                size = int(size_line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while self._file.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return
                yield self._exactly(size)
                self._exactly(2)  # CRLF after each chunk
        elif head.framing == "sized":
            left = int(head.headers["content-length"])
            while left > 0:
                block = self._file.read1(min(left, CHUNK))
                if not block:
                    raise EngineUnreachable("the daemon closed the connection in the middle "
                                            "of an answer")
                left -= len(block)
                yield block
        else:
            while block := self._file.read1(CHUNK):
                yield block

    def _exactly(self, size: int) -> bytes:
        data: bytes = self._file.read(size)
        if len(data) != size:
            raise EngineUnreachable("the daemon closed the connection in the middle of an answer")
        return data


class _SocketStream:
    """A streamed answer on a connection of its own (:class:`runtime.docker.transport.Stream`)."""

    def __init__(self, conn: _Connection, head: _Head, what: str) -> None:
        self._conn, self._head, self._what = conn, head, what
        self._closed = threading.Event()

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._conn.chunks(self._head)
        except TimeoutError as exc:
            raise EngineTimeout(f"{self._what}: read timed out", connect=False) from exc
        except (OSError, ValueError) as exc:
            if not self._closed.is_set():
                raise EngineUnreachable(f"{self._what}: connection aborted: {exc!r}") from exc
        finally:
            self._conn.close()

    def close(self) -> None:
        self._closed.set()
        self._conn.shutdown()


def _dropped(conn: _Connection) -> bool:
    """A kept-alive connection the daemon has closed (readable with nothing to say)."""
    sock = conn.sock
    if sock is None:
        return False  # not connected yet: roundtrip() connects
    try:
        poller = select.poll()  # not select(): no limit on the descriptor's number
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


class EngineClient:
    """Calls to a Docker daemon on a unix socket; safe to share between threads."""

    def __init__(self, path: str, timeout: float = 60) -> None:
        self.path = path
        self.address = f"unix://{path}"
        self.timeout = timeout
        self._local = threading.local()
        self._prefix = ""
        self._lock = threading.Lock()
        self.hooks: list[Callable[[str, str], None]] = []  # (method, url) of each request

    def _connection(self) -> _Connection:
        conn: _Connection | None = getattr(self._local, "conn", None)
        if conn is not None and _dropped(conn):
            conn.close()
        if conn is None:
            conn = self._local.conn = _Connection(self.path, self.timeout)
        return conn

    def _target(self, method: str, path: str, params: Params, versioned: bool) -> str:
        if versioned and not self._prefix:
            self.negotiate()
        url = (self._prefix if versioned else "") + path
        query = {k: v for k, v in (params or {}).items() if v is not None}
        if query:
            url += "?" + urllib.parse.urlencode(query)
        for hook in self.hooks:
            hook(method, url)
        sys.audit("dockwright.docker.request", method, url)  # counted by bench/apicount.py
        return url

    @staticmethod
    def _headers(body: Any) -> tuple[dict[str, str], bytes | None]:
        headers = {"User-Agent": "dockwright"}
        if body is None:
            return headers, None
        headers["Content-Type"] = "application/json"
        return headers, json.dumps(body).encode()

    def request(self, method: str, path: str, *, params: Params = None, body: Any = None,
                timeout: float | None = None, versioned: bool = True) -> Any:
        url = self._target(method, path, params, versioned)
        headers, data = self._headers(body)
        conn = self._connection()
        wait = self.timeout if timeout is None else timeout
        try:
            reused = conn.sock is not None
            try:
                head = conn.send(method, url, headers, data, None, wait)
            except _Stale:
                if not (reused and method == "GET"):  # only a read is safe to send again
                    raise
                conn.close()  # closed while idle (a race with the check above): once more
                head = conn.send(method, url, headers, data, None, wait)
            payload = conn.body(head)
        except (EngineUnreachable, EngineTimeout):
            conn.close()
            raise
        except TimeoutError as exc:
            conn.close()
            raise EngineTimeout(f"{method} {path}: read timed out", connect=False) from exc
        except (OSError, ValueError) as exc:
            conn.close()
            raise EngineUnreachable(f"connection to {self.path} aborted: {exc!r}") from exc
        if head.status >= 400:
            raise EngineError(head.status, explanation(payload))
        if not payload:
            return None
        if head.headers.get("content-type", "").startswith("application/json"):
            return json.loads(payload)
        return payload.decode("utf-8", "replace")

    def stream(self, method: str, path: str, *, params: Params = None, body: Any = None,
               upload: Upload | None = None, timeout: float | None = None) -> _SocketStream:
        url = self._target(method, path, params, True)
        headers, data = self._headers(body)
        conn = _Connection(self.path, self.timeout)  # its own: it stays busy while read
        try:
            head = conn.send(method, url, headers, data, upload, self.timeout)
            if head.status >= 400:
                raise EngineError(head.status, explanation(conn.body(head)))
        except TimeoutError as exc:
            conn.close()
            raise EngineTimeout(f"{method} {path}: read timed out", connect=False) from exc
        except (OSError, ValueError) as exc:
            conn.close()
            if isinstance(exc, (EngineUnreachable, EngineTimeout)):
                raise
            raise EngineUnreachable(f"connection to {self.path} aborted: {exc!r}") from exc
        except EngineError:
            conn.close()
            raise
        assert conn.sock is not None
        conn.sock.settimeout(timeout)
        return _SocketStream(conn, head, f"{method} {path}")

    def negotiate(self) -> None:
        """Use the daemon's API version (``GET /version``), once."""
        with self._lock:
            if self._prefix:
                return
            try:
                data = self.request("GET", "/version", versioned=False)
                self._prefix = f"/v{data['ApiVersion']}"
            except (EngineError, EngineTimeout, KeyError, TypeError) as exc:
                raise EngineUnreachable(
                    f"Error while fetching server API version: {exc}") from exc

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
