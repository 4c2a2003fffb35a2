"""The hardened HTTP server of ``watch --listen``: bounded threads, a router, safe answers.

Role: accepts connections on one socket and serves each in its own thread, at most
``Limits.connections`` at once and ``Limits.per_client`` from one address (more are
answered 503 and closed at once, so slow clients cannot exhaust the process, and
one address cannot shut the others out); every request is read by
``controller.service.httpwire`` (deadlines and size bounds, so a slowloris client is
cut off after ``header_timeout``), answered once and the connection closed (no
keep-alive to hold). Every answer carries its ``Content-Type`` and ``Content-Length``
(streams have no length; 204 and 304 neither), ``X-Content-Type-Options: nosniff``,
``X-Frame-Options: DENY``, ``Referrer-Policy: no-referrer`` and ``Cache-Control:
no-store`` (a route that sets one of these itself replaces the default).
The :class:`Router` maps (method, path or path prefix) to a handler
``Request -> Response``; ``HEAD`` is served wherever ``GET`` is (without body);
another method is 405 with ``Allow``; an unknown path is 404; a handler that raises
is a 500 (logged), never a dead server. Only ``POST`` routes may change anything:
GET handlers read. A web page cannot use a browser against it: on a loopback
address only a ``Host`` of ``localhost`` or a loopback address is answered (421
otherwise: DNS rebinding), and a request other than GET/HEAD with a foreign
``Origin`` is 403 (cross-site; forges and scripts send no ``Origin``):
``controller.service.httpguard``. :func:`static_files` serves a folder under a
prefix without leaving it (symlinks resolved, then checked). Every route set (the service's own in
``controller.service.httpd``, the dashboard's) is mounted on one router and so gets
all of this. Neighbours: ``controller.service.httpwire`` (parsing, values).
"""

from __future__ import annotations

import contextlib
import email.utils
import mimetypes
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http import HTTPStatus
from pathlib import Path

import structlog

from controller.service.httpguard import guard, is_loopback
from controller.service.httpwire import (
    Budget,
    ClientGone,
    HTTPError,
    Limits,
    Reader,
    Request,
    Response,
    error_response,
    json_response,
    read_request,
)

log = structlog.get_logger("dockwright.watch")
Handler = Callable[[Request], Response]
NO_BODY = (204, 304)  # answers that carry no body, hence no length and no type
SAFE_HEADERS = (("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
                ("Referrer-Policy", "no-referrer"), ("Cache-Control", "no-store"))


class Router:
    """(method, path) -> handler; exact paths first, then the longest matching prefix."""

    def __init__(self) -> None:
        self._exact: dict[str, dict[str, Handler]] = {}
        self._prefix: dict[str, dict[str, Handler]] = {}

    def add(self, method: str, path: str, handler: Handler, *, prefix: bool = False) -> None:
        """Serve ``method`` on ``path`` (with ``prefix``: on every path that starts with it,
        e.g. ``/static/``). A method added twice on one path is an error."""
        table = (self._prefix if prefix else self._exact).setdefault(path, {})
        if method in table:
            raise ValueError(f"{method} {path} is routed twice")
        table[method.upper()] = handler

    def get(self, path: str, handler: Handler, *, prefix: bool = False) -> None:
        self.add("GET", path, handler, prefix=prefix)

    def post(self, path: str, handler: Handler) -> None:
        self.add("POST", path, handler)

    def endpoints(self) -> list[str]:
        exact = [f"{m} {p}" for p, ms in self._exact.items() for m in ms]
        prefixed = [f"{m} {p}*" for p, ms in self._prefix.items() for m in ms]
        return sorted(exact + prefixed)

    def _methods(self, path: str) -> dict[str, Handler] | None:
        if path in self._exact:
            return self._exact[path]
        hits = [p for p in self._prefix if path.startswith(p)]
        return self._prefix[max(hits, key=len)] if hits else None

    def route(self, request: Request) -> Response:
        methods = self._methods(request.path)
        if methods is None:
            return json_response(404, {"error": f"no such endpoint {request.path}",
                                       "endpoints": self.endpoints()})
        handler = methods.get("GET" if request.method == "HEAD" else request.method)
        if handler is None:
            allow = sorted({*methods, *(("HEAD",) if "GET" in methods else ())})
            raise HTTPError(405, f"{request.method} is not allowed on {request.path}: use "
                                 f"{', '.join(allow)}", allow=", ".join(allow))
        return handler(request)


def static_files(folder: Path, prefix: str) -> Handler:
    """A handler for ``GET prefix<file>``: a regular file inside ``folder`` (after links
    are resolved) with its content type, else 404. Hidden files are not served."""
    base = folder.resolve()

    def serve(request: Request) -> Response:
        relative = request.path[len(prefix):]
        parts = [p for p in relative.split("/") if p]
        if not parts or any(p.startswith(".") for p in parts):
            raise HTTPError(404, f"no such file {request.path}")
        target = base.joinpath(*parts).resolve()
        if not target.is_relative_to(base) or not target.is_file():
            raise HTTPError(404, f"no such file {request.path}")
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind in ("application/javascript", "image/svg+xml"):
            kind += "; charset=utf-8"
        return Response(200, target.read_bytes(), kind,
                        (("Cache-Control", "public, max-age=300"),))

    return serve


def _head_bytes(response: Response, length: int | None) -> bytes:
    try:
        reason = HTTPStatus(response.status).phrase
    except ValueError:
        reason = ""
    own = {name.lower() for name, _ in response.headers}
    lines = [f"HTTP/1.1 {response.status} {reason}", "Connection: close",
             "Server: dockwright", f"Date: {email.utils.formatdate(usegmt=True)}"]
    if response.status not in NO_BODY:
        lines.append(f"Content-Type: {response.content_type}")
        if length is not None:
            lines.append(f"Content-Length: {length}")
    lines += [f"{k}: {v}" for k, v in SAFE_HEADERS if k.lower() not in own]
    lines += [f"{k}: {v}" for k, v in response.headers]
    if any(c in line for line in lines for c in "\r\n\0"):
        raise ValueError("a response header holds a line break")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class HTTPServer:
    """Serves a :class:`Router` on ``host:port`` (port 0: any free port)."""

    def __init__(self, host: str, port: int, router: Router, *,
                 limits: Limits | None = None) -> None:
        self.router = router
        self.limits = limits or Limits()
        self.local_only = is_loopback(host)  # then only local Host headers are answered
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.create_server((host, port), family=family, backlog=128)
        self.sock.settimeout(1.0)  # the accept loop checks for a stop at least this often
        name = self.sock.getsockname()
        self.address = (str(name[0]), int(name[1]))
        self.stopping = threading.Event()  # streams end when it is set
        self._slots = threading.BoundedSemaphore(self.limits.connections)
        self._clients: dict[str, int] = {}  # open connections by address (accept thread
        self._clients_lock = threading.Lock()  # adds, the connection's thread removes)
        self._bodies = Budget(self.limits.bodies)
        self._thread = threading.Thread(target=self._accept_loop, name="dw-httpd", daemon=True)
        self.refused = 0  # connections answered 503 because all slots were taken
        self._closing: list[tuple[float, socket.socket]] = []  # refused, closed a bit later

    def start(self) -> None:
        self._thread.start()

    def open_connections(self, client: str | None = None) -> int:
        """Connections being served now (from ``client`` only, when given)."""
        with self._clients_lock:
            if client is not None:
                return self._clients.get(client, 0)
            return sum(self._clients.values())

    @property
    def bodies_in_flight(self) -> int:
        """Bytes of request bodies taken from the budget now."""
        return self._bodies.used

    def stop(self) -> None:
        self.stopping.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes accept() at once on Linux
        self.sock.close()
        self._thread.join(timeout=3)

    def _accept_loop(self) -> None:
        try:
            while not self.stopping.is_set():
                self._close_refused(time.monotonic() - 1.0)
                self._accept_one()
        finally:
            self._close_refused(float("inf"))

    def _accept_one(self) -> None:
        try:
            conn, peer = self.sock.accept()
        except TimeoutError:
            return
        except OSError as exc:  # closed by stop(), or out of file descriptors
            if not self.stopping.is_set():
                log.warning("http_accept_failed", error=str(exc))
                time.sleep(0.1)
            return
        client = str(peer[0])
        if not self._admit(client):
            self._refuse(conn, client)
            return
        try:
            threading.Thread(target=self._serve, args=(conn, client),
                             name="dw-http-conn", daemon=True).start()
        except RuntimeError:  # no thread could be started: answer and go on
            self._leave(client)
            self._refuse(conn, client)

    def _admit(self, client: str) -> bool:
        """Take a connection slot, and one of ``client``'s own (False: none left)."""
        with self._clients_lock:
            if self._clients.get(client, 0) >= self.limits.per_client:
                return False
            if not self._slots.acquire(blocking=False):
                return False
            self._clients[client] = self._clients.get(client, 0) + 1
            return True

    def _leave(self, client: str) -> None:
        with self._clients_lock:
            left = self._clients.get(client, 1) - 1
            if left > 0:
                self._clients[client] = left
            else:
                self._clients.pop(client, None)
            self._slots.release()

    def _refuse(self, conn: socket.socket, client: str) -> None:
        self.refused += 1
        if self.refused == 1 or self.refused % 1000 == 0:
            log.warning("http_busy", client=client, refused=self.refused,
                        hint=f"too many open connections (at most {self.limits.connections}, "
                             f"{self.limits.per_client} from one address): slow or idle "
                             f"clients are cut off after {self.limits.header_timeout:g}s")
        with contextlib.suppress(OSError):
            conn.setblocking(False)
            conn.send(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                      b"Connection: close\r\nRetry-After: 1\r\n\r\n")
            conn.shutdown(socket.SHUT_WR)
        # closed a second later: a close with the request unread would reset the
        # connection, and the client could lose the answer
        self._closing.append((time.monotonic(), conn))
        if len(self._closing) > 256:
            self._close_refused(float("inf"))

    def _close_refused(self, before: float) -> None:
        while self._closing and self._closing[0][0] <= before:
            self._closing.pop(0)[1].close()

    def _serve(self, conn: socket.socket, client: str) -> None:
        try:
            self._exchange(conn, client)
        except Exception as exc:  # nothing a client sends may end the server
            log.warning("http_connection_failed", client=client,
                        error=f"{type(exc).__name__}: {exc}")
        finally:
            with contextlib.suppress(OSError):
                conn.close()
            self._leave(client)

    def _exchange(self, conn: socket.socket, client: str) -> None:
        reader = Reader(conn, self._bodies)
        try:
            self._answer_one(conn, reader, client)
        finally:
            reader.release()

    def _answer_one(self, conn: socket.socket, reader: Reader, client: str) -> None:
        try:
            request = read_request(reader, self.limits, client)
        except ClientGone as exc:
            if exc.timeout and reader.received:
                self._answer(conn, error_response(HTTPError(408, "request not complete in "
                                                                 "time")), head=False)
                self._linger(conn)
            return
        except HTTPError as exc:
            self._answer(conn, error_response(exc), head=False)
            self._linger(conn)
            return
        try:
            guard(request, self.local_only)
            response = self.router.route(request)
        except HTTPError as exc:
            response = error_response(exc)
        except Exception as exc:
            log.error("http_handler_failed", method=request.method, path=request.path,
                      error=f"{type(exc).__name__}: {exc}")
            response = json_response(500, {"error": f"internal error: {type(exc).__name__}"})
        log.debug("http_request", client=client, method=request.method, path=request.path,
                  status=response.status)
        try:
            self._answer(conn, response, head=request.method == "HEAD")
        except ValueError as exc:  # a header value with a line break: never sent as is
            log.error("http_handler_failed", method=request.method, path=request.path,
                      error=str(exc))
            self._answer(conn, json_response(500, {"error": "internal error: bad header"}),
                         head=False)
        with contextlib.suppress(OSError):
            conn.shutdown(socket.SHUT_WR)

    def _answer(self, conn: socket.socket, response: Response, *, head: bool) -> None:
        body = response.body
        conn.settimeout(self.limits.write_timeout)
        try:
            if isinstance(body, bytes):
                head = head or response.status in NO_BODY
                conn.sendall(_head_bytes(response, len(body)) + (b"" if head else body))
                return
            conn.sendall(_head_bytes(response, None))
            if not head:
                self._stream(conn, body)
        except OSError:
            return  # the client went away (or stopped reading): nothing left to do
        finally:
            if not isinstance(body, bytes):
                close = getattr(body, "close", None)
                if close is not None:
                    close()

    def _stream(self, conn: socket.socket, chunks: Iterator[bytes]) -> None:
        for chunk in chunks:
            if self.stopping.is_set():
                return
            if chunk:
                conn.sendall(chunk)

    def _linger(self, conn: socket.socket) -> None:
        """After an error answer: let the client read it before the close (unread input
        would make the kernel reset the connection), for at most a second and 64 KiB."""
        with contextlib.suppress(OSError):
            conn.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + 1.0
            drained = 0
            while drained < 65536 and (left := deadline - time.monotonic()) > 0:
                conn.settimeout(left)
                data = conn.recv(16384)
                if not data:
                    return
                drained += len(data)
