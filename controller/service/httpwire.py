"""HTTP/1.1 on the wire for the watch service's endpoint: bounded, deadline-bound parsing.

Role: the values every route of ``watch --listen`` speaks (:class:`Request`,
:class:`Response`, :class:`Headers`, :class:`Limits`) and the strict reading of
one request from a socket: the request line and the headers must arrive within
``Limits.header_timeout`` altogether (not per byte, so a client that drips one byte
at a time is cut off), each line and all headers together are bounded (414, 431),
the header count is bounded (431), the body is bounded (413) and must arrive within
``Limits.body_timeout``, and is taken from a :class:`Budget` shared by all
connections first (503 when it is spent: memory stays bounded however many
clients send at once); ``Content-Length`` and ``chunked`` framing are checked
(both at once, several lengths, or a bad chunk are 400; another transfer coding is
501); the path is percent-decoded once and refused when it holds ``.``/``..``
segments, a backslash or a control character (400), so no route can be walked out
of. Problems are :class:`HTTPError` (answered) or :class:`ClientGone` (closed).
Neighbours: ``controller.service.httpserver`` (the server, the router, the writing of
responses), ``controller.service.httpd`` (the routes). Stdlib only.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True)
class Limits:
    """What one request may cost the server (sizes in bytes, times in seconds)."""

    request_line: int = 8192  # longer: 414
    header_line: int = 8192  # one header line; longer: 431
    header_bytes: int = 32768  # all header lines together; more: 431
    headers: int = 64  # more header fields: 431
    body: int = 1024 * 1024  # more: 413 (a GitHub push payload is far smaller)
    bodies: int = 8 * 1024 * 1024  # all bodies being read at once; more: 503 (memory bound)
    header_timeout: float = 10.0  # request line and all headers, from the first byte wait
    body_timeout: float = 30.0  # the whole body, once the headers are in
    write_timeout: float = 10.0  # one write of a response (a client that does not read)
    connections: int = 128  # open connections at once; more are answered 503 and closed
    per_client: int = 32  # open connections from one address; more: 503 (others still served)


class HTTPError(Exception):
    """A request the server answers with ``status`` and a JSON error (then closes)."""

    def __init__(self, status: int, message: str, *, allow: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.allow = status, message, allow


class ClientGone(Exception):
    """The client closed, reset or went silent: nothing to answer (``timeout``: it went
    silent, which is answered 408 when possible)."""

    def __init__(self, message: str, *, timeout: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout


class Headers:
    """Request header fields in order; names compare case-insensitively."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self.items: tuple[tuple[str, str], ...] = tuple(items)

    def get(self, name: str, default: str | None = None) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.items if k.lower() == wanted), default)

    def get_all(self, name: str) -> list[str]:
        wanted = name.lower()
        return [v for k, v in self.items if k.lower() == wanted]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class Request:
    """One parsed request: ``path`` percent-decoded and checked, ``query`` as given."""

    method: str
    path: str
    query: str
    headers: Headers
    body: bytes
    client: str  # the peer's address (no port)
    version: str = "HTTP/1.1"

    @property
    def params(self) -> dict[str, list[str]]:
        """The query string's fields (``?a=1&a=2`` -> ``{"a": ["1", "2"]}``)."""
        return parse_qs(self.query, keep_blank_values=True)


@dataclass(frozen=True)
class Response:
    """What a route answers. ``body`` is bytes (sent with a length) or an iterator of
    chunks (a stream such as Server-Sent Events: each chunk is sent as it comes, the
    connection closes at its end; the server closes the iterator when the client goes)."""

    status: int
    body: bytes | Iterator[bytes] = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = field(default=())


def json_response(status: int, value: Any, *, headers: tuple[tuple[str, str], ...] = (),
                  ) -> Response:
    text = json.dumps(value, indent=2, sort_keys=True, default=str) + "\n"
    return Response(status, text.encode(), "application/json", headers)


def html_response(status: int, text: str) -> Response:
    return Response(status, text.encode(), "text/html; charset=utf-8")


def error_response(error: HTTPError) -> Response:
    extra = (("Allow", error.allow),) if error.allow else ()
    return json_response(error.status, {"error": error.message}, headers=extra)


class Budget:
    """Bytes of request bodies all connections may hold at once (thread-safe)."""

    def __init__(self, total: int) -> None:
        self.total, self.used = total, 0
        self._lock = threading.Lock()

    def take(self, size: int) -> bool:
        with self._lock:
            if self.used + size > self.total:
                return False
            self.used += size
            return True

    def give(self, size: int) -> None:
        with self._lock:
            self.used -= size


class Reader:
    """Buffered reads from a socket, each bounded by a deadline (``time.monotonic``);
    the body it reads is first taken from ``budget`` (:meth:`release` gives it back)."""

    def __init__(self, sock: socket.socket, budget: Budget | None = None) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.received = 0
        self.budget = budget
        self.reserved = 0

    def reserve(self, size: int) -> None:
        if self.budget is not None:
            if not self.budget.take(size):
                raise HTTPError(503, "too many request bodies are being read at once: "
                                     "retry in a moment")
            self.reserved += size

    def release(self) -> None:
        if self.budget is not None and self.reserved:
            self.budget.give(self.reserved)
        self.reserved = 0

    def _fill(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ClientGone("the client was too slow", timeout=True)
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except TimeoutError as exc:
            raise ClientGone("the client was too slow", timeout=True) from exc
        except OSError as exc:
            raise ClientGone(f"the connection failed: {exc}") from exc
        if not data:
            raise ClientGone("the client closed the connection")
        self.received += len(data)
        self.buf += data

    def line(self, limit: int, deadline: float, too_long: HTTPError) -> bytes:
        """One line without its ``\\r\\n`` (or ``\\n``); ``too_long`` past ``limit`` bytes."""
        start = 0
        while True:
            end = self.buf.find(b"\n", start)
            if end >= 0:
                if end > limit:
                    raise too_long
                out = bytes(self.buf[:end])
                del self.buf[:end + 1]
                return out[:-1] if out.endswith(b"\r") else out
            if len(self.buf) > limit:
                raise too_long
            start = len(self.buf)
            self._fill(deadline)

    def exact(self, size: int, deadline: float) -> bytes:
        while len(self.buf) < size:
            self._fill(deadline)
        out = bytes(self.buf[:size])
        del self.buf[:size]
        return out


def _request_line(reader: Reader, limits: Limits, deadline: float) -> tuple[str, str, str]:
    too_long = HTTPError(414, f"request line longer than {limits.request_line} bytes")
    raw = b""
    for _ in range(4):  # a few empty lines before the request line are tolerated (RFC 9112)
        raw = reader.line(limits.request_line, deadline, too_long)
        if raw:
            break
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise HTTPError(400, "the request line is not ASCII") from exc
    parts = text.split(" ")
    if len(parts) != 3 or not all(parts):
        raise HTTPError(400, "malformed request line: expected METHOD /path HTTP/1.1")
    method, target, version = parts
    if not method or any(ord(c) not in TOKEN for c in method):
        raise HTTPError(400, "malformed method")
    if version not in ("HTTP/1.0", "HTTP/1.1"):
        if version.startswith("HTTP/") and version[5:6].isdigit():
            raise HTTPError(505, f"{version} is not supported: speak HTTP/1.1")
        raise HTTPError(400, "malformed HTTP version")
    if not target.startswith("/"):
        raise HTTPError(400, "the request target must be a path starting with /")
    return method, target, version


def _headers(reader: Reader, limits: Limits, deadline: float) -> Headers:
    items: list[tuple[str, str]] = []
    total = 0
    too_big = HTTPError(431, f"request header fields too large (at most {limits.headers} "
                             f"fields, {limits.header_line} bytes each, {limits.header_bytes} "
                             "in all)")
    while True:
        raw = reader.line(limits.header_line, deadline, too_big)
        if not raw:
            return Headers(items)
        total += len(raw) + 2
        if total > limits.header_bytes or len(items) >= limits.headers:
            raise too_big
        if raw[:1] in (b" ", b"\t"):
            raise HTTPError(400, "folded header lines are not accepted")
        name, sep, value = raw.partition(b":")
        if not sep or not name or any(b not in TOKEN for b in name):
            raise HTTPError(400, "malformed header line")
        if any((b < 0x20 and b != 0x09) or b == 0x7F for b in value):
            raise HTTPError(400, "control character in a header value")
        items.append((name.decode("ascii"), value.decode("latin-1").strip(" \t")))


def _path(target: str) -> tuple[str, str]:
    raw, _, query = target.partition("?")
    raw = raw.partition("#")[0]
    path = unquote(raw, errors="strict") if "%" in raw else raw
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in path) or "\\" in path:
        raise HTTPError(400, "the path holds a control character or a backslash")
    if any(segment in (".", "..") for segment in path.split("/")):
        raise HTTPError(400, "the path holds a . or .. segment")
    return path, query


def _chunked(reader: Reader, limits: Limits, deadline: float) -> bytes:
    body = bytearray()
    bad = HTTPError(400, "malformed chunked body")
    while True:
        size_line = reader.line(1024, deadline, bad).partition(b";")[0].strip()
        if not size_line or any(b not in b"0123456789abcdefABCDEF" for b in size_line) \
                or len(size_line) > 16:
            raise bad
        size = int(size_line, 16)
        if size == 0:
            break
        if len(body) + size > limits.body:
            raise HTTPError(413, f"request body larger than {limits.body} bytes")
        reader.reserve(size)
        body += reader.exact(size, deadline)
        if reader.line(1, deadline, bad):  # the CRLF after the data, nothing else
            raise bad
    for _ in range(limits.headers + 1):  # trailer fields, read and dropped
        if not reader.line(limits.header_line, deadline, bad):
            return bytes(body)
    raise bad


def _body(reader: Reader, headers: Headers, limits: Limits) -> bytes:
    lengths = {v.strip() for v in headers.get_all("Content-Length")}
    coding = headers.get_all("Transfer-Encoding")
    deadline = time.monotonic() + limits.body_timeout
    if coding:
        if lengths:
            raise HTTPError(400, "both Content-Length and Transfer-Encoding: send one")
        if [c.strip().lower() for c in coding] != ["chunked"]:
            raise HTTPError(501, "only the chunked transfer coding is supported")
        return _chunked(reader, limits, deadline)
    if not lengths:
        return b""
    if len(lengths) > 1:
        raise HTTPError(400, "several different Content-Length values")
    text = lengths.pop()
    if not text.isdigit() or not text.isascii() or len(text) > 19:
        raise HTTPError(400, f"invalid Content-Length {text[:40]!r}")
    size = int(text)
    if size > limits.body:
        raise HTTPError(413, f"request body larger than {limits.body} bytes")
    reader.reserve(size)
    return reader.exact(size, deadline)


def read_request(reader: Reader, limits: Limits, client: str) -> Request:
    """Read one request. Raises :class:`HTTPError` (answer it) or :class:`ClientGone`."""
    deadline = time.monotonic() + limits.header_timeout
    method, target, version = _request_line(reader, limits, deadline)
    headers = _headers(reader, limits, deadline)
    if version == "HTTP/1.1" and len(headers.get_all("Host")) != 1:
        raise HTTPError(400, "an HTTP/1.1 request needs exactly one Host header")
    try:
        path, query = _path(target)
    except UnicodeDecodeError as exc:
        raise HTTPError(400, "the path is not UTF-8 once percent-decoded") from exc
    body = _body(reader, headers, limits)
    return Request(method, path, query, headers, body, client, version)
