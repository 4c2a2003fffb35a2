"""The docker SDK's HTTP session as a ``Transport``, for daemons not on a local unix socket.

Role: TCP and TLS endpoints (``DOCKER_HOST=tcp://...``, ``DOCKER_TLS_VERIFY``,
``DOCKER_CERT_PATH``; the Swarm runtime reaches managers that way) need the SDK's
connection handling (TLS configuration from the environment, ssh). The SDK's
``APIClient`` is a ``requests.Session``: :class:`SdkTransport` uses only that
public interface (``request`` with ``stream=True``, ``base_url``,
``api_version``) and raises the same exceptions as the unix-socket client, so the
driver cannot tell them apart. The SDK is imported on first use, never by
``diff`` on a local socket. :func:`transport_for` makes the choice, once per
driver. Neighbours: ``runtime.docker.transport`` (the interface),
``runtime.docker.http`` (the unix-socket client), ``runtime.docker.driver``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

from runtime.docker.errors import import_sdk, mapped_errors
from runtime.docker.http import EngineClient, socket_path
from runtime.docker.transport import (
    EngineError,
    EngineTimeout,
    EngineUnreachable,
    Params,
    Transport,
    Upload,
    explanation,
)


def transport_for(base_url: str | None, timeout: float) -> Transport:
    """The unix-socket client when the daemon is on a local socket, else the SDK's."""
    path = socket_path(base_url)
    if path is not None:
        return EngineClient(path, timeout)
    return SdkTransport(base_url, timeout)


class _ResponseStream:
    """A streamed ``requests`` answer; ``close()`` shuts its socket down."""

    def __init__(self, response: Any, what: str) -> None:
        self._response, self._what = response, what
        self._closed = threading.Event()

    def __iter__(self) -> Iterator[bytes]:
        import requests

        try:
            yield from self._response.raw.stream(1 << 16, decode_content=False)
        except (requests.exceptions.RequestException, OSError, ValueError) as exc:
            if not self._closed.is_set():
                raise EngineUnreachable(f"{self._what}: connection aborted: {exc!r}") from exc
        except Exception as exc:  # urllib3's ProtocolError, ReadTimeoutError
            if self._closed.is_set():
                return
            if "timed out" in str(exc).lower():
                raise EngineTimeout(f"{self._what}: read timed out", connect=False) from exc
            raise EngineUnreachable(f"{self._what}: connection aborted: {exc!r}") from exc
        finally:
            self._response.close()

    def close(self) -> None:
        self._closed.set()
        connection = getattr(self._response.raw, "connection", None)
        sock = getattr(connection, "sock", None)
        if sock is not None:
            try:  # noqa: SIM105
                sock.shutdown(2)  # socket.SHUT_RDWR: a blocked read returns
            except OSError:
                pass
        self._response.close()


class SdkTransport:
    """The SDK's ``APIClient`` (a ``requests.Session``) behind :class:`Transport`."""

    def __init__(self, base_url: str | None, timeout: float = 60) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self.address = base_url or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        self._session: Any = None
        self._lock = threading.Lock()

    @property
    def session(self) -> Any:
        """The SDK's client, created (and the API version negotiated) on first use."""
        if self._session is None:
            import_sdk()
            import docker
            import docker.utils

            with mapped_errors("read the Docker settings (DOCKER_HOST, DOCKER_TLS_VERIFY)"):
                kwargs: dict[str, Any] = dict(docker.utils.kwargs_from_env())
            if self.base_url:
                kwargs["base_url"] = self.base_url
            with self._lock, mapped_errors(f"connect to the Docker daemon at {self.address}"):
                if self._session is None:
                    self._session = docker.APIClient(version="auto", timeout=int(self.timeout),
                                                     max_pool_size=32, **kwargs)
        return self._session

    def negotiate(self) -> None:
        self.session  # noqa: B018 - created with version="auto": that negotiates

    def _send(self, method: str, path: str, params: Params, body: Any, upload: Upload | None,
              timeout: float | None, stream: bool, versioned: bool = True) -> Any:
        import requests

        session = self.session
        prefix = f"/v{session.api_version}" if versioned else ""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        kwargs: dict[str, Any] = {"params": query, "stream": stream,
                                  "timeout": (self.timeout, timeout)}
        if upload is not None:
            kwargs["data"] = upload.file  # a file: sent with its length (not chunked)
            kwargs["headers"] = {"Content-Type": upload.content_type}
        elif body is not None:
            kwargs["json"] = body
        try:
            response = session.request(method, f"{session.base_url}{prefix}{path}", **kwargs)
        except requests.exceptions.ConnectTimeout as exc:
            raise EngineTimeout(f"connecting to {self.address} timed out", connect=True) from exc
        except requests.exceptions.Timeout as exc:
            raise EngineTimeout(f"{method} {path}: read timed out", connect=False) from exc
        except requests.exceptions.ConnectionError as exc:
            raise EngineUnreachable(f"cannot connect to {self.address}: {exc}") from exc
        if response.status_code >= 400:
            payload = response.content
            response.close()
            raise EngineError(response.status_code, explanation(payload))
        return response

    def request(self, method: str, path: str, *, params: Params = None, body: Any = None,
                timeout: float | None = None, versioned: bool = True) -> Any:
        wait = self.timeout if timeout is None else timeout
        response = self._send(method, path, params, body, None, wait, False, versioned)
        if not response.content:
            return None
        if response.headers.get("Content-Type", "").startswith("application/json"):
            return response.json()
        return response.content.decode("utf-8", "replace")

    def stream(self, method: str, path: str, *, params: Params = None, body: Any = None,
               upload: Upload | None = None, timeout: float | None = None) -> _ResponseStream:
        response = self._send(method, path, params, body, upload, timeout, True)
        return _ResponseStream(response, f"{method} {path}")

    def close(self) -> None:
        with self._lock:
            session, self._session = self._session, None
        if session is not None:
            session.close()
