"""The one interface the Docker driver talks through, and the decoders of its streams.

Role: :class:`Transport` is what both HTTP clients implement: the stdlib client
on a unix socket (``runtime.docker.http.EngineClient``, the fast path: no SDK
import) and the docker SDK's session for TCP/TLS daemons
(``runtime.docker.sdk.SdkTransport``). The driver picks one when it is built
(:func:`runtime.docker.sdk.transport_for`) and never asks which it got. A call is
either :meth:`Transport.request` (a JSON answer) or :meth:`Transport.stream` (an
answer read as it arrives: events, build/pull/load progress, logs, exec output),
optionally with a request body read from a file (a build context, an image
archive). Both raise the same exceptions: :class:`EngineError` (an error status
and the daemon's message), :class:`EngineUnreachable` (a ``ConnectionError``)
and :class:`EngineTimeout`; ``runtime.docker.errors.mapped_errors`` maps them.
The decoders turn a stream's byte chunks into JSON values (:func:`json_lines`) or
into the output of a container without a TTY (:func:`demultiplexed`: 8-byte
frame headers, stream id and big-endian length); :func:`exec_run` runs a command
in a container to its end, for both drivers that speak the Engine API. Neighbours:
``runtime.docker.http``, ``runtime.docker.sdk``, ``runtime.docker.engine`` and
``runtime.swarm.engine`` (the API calls on top).
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import IO, Any, Protocol

Params = Mapping[str, Any] | None


class EngineError(Exception):
    """An HTTP error response: its status and the daemon's message."""

    def __init__(self, status_code: int, explanation: str) -> None:
        super().__init__(f"{status_code}: {explanation}")
        self.status_code = status_code
        self.explanation = explanation


class EngineUnreachable(ConnectionError):
    """The daemon could not be connected to, or it hung up."""


class EngineTimeout(TimeoutError):
    """The daemon did not answer in time (``connect`` says in which phase)."""

    def __init__(self, message: str, *, connect: bool) -> None:
        super().__init__(message)
        self.connect = connect


class Upload:
    """A request body read from an open binary file: ``size`` bytes of ``content_type``."""

    def __init__(self, file: IO[bytes], size: int, content_type: str) -> None:
        self.file, self.size, self.content_type = file, size, content_type

    def chunks(self, size: int = 1 << 16) -> Iterator[bytes]:
        while block := self.file.read(size):
            yield block


class Stream(Protocol):
    """An answer read as it arrives: iterate its byte chunks; ``close()`` from any thread
    ends a blocked read at once."""

    def __iter__(self) -> Iterator[bytes]: ...

    def close(self) -> None: ...


class Transport(Protocol):
    """HTTP to one Docker daemon, API version negotiated on first use; thread-safe."""

    address: str

    def negotiate(self) -> None:
        """Learn the daemon's API version (``GET /version``), once; later calls use it."""
        ...

    def request(self, method: str, path: str, *, params: Params = None, body: Any = None,
                timeout: float | None = None, versioned: bool = True) -> Any:
        """One call; the decoded JSON answer (text when not JSON; None when empty)."""
        ...

    def stream(self, method: str, path: str, *, params: Params = None, body: Any = None,
               upload: Upload | None = None, timeout: float | None = None) -> Stream:
        """One call whose answer is read as it arrives (``timeout=None``: wait forever
        between chunks). ``body`` is sent as JSON, ``upload`` as it is."""
        ...

    def close(self) -> None: ...


def json_lines(chunks: Iterator[bytes]) -> Iterator[Any]:
    """The JSON values of a progress or event stream (one per line; a value may be split
    across chunks and a chunk may hold several)."""
    decoder = json.JSONDecoder()
    buffer = ""
    for chunk in chunks:
        buffer += chunk.decode("utf-8", "replace")
        while True:
            buffer = buffer.lstrip()
            if not buffer:
                break
            try:
                value, end = decoder.raw_decode(buffer)
            except ValueError:
                break  # incomplete: wait for more
            buffer = buffer[end:]
            yield value
    if buffer.strip():
        raise EngineUnreachable(f"the stream ended inside a JSON value: {buffer[:80]!r}")


def demultiplexed(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The payloads of a multiplexed stdout/stderr stream, in the order written. Each
    frame: one byte stream id (0 stdin, 1 stdout, 2 stderr), three zero bytes, a 4-byte
    big-endian length, then that many bytes."""
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        while len(buffer) >= 8:
            size = int.from_bytes(buffer[4:8], "big")
            if len(buffer) < 8 + size:
                break
            payload, buffer = buffer[8:8 + size], buffer[8 + size:]
            if payload:
                yield payload
    if buffer:
        raise EngineUnreachable(f"the stream ended inside a frame ({len(buffer)} bytes left)")


def explanation(payload: bytes) -> str:
    """The daemon's ``{"message": ...}``, else the body's text."""
    try:
        data = json.loads(payload)
    except ValueError:
        return payload.decode("utf-8", "replace").strip()
    if isinstance(data, dict) and data.get("message"):
        return str(data["message"]).strip()
    return payload.decode("utf-8", "replace").strip()


def filters(values: Mapping[str, Any] | None) -> str | None:
    """The API's ``filters`` parameter: every value a list of strings, as JSON."""
    if not values:
        return None
    out: dict[str, list[str]] = {}
    for key, value in values.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        items = value if isinstance(value, list) else [value]
        out[key] = [item if isinstance(item, str) else str(item) for item in items]
    return json.dumps(out)


def exec_run(transport: Transport, container: str, command: list[str],
             tty: bool) -> tuple[int | None, bytes]:
    """Run ``command`` in a container to its end: (exit code, output)."""
    path = f"/containers/{urllib.parse.quote(container, safe='')}/exec"
    created = transport.request("POST", path, body={
        "Cmd": command, "AttachStdout": True, "AttachStderr": True, "AttachStdin": False,
        "Tty": tty})
    exec_id = urllib.parse.quote(created["Id"], safe="")
    stream = transport.stream("POST", f"/exec/{exec_id}/start",
                              body={"Detach": False, "Tty": tty})
    try:
        output = b"".join(iter(stream) if tty else demultiplexed(iter(stream)))
    finally:
        stream.close()
    code = (transport.request("GET", f"/exec/{exec_id}/json") or {}).get("ExitCode")
    return (None if code is None else int(code)), output
