"""A small JSON client for the Docker Engine API over its unix socket (no docker SDK).

Role: the fast path of the Docker driver. Importing the docker SDK (requests,
urllib3) costs more than a whole no-op ``diff`` otherwise needs, so the JSON
calls of the Docker driver (lists, inspects, create/start/stop/rename/remove/
update, network connect) go through :class:`EngineClient`: a minimal HTTP/1.1
client (``http.client`` alone imports ``email`` and ``ssl``) over an ``AF_UNIX``
socket, one keep-alive connection per thread, the API
version negotiated once with ``GET /version`` (as the SDK's ``version="auto"``).
Its method names and arguments mirror the subset of ``docker.APIClient`` that
the driver uses, so the driver calls either. Failures are raised as
:class:`EngineError` (an HTTP error status with the daemon's message),
:class:`EngineUnreachable` (a ``ConnectionError``) and :class:`EngineTimeout`;
``runtime.docker.errors.mapped_errors`` maps them exactly like the SDK's.
Streaming calls (build, pull, load, events, logs, exec) and TCP/TLS daemons stay
on the SDK. Neighbours: ``runtime.docker.driver`` (chooses the client),
``runtime.docker.errors`` (maps the exceptions).
"""

from __future__ import annotations

import json
import os
import select
import socket
import sys
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

DEFAULT_SOCKET = "/var/run/docker.sock"


class EngineError(Exception):
    """An HTTP error response: its status and the daemon's message."""

    def __init__(self, status_code: int, explanation: str) -> None:
        super().__init__(f"{status_code}: {explanation}")
        self.status_code = status_code
        self.explanation = explanation


class EngineUnreachable(ConnectionError):
    """The socket could not be connected to, or the daemon hung up."""


class _Stale(EngineUnreachable):
    """A kept-alive connection was closed by the daemon before it answered."""


class EngineTimeout(TimeoutError):
    """The daemon did not answer in time (``connect`` says in which phase)."""

    def __init__(self, message: str, *, connect: bool) -> None:
        super().__init__(message)
        self.connect = connect


def socket_path(base_url: str | None) -> str | None:
    """The unix socket of ``base_url`` (else ``DOCKER_HOST``, else the default), or None
    when the daemon is reached otherwise (TCP, TLS, ssh): the SDK handles those."""
    if os.environ.get("DOCKER_TLS_VERIFY") or os.environ.get("DOCKER_CERT_PATH"):
        return None
    url = base_url or os.environ.get("DOCKER_HOST") or f"unix://{DEFAULT_SOCKET}"
    if url.startswith("unix://"):
        return url[len("unix://"):] or DEFAULT_SOCKET
    if url.startswith("/"):
        return url
    return None


class _Response:
    """Status, headers (lower-case names) and body of one answer."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body


class _Connection:
    """One HTTP/1.1 keep-alive connection over a unix socket (what the Engine API needs:
    Content-Length, chunked or read-to-close bodies; no TLS, no proxies, no redirects)."""

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

    def __del__(self) -> None:  # a worker thread ended: its connection goes with it
        try:  # noqa: SIM105 - no module globals here: at exit they may be gone already
            self.close()
        except Exception:
            pass

    def roundtrip(self, method: str, url: str, headers: dict[str, str],
                  body: bytes | None, timeout: float) -> _Response:
        if self.sock is None:
            self.connect()
        assert self.sock is not None
        self.sock.settimeout(timeout)
        lines = [f"{method} {url} HTTP/1.1", "Host: docker"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if body is not None or method in ("POST", "PUT"):
            lines.append(f"Content-Length: {len(body or b'')}")
        try:
            self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
                              + (body or b""))
            status_line = self._file.readline(65537)
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise _Stale(f"the daemon closed the connection: {exc}") from exc
        if not status_line:
            raise _Stale("the daemon closed the connection without answering")
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            raise EngineUnreachable(f"not an HTTP answer: {status_line[:80]!r}")
        status = int(parts[1])
        found: dict[str, str] = {}
        while (line := self._file.readline(65537)) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            found[name.strip().lower()] = value.strip()
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            payload = b""
        elif "chunked" in found.get("transfer-encoding", "").lower():
            payload = self._chunked()
        elif "content-length" in found:
            payload = self._exactly(int(found["content-length"]))
        else:
            payload = self._file.read()
            found["connection"] = "close"
        if found.get("connection", "").lower() == "close":
            self.close()
        return _Response(status, found, payload)

    def _exactly(self, size: int) -> bytes:
        data: bytes = self._file.read(size)
        if len(data) != size:
            raise EngineUnreachable("the daemon closed the connection in the middle of an answer")
        return data

    def _chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size_line = self._file.readline(65537)
            if not size_line:
                raise EngineUnreachable("the daemon closed the connection in a chunked answer")
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                while self._file.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(self._exactly(size))
            self._exactly(2)  # CRLF after each chunk


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
    """JSON calls to a Docker daemon on a unix socket; safe to share between threads."""

    def __init__(self, path: str, timeout: float = 60) -> None:
        self.path = path
        self.timeout = timeout
        self._local = threading.local()
        self._prefix = ""
        self.hooks: list[Callable[[str, str], None]] = []  # (method, url) of each request

    # transport ----------------------------------------------------------------
    def _connection(self) -> _Connection:
        conn: _Connection | None = getattr(self._local, "conn", None)
        if conn is not None and _dropped(conn):
            conn.close()
        if conn is None:
            conn = self._local.conn = _Connection(self.path, self.timeout)
        return conn

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                body: Any = None, timeout: float | None = None, versioned: bool = True) -> Any:
        """One call; the decoded JSON answer (None when empty). Raises the Engine* errors."""
        url = (self._prefix if versioned else "") + path
        query = {k: v for k, v in (params or {}).items() if v is not None}
        if query:
            url += "?" + urllib.parse.urlencode(query)
        headers = {"User-Agent": "dockwright"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for hook in self.hooks:
            hook(method, url)
        sys.audit("dockwright.docker.request", method, url)  # counted by bench/apicount.py
        conn = self._connection()
        wait = self.timeout if timeout is None else timeout
        try:
            reused = conn.sock is not None
            try:
                response = conn.roundtrip(method, url, headers, data, wait)
            except _Stale:
                if not (reused and method == "GET"):  # only a read is safe to send again
                    raise
                conn.close()  # closed while idle (a race with the check above): once more
                response = conn.roundtrip(method, url, headers, data, wait)
        except (EngineUnreachable, EngineTimeout):
            conn.close()
            raise
        except TimeoutError as exc:
            conn.close()
            raise EngineTimeout(f"{method} {path}: read timed out", connect=False) from exc
        except (OSError, ValueError) as exc:
            conn.close()
            raise EngineUnreachable(f"connection to {self.path} aborted: {exc!r}") from exc
        payload = response.body
        if response.status >= 400:
            raise EngineError(response.status, _explanation(payload))
        if not payload:
            return None
        if response.headers.get("content-type", "").startswith("application/json"):
            return json.loads(payload)
        return payload.decode("utf-8", "replace")

    def negotiate(self) -> None:
        """Use the daemon's API version, as ``docker.APIClient(version="auto")`` does."""
        if self._prefix:
            return
        try:
            data = self.request("GET", "/version", versioned=False)
            self._prefix = f"/v{data['ApiVersion']}"
        except (EngineError, EngineTimeout, KeyError, TypeError) as exc:  # as the SDK: unreachable
            raise EngineUnreachable(f"Error while fetching server API version: {exc}") from exc

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # the docker.APIClient subset the driver uses -----------------------------------
    def ping(self) -> bool:
        return bool(self.request("GET", "/_ping", versioned=False) == "OK")

    def info(self) -> Any:
        return self.request("GET", "/info")

    def containers(self, all: bool = False, filters: Mapping[str, Any] | None = None) -> Any:
        params = {"limit": -1, "all": 1 if all else 0, "size": 0, "trunc_cmd": 0,
                  "filters": _filters(filters)}
        return self.request("GET", "/containers/json", params=params)

    def inspect_container(self, ref: str) -> Any:
        return self.request("GET", f"/containers/{_q(ref)}/json")

    def create_container_from_config(self, config: Mapping[str, Any], name: str) -> Any:
        body = {k: v for k, v in config.items() if v is not None}
        return self.request("POST", "/containers/create", params={"name": name}, body=body)

    def connect_container_to_network(self, container: str, net_id: str,
                                     aliases: list[str] | None = None) -> None:
        endpoint = {"Aliases": aliases} if aliases else {}
        self.request("POST", f"/networks/{_q(net_id)}/connect",
                     body={"Container": container, "EndpointConfig": endpoint})

    def unpause(self, ref: str) -> None:
        self.request("POST", f"/containers/{_q(ref)}/unpause")

    def start(self, ref: str) -> None:
        self.request("POST", f"/containers/{_q(ref)}/start")

    def stop(self, ref: str, params: Mapping[str, Any], wait: float) -> None:
        self.request("POST", f"/containers/{_q(ref)}/stop", params=params, timeout=wait)

    def remove_container(self, ref: str, force: bool = False, v: bool = False) -> None:
        self.request("DELETE", f"/containers/{_q(ref)}",
                     params={"v": _b(v), "link": _b(False), "force": _b(force)})

    def rename(self, ref: str, name: str) -> None:
        self.request("POST", f"/containers/{_q(ref)}/rename", params={"name": name})

    def update(self, ref: str, body: Mapping[str, Any]) -> None:
        self.request("POST", f"/containers/{_q(ref)}/update", body=dict(body))

    def inspect_image(self, ref: str) -> Any:
        return self.request("GET", f"/images/{_q(ref)}/json")

    def volumes(self, filters: Mapping[str, Any] | None = None) -> Any:
        return self.request("GET", "/volumes", params={"filters": _filters(filters)})

    def remove_volume(self, name: str) -> None:
        self.request("DELETE", f"/volumes/{_q(name)}")

    def networks(self, filters: Mapping[str, Any] | None = None) -> Any:
        return self.request("GET", "/networks", params={"filters": _filters(filters)})

    def inspect_network(self, net_id: str) -> Any:
        return self.request("GET", f"/networks/{_q(net_id)}")

    def remove_network(self, net_id: str) -> None:
        self.request("DELETE", f"/networks/{_q(net_id)}")

    def disconnect_container_from_network(self, container: str, net_id: str,
                                          force: bool = False) -> None:
        body: dict[str, Any] = {"Container": container}
        if force:
            body["Force"] = True
        self.request("POST", f"/networks/{_q(net_id)}/disconnect", body=body)


def _q(arg: str) -> str:
    return urllib.parse.quote(arg, safe="/:")


def _b(value: bool) -> str:
    return "1" if value else "0"


def _filters(filters: Mapping[str, Any] | None) -> str | None:
    """``docker.utils.convert_filters``: every value a list of strings, as JSON."""
    if not filters:
        return None
    out: dict[str, list[str]] = {}
    for key, value in filters.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        items = value if isinstance(value, list) else [value]
        out[key] = [item if isinstance(item, str) else str(item) for item in items]
    return json.dumps(out)


def _explanation(payload: bytes) -> str:
    """The daemon's ``{"message": ...}``, else the body's text (as the SDK's APIError)."""
    try:
        data = json.loads(payload)
    except ValueError:
        return payload.decode("utf-8", "replace").strip()
    if isinstance(data, dict) and data.get("message"):
        return str(data["message"]).strip()
    return payload.decode("utf-8", "replace").strip()
