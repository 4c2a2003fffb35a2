"""The Docker Engine API calls the driver makes, on any ``Transport``.

Role: one method per endpoint the Docker driver uses (paths, query parameters,
JSON bodies), written once for both transports (``runtime.docker.http`` on a unix
socket, ``runtime.docker.sdk`` for TCP/TLS). Answers are the API's JSON; streams
come back decoded (:func:`runtime.docker.transport.json_lines` for progress and
events, :func:`~runtime.docker.transport.demultiplexed` for the output of a
container without a TTY). Errors are the transport's; the caller wraps calls in
``runtime.docker.errors.mapped_errors``. Neighbours: ``runtime.docker.driver``,
``runtime.docker.images``, ``runtime.docker.events``.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import Any

from runtime.docker.transport import (
    Stream,
    Transport,
    Upload,
    demultiplexed,
    exec_run,
    filters,
    json_lines,
)


def _q(arg: str) -> str:
    return urllib.parse.quote(arg, safe="/:")


def _b(value: bool) -> str:
    return "1" if value else "0"


class Decoded:
    """A stream's decoded values; ``close()`` closes the stream (from any thread)."""

    def __init__(self, stream: Stream, values: Iterator[Any]) -> None:
        self._stream, self._values = stream, values

    def __iter__(self) -> Iterator[Any]:
        return self._values

    def __next__(self) -> Any:
        return next(self._values)

    def close(self) -> None:
        self._stream.close()


class Engine:
    """The API subset of the Docker driver over ``transport``."""

    def __init__(self, transport: Transport, timeout: float) -> None:
        self.transport = transport
        self.address = transport.address
        self.timeout = timeout  # the longest silence in a progress stream

    def _fetch(self, path: str, **params: Any) -> Any:
        return self.transport.request("GET", path, params=params)

    def _send(self, path: str, body: Any = None, timeout: float | None = None,
              **params: Any) -> Any:
        return self.transport.request("POST", path, params=params, body=body, timeout=timeout)

    def _remove(self, path: str, **params: Any) -> Any:
        return self.transport.request("DELETE", path, params=params)

    def ping(self) -> bool:
        return bool(self.transport.request("GET", "/_ping", versioned=False) == "OK")

    def info(self) -> Any:
        return self._fetch("/info")

    # containers -------------------------------------------------------------------
    def containers(self, selector: Mapping[str, Any] | None = None) -> Any:
        return self._fetch("/containers/json", limit=-1, all=1, size=0, trunc_cmd=0,
                         filters=filters(selector))

    def inspect_container(self, ref: str) -> Any:
        return self._fetch(f"/containers/{_q(ref)}/json")

    def create_container(self, config: Mapping[str, Any], name: str) -> Any:
        return self._send("/containers/create", {k: v for k, v in config.items()
                                                 if v is not None}, name=name)

    def start(self, ref: str) -> None:
        self._send(f"/containers/{_q(ref)}/start")

    def stop(self, ref: str, seconds: int | None, wait: float) -> None:
        self._send(f"/containers/{_q(ref)}/stop", timeout=wait, t=seconds)

    def unpause(self, ref: str) -> None:
        self._send(f"/containers/{_q(ref)}/unpause")

    def remove_container(self, ref: str, force: bool = False) -> None:
        self._remove(f"/containers/{_q(ref)}", v=_b(False), link=_b(False), force=_b(force))

    def rename(self, ref: str, name: str) -> None:
        self._send(f"/containers/{_q(ref)}/rename", name=name)

    def update(self, ref: str, body: Mapping[str, Any]) -> None:
        self._send(f"/containers/{_q(ref)}/update", dict(body))

    def logs(self, ref: str, *, follow: bool, tail: int | None, tty: bool,
             timeout: float | None) -> Decoded:
        stream = self.transport.stream(
            "GET", f"/containers/{_q(ref)}/logs", timeout=timeout,
            params={"stdout": 1, "stderr": 1, "follow": int(follow),
                    "tail": "all" if tail is None else str(tail)})
        return Decoded(stream, iter(stream) if tty else demultiplexed(iter(stream)))

    def exec_run(self, ref: str, command: list[str], *, tty: bool) -> tuple[int | None, bytes]:
        """Run ``command`` in a container to its end: (exit code, output)."""
        return exec_run(self.transport, ref, command, tty)

    # networks -----------------------------------------------------------------------
    def networks(self, selector: Mapping[str, Any] | None = None) -> Any:
        return self._fetch("/networks", filters=filters(selector))

    def inspect_network(self, ref: str) -> Any:
        return self._fetch(f"/networks/{_q(ref)}")

    def create_network(self, body: Mapping[str, Any]) -> Any:
        return self._send("/networks/create", dict(body))

    def remove_network(self, ref: str) -> None:
        self._remove(f"/networks/{_q(ref)}")

    def connect(self, container: str, network: str, aliases: list[str] | None = None) -> None:
        self._send(f"/networks/{_q(network)}/connect", {
            "Container": container, "EndpointConfig": {"Aliases": aliases} if aliases else {}})

    def disconnect(self, container: str, network: str, force: bool = False) -> None:
        body: dict[str, Any] = {"Container": container}
        if force:
            body["Force"] = True
        self._send(f"/networks/{_q(network)}/disconnect", body)

    # volumes ------------------------------------------------------------------------
    def volumes(self, selector: Mapping[str, Any] | None = None) -> Any:
        return self._fetch("/volumes", filters=filters(selector))

    def inspect_volume(self, name: str) -> Any:
        return self._fetch(f"/volumes/{_q(name)}")

    def create_volume(self, body: Mapping[str, Any]) -> Any:
        return self._send("/volumes/create", dict(body))

    def remove_volume(self, name: str) -> None:
        self._remove(f"/volumes/{_q(name)}")

    # images -------------------------------------------------------------------------
    def inspect_image(self, ref: str) -> Any:
        return self._fetch(f"/images/{_q(ref)}/json")

    def pull(self, repository: str, tag: str) -> Decoded:
        stream = self.transport.stream("POST", "/images/create", timeout=self.timeout,
                                       params={"fromImage": repository, "tag": tag})
        return Decoded(stream, json_lines(iter(stream)))

    def build(self, context: Upload, params: Mapping[str, Any]) -> Decoded:
        query = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in params.items()}
        stream = self.transport.stream("POST", "/build", params=query, upload=context,
                                       timeout=self.timeout)
        return Decoded(stream, json_lines(iter(stream)))

    def load(self, archive: Upload) -> Decoded:
        stream = self.transport.stream("POST", "/images/load", params={"quiet": 0},
                                       upload=archive, timeout=self.timeout)
        return Decoded(stream, json_lines(iter(stream)))

    # events -------------------------------------------------------------------------
    def events(self, event_filters: Mapping[str, Any]) -> Decoded:
        stream = self.transport.stream("GET", "/events", params={
            "filters": filters(event_filters)})
        return Decoded(stream, json_lines(iter(stream)))
