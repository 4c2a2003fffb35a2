"""The Swarm subset of the Engine API over the Docker transport.

Role: one method per call the Swarm runtime makes (services, tasks, nodes,
networks, secrets, configs, service logs, events, image push, container
exec for a task on the local node), each returning the decoded JSON. The
transport is ``runtime.docker.transport.Transport`` (unix socket or the SDK's
TCP/TLS session, chosen by ``runtime.docker.sdk.transport_for`` from
``DOCKER_HOST`` as for the Docker runtime). Neighbours: ``runtime.swarm.driver``
(maps errors, turns JSON into typed values with ``runtime.swarm.convert``).
"""

from __future__ import annotations

import base64
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import Any

from runtime.docker.transport import (
    Stream,
    Transport,
    demultiplexed,
    exec_run,
    filters,
    json_lines,
)


def _q(arg: str) -> str:
    return urllib.parse.quote(arg, safe="")


class SwarmEngine:
    """The API calls of the Swarm driver; thread-safe as its transport is."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def _get(self, path: str, **params: Any) -> Any:
        return self.transport.request("GET", path, params=params or None)

    def _post(self, path: str, body: Any = None, **params: Any) -> Any:
        return self.transport.request("POST", path, params=params or None, body=body)

    def distribution(self, ref: str) -> Any:
        """The registry's descriptor of ``ref`` (the manager asks the registry)."""
        return self._get(f"/distribution/{ref}/json")

    def ping(self) -> bool:
        return bool(self.transport.request("GET", "/_ping", versioned=False) == "OK")

    def info(self) -> Any:
        return self._get("/info")

    def swarm(self) -> Any:
        """The cluster's inspect (only a manager answers it: cheaper than ``/info``)."""
        return self._get("/swarm")

    # services ---------------------------------------------------------------------
    def services(self, selector: Mapping[str, Any] | None = None) -> Any:
        return self._get("/services", status="true", filters=filters(selector))

    def service(self, ref: str) -> Any:
        return self._get(f"/services/{_q(ref)}", insertDefaults="true")

    def create_service(self, body: Mapping[str, Any]) -> Any:
        return self._post("/services/create", dict(body))

    def update_service(self, ref: str, version: int, body: Mapping[str, Any],
                       rollback: bool = False) -> Any:
        params: dict[str, Any] = {"version": str(version)}
        if rollback:
            params["rollback"] = "previous"
        return self.transport.request("POST", f"/services/{_q(ref)}/update", params=params,
                                      body=dict(body))

    def remove_service(self, ref: str) -> None:
        self.transport.request("DELETE", f"/services/{_q(ref)}")

    def service_logs(self, ref: str, *, follow: bool,
                     tail: int | None) -> tuple[Stream, Iterator[bytes]]:
        stream = self.transport.stream("GET", f"/services/{_q(ref)}/logs", timeout=None,
                                       params={"stdout": 1, "stderr": 1, "follow": int(follow),
                                               "details": 1, "timestamps": 0,
                                               "tail": "all" if tail is None else str(tail)})
        return stream, demultiplexed(iter(stream))

    # tasks and nodes --------------------------------------------------------------
    def tasks(self, selector: Mapping[str, Any] | None = None) -> Any:
        return self._get("/tasks", filters=filters(selector))

    def nodes(self) -> Any:
        return self._get("/nodes")

    # networks ---------------------------------------------------------------------
    def networks(self, selector: Mapping[str, Any] | None = None) -> Any:
        return self._get("/networks", filters=filters(selector))

    def create_network(self, body: Mapping[str, Any]) -> Any:
        return self._post("/networks/create", dict(body))

    def remove_network(self, ref: str) -> None:
        self.transport.request("DELETE", f"/networks/{_q(ref)}")

    # secrets and configs ----------------------------------------------------------
    def objects(self, kind: str, selector: Mapping[str, Any] | None = None) -> Any:
        return self._get(f"/{kind}s", filters=filters(selector))

    def create_object(self, kind: str, name: str, data: bytes,
                      labels: Mapping[str, str]) -> Any:
        return self._post(f"/{kind}s/create", {
            "Name": name, "Labels": dict(labels), "Data": base64.b64encode(data).decode()})

    def remove_object(self, kind: str, ref: str) -> None:
        self.transport.request("DELETE", f"/{kind}s/{_q(ref)}")

    # images and containers (the node this endpoint is) ----------------------------
    def push(self, name: str, tag: str) -> Iterator[Any]:
        # no X-Registry-Auth header: the daemon then reads the (empty) auth from the body
        stream = self.transport.stream("POST", f"/images/{_q(name)}/push", timeout=600,
                                       params={"tag": tag}, body={})
        try:
            yield from json_lines(iter(stream))
        finally:
            stream.close()

    def tag(self, source: str, repo: str, tag: str) -> None:
        self._post(f"/images/{_q(source)}/tag", repo=repo, tag=tag)

    def exec_run(self, container: str, command: list[str],
                 tty: bool) -> tuple[int | None, bytes]:
        return exec_run(self.transport, container, command, tty)

    def local_containers(self, selector: Mapping[str, Any]) -> Any:
        return self._get("/containers/json", filters=filters(selector))

    # events -----------------------------------------------------------------------
    def events(self, selector: Mapping[str, Any]) -> tuple[Stream, Iterator[Any]]:
        stream = self.transport.stream("GET", "/events", params={"filters": filters(selector)})
        return stream, json_lines(iter(stream))
