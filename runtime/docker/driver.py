"""The Docker Engine driver: the ``Driver`` protocol over the docker SDK's low-level API.

Role: implements ``runtime.driver.Driver`` for a Docker daemon with
``docker.APIClient`` (no model objects: the high-level ``containers.list()``
inspects every container). Every list is one API call; every SDK call runs
inside ``mapped_errors`` so callers only ever see ``runtime.errors``. On a
local unix socket the JSON calls skip the SDK (whose import costs more than a
no-op ``diff``) and go through ``runtime.docker.http.EngineClient``, which
mirrors the ``APIClient`` methods used here; the SDK is imported on first use
of a streaming call (pull, build, load, events, logs, exec) or a TCP/TLS host.
Neighbours: ``runtime.docker.http`` (the unix-socket client),
``runtime.docker.convert`` (values <-> API JSON, pure),
``runtime.docker.images`` (pull/build/load), ``runtime.docker.events``
(the event stream), ``runtime.docker.errors`` (exception mapping);
``runtime.registry`` instantiates :class:`DockerDriver` lazily.

The client is created on first use (importing this module costs no connection)
and is safe to share between the controller's worker threads.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

from runtime.docker import convert, images
from runtime.docker.errors import import_sdk, mapped_errors
from runtime.docker.events import DockerEventStream
from runtime.docker.http import EngineClient, socket_path
from runtime.errors import Conflict, NotFound, RuntimeError_, Transient
from runtime.types import (
    ContainerConfig,
    ContainerInfo,
    ContainerSummary,
    ExecResult,
    ImageInfo,
    NetworkAttach,
    NetworkConfig,
    NetworkInfo,
    ResourceSpec,
    RestartSpec,
    VolumeConfig,
    VolumeInfo,
)

NETWORK_REMOVE_ATTEMPTS = 6
NETWORK_REMOVE_DELAY = 0.3
STOP_WAIT_UNKNOWN = 300  # extra HTTP wait when the container's own stop timeout applies


def _short(ref: str) -> str:
    """A container id as ``docker ps`` shows it (12 hex digits); names stay as they are."""
    return ref[:12] if len(ref) == 64 and all(c in "0123456789abcdef" for c in ref) else ref


class DockerDriver:
    """A Docker daemon at ``base_url`` (default: ``DOCKER_HOST`` or the local socket)."""

    name = "docker"

    def __init__(self, base_url: str | None = None, timeout: float = 60, **_: Any) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self._client: Any = None
        self._engine: EngineClient | None = None
        self._lock = threading.Lock()
        self._swap_limit: bool | None = None

    # plumbing ---------------------------------------------------------------
    @property
    def api(self) -> Any:
        """The shared ``docker.APIClient`` (created on first use)."""
        if self._client is None:
            import_sdk()
            import docker
            import docker.utils

            with mapped_errors("read the Docker settings (DOCKER_HOST, DOCKER_TLS_VERIFY)"):
                kwargs: dict[str, Any] = dict(docker.utils.kwargs_from_env())
            if self.base_url:
                kwargs["base_url"] = self.base_url
            address = kwargs.get("base_url") or "unix:///var/run/docker.sock"
            with self._lock, mapped_errors(f"connect to the Docker daemon at {address}"):
                if self._client is None:
                    self._client = docker.APIClient(
                        version="auto", timeout=cast(int, self.timeout), max_pool_size=32, **kwargs
                    )
        return self._client

    @property
    def calls(self) -> Any:
        """The client for JSON calls: an ``EngineClient`` on a local unix socket (API
        version negotiated on first use), else the SDK's ``APIClient``."""
        if self._engine is not None:
            return self._engine
        path = socket_path(self.base_url)
        if path is None:
            return self.api
        address = self.base_url or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        with self._lock, mapped_errors(f"connect to the Docker daemon at {address}"):
            if self._engine is None:
                engine = EngineClient(path, self.timeout)
                engine.negotiate()
                self._engine = engine
        return self._engine

    def ping(self) -> None:
        with mapped_errors("ping the Docker daemon"):
            self.calls.ping()

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
            engine, self._engine = self._engine, None
        if client is not None:
            client.close()
        if engine is not None:
            engine.close()

    # containers -------------------------------------------------------------
    def list_containers(self, labels: Mapping[str, str] | None = None) -> list[ContainerSummary]:
        with mapped_errors("list containers"):
            rows = self.calls.containers(all=True, filters=convert.label_filters(labels))
        return [convert.container_summary(row) for row in rows]

    def inspect_container(self, ref: str) -> ContainerInfo:
        with mapped_errors(f"inspect container {_short(ref)}"):
            data = self.calls.inspect_container(ref)
        return convert.container_info(data, self.swap_limit)

    def swap_limit(self) -> bool:
        """Whether the daemon limits swap (``docker info``'s SwapLimit): without it, Docker
        reports -1 as every container's memory + swap. Asked once, on first need."""
        if self._swap_limit is None:
            with mapped_errors("read the Docker daemon's info"):
                self._swap_limit = bool((self.calls.info() or {}).get("SwapLimit", True))
        return self._swap_limit

    def create_container(self, config: ContainerConfig) -> str:
        body = convert.create_body(config)
        with mapped_errors(f"create container {config.name}"):
            created = self.calls.create_container_from_config(body, name=config.name)
        cid: str = created["Id"]
        try:
            for attach in config.networks[1:]:
                with mapped_errors(f"connect container {config.name} to network {attach.network}"):
                    self.calls.connect_container_to_network(
                        cid, attach.network, aliases=list(attach.aliases) or None
                    )
        except BaseException:
            # Do not leave a half-wired container behind; the caller sees the first error.
            with (
                contextlib.suppress(RuntimeError_),
                mapped_errors(f"remove half-created container {config.name}"),
            ):
                self.calls.remove_container(cid, force=True)
            raise
        return cid

    def start_container(self, ref: str) -> None:
        with mapped_errors(f"start container {_short(ref)}"):
            self.calls.start(ref)

    def stop_container(self, ref: str, timeout: float | None = None) -> None:
        # Docker sends the stop signal, waits `t` seconds, then SIGKILL: this is
        # what bounds busybox's SIGTERM-ignoring PID 1.
        api = self.calls
        params = {} if timeout is None else {"t": max(0, math.ceil(timeout))}
        # The HTTP wait must outlast the stop timeout (the container's own when None).
        wait = self.timeout + (STOP_WAIT_UNKNOWN if timeout is None else math.ceil(timeout))
        with mapped_errors(f"stop container {_short(ref)}"):
            if isinstance(api, EngineClient):
                api.stop(ref, params, wait)
                return
            res = api._post(api._url("/containers/{0}/stop", ref), params=params, timeout=wait)
            api._raise_for_status(res)

    def remove_container(self, ref: str, *, force: bool = True) -> None:
        with mapped_errors(f"remove container {_short(ref)}"):
            self.calls.remove_container(ref, force=force, v=False)

    def rename_container(self, ref: str, new_name: str) -> None:
        with mapped_errors(f"rename container {_short(ref)} to {new_name}"):
            self.calls.rename(ref, new_name)

    def update_container(
        self, ref: str, *, restart: RestartSpec | None = None,
        resources: ResourceSpec | None = None, networks: Sequence[NetworkAttach] | None = None,
    ) -> None:
        """Restart policy, limits and network aliases in place. A limit of ``None`` is left
        unchanged (Docker cannot lift a limit in place: removing one needs a recreate)."""
        self._update_limits(ref, restart, resources)
        for attach in networks or ():
            # Docker keeps an endpoint's aliases fixed: disconnect and connect again (the
            # container keeps running and keeps its id)
            with mapped_errors(f"set the aliases of container {_short(ref)} on network "
                               f"{attach.network}"):
                self.calls.disconnect_container_from_network(ref, attach.network)
                self.calls.connect_container_to_network(
                    ref, attach.network, aliases=list(attach.aliases) or None)

    def connect_network(self, ref: str, attach: NetworkAttach) -> None:
        with mapped_errors(f"connect container {_short(ref)} to network {attach.network}"):
            self.calls.connect_container_to_network(
                ref, attach.network, aliases=list(attach.aliases) or None)

    def disconnect_network(self, ref: str, network: str) -> None:
        what = f"disconnect container {_short(ref)} from network {network}"
        try:
            with mapped_errors(what):
                self.calls.disconnect_container_from_network(ref, network)
        except Transient as exc:  # Docker answers 500 for an endpoint that is not there
            if "is not connected" not in exc.message:
                raise
            raise NotFound(f"{what}: it is not connected to {network}") from exc

    def unpause_container(self, ref: str) -> None:
        with mapped_errors(f"unpause container {_short(ref)}"):
            self.calls.unpause(ref)

    def _update_limits(
        self, ref: str, restart: RestartSpec | None, resources: ResourceSpec | None
    ) -> None:
        body: dict[str, Any] = {}
        if restart is not None:
            body["RestartPolicy"] = {  # "no", not "": an empty name means "unchanged" here
                "Name": restart.name,
                "MaximumRetryCount": restart.max_retries,
            }
        if resources is not None:
            if resources.memory:
                # cgroup v1: memory and memory+swap go together (swap = 2x, Docker's default)
                body["Memory"] = resources.memory
                body["MemorySwap"] = resources.memory * 2
            if resources.cpus:
                body["NanoCpus"] = round(resources.cpus * convert.NS)
            if resources.pids:
                body["PidsLimit"] = resources.pids
        if not body:
            return
        with mapped_errors(f"update container {_short(ref)}"):
            api = self.calls
            if isinstance(api, EngineClient):
                api.update(ref, body)
                return
            res = api._post_json(api._url("/containers/{0}/update", ref), data=body)
            api._raise_for_status(res)

    def exec_in(self, ref: str, command: Sequence[str], *, tty: bool = False) -> ExecResult:
        with mapped_errors(f"exec in container {_short(ref)}"):
            created = self.api.exec_create(ref, list(command), stdout=True, stderr=True, tty=tty)
            output = self.api.exec_start(created["Id"], tty=tty)
            code = self.api.exec_inspect(created["Id"]).get("ExitCode")
        return ExecResult(exit_code=-1 if code is None else int(code), output=bytes(output or b""))

    def logs(self, ref: str, *, follow: bool = False, tail: int | None = None) -> Iterator[bytes]:
        """stdout and stderr interleaved as written; with ``follow`` until the container ends
        (no read timeout then). Closing the iterator closes the connection."""
        what = f"logs of container {ref}"
        api = self.api
        with mapped_errors(what):
            tty = bool((api.inspect_container(ref).get("Config") or {}).get("Tty"))
            params = {
                "stdout": 1,
                "stderr": 1,
                "follow": int(follow),
                "tail": "all" if tail is None else str(tail),
            }
            res = api._get(
                api._url("/containers/{0}/logs", ref),
                params=params,
                stream=True,
                timeout=None if follow else self.timeout,
            )
            api._raise_for_status(res)
        if tty:
            chunks = res.iter_content(chunk_size=None)
        else:
            chunks = api._multiplexed_response_stream_helper(res)
        return _guarded(chunks, res, what)

    # images -----------------------------------------------------------------
    def image_info(self, ref: str) -> ImageInfo | None:
        return images.image_info(self.calls, ref)

    def pull_image(self, ref: str) -> ImageInfo:
        return images.pull(self.api, ref)

    def build_image(
        self,
        context: Path,
        tag: str,
        *,
        dockerfile: str | None = None,
        args: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> ImageInfo:
        return images.build(self.api, context, tag, dockerfile=dockerfile, args=args, labels=labels)

    def load_image(self, archive: Path) -> list[str]:
        return images.load(self.api, archive)

    # volumes ----------------------------------------------------------------
    def list_volumes(self, labels: Mapping[str, str] | None = None) -> list[VolumeInfo]:
        with mapped_errors("list volumes"):
            data = self.calls.volumes(filters=convert.label_filters(labels) or None)
        return [convert.volume_info(v) for v in (data or {}).get("Volumes") or []]

    def create_volume(self, config: VolumeConfig) -> VolumeInfo:
        # Docker's volume create returns an existing volume silently; the protocol wants Conflict.
        try:
            with mapped_errors(f"inspect volume {config.name}"):
                self.api.inspect_volume(config.name)
        except NotFound:
            pass
        else:
            raise Conflict(
                f"volume {config.name} already exists", hint="remove it or use another name"
            )
        with mapped_errors(f"create volume {config.name}"):
            data = self.api.create_volume(
                name=config.name,
                driver=config.driver,
                driver_opts=dict(config.driver_opts) or None,
                labels=dict(config.labels) or None,
            )
        return convert.volume_info(data)

    def remove_volume(self, name: str) -> None:
        with mapped_errors(f"remove volume {name}"):
            self.calls.remove_volume(name)

    # networks ---------------------------------------------------------------
    def list_networks(self, labels: Mapping[str, str] | None = None) -> list[NetworkInfo]:
        with mapped_errors("list networks"):
            rows = self.calls.networks(filters=convert.label_filters(labels) or None)
        return [convert.network_info(row) for row in rows or []]

    def create_network(self, config: NetworkConfig) -> NetworkInfo:
        import_sdk()
        import docker.types

        ipam = None
        if config.subnet:
            ipam = docker.types.IPAMConfig(
                pool_configs=[docker.types.IPAMPool(subnet=config.subnet)]
            )
        with mapped_errors(f"create network {config.name}"):
            created = self.api.create_network(
                config.name,
                driver=config.driver,
                ipam=ipam,
                check_duplicate=True,
                internal=config.internal,
                labels=dict(config.labels) or None,
            )
            data = self.api.inspect_network(created["Id"])
        return convert.network_info(data)

    def remove_network(self, name: str) -> None:
        """Remove a network. Containers still attached make it a ``Conflict`` naming them;
        endpoints left behind by containers that are gone ("active endpoints" right after
        a parallel force-remove) are force-disconnected and the removal retried briefly,
        then ``Transient`` (the pass goes on; a later one retries)."""
        last: Transient | None = None
        for attempt in range(NETWORK_REMOVE_ATTEMPTS):
            try:
                with mapped_errors(f"remove network {name}"):
                    self.calls.remove_network(name)
                return
            except Transient as exc:
                if "active endpoints" not in exc.message:
                    raise
                last = exc
            users = self._live_endpoints(name)
            if users:
                raise Conflict(
                    f"network {name} is in use by container(s) {', '.join(sorted(users))}",
                    hint="remove those containers or disconnect them from the network first",
                ) from last
            time.sleep(NETWORK_REMOVE_DELAY * (attempt + 1))
        raise Transient(
            f"network {name} still has active endpoints after its containers were removed",
            retry_after=10.0,
            hint="will retry on the next pass; a daemon restart clears stale endpoints",
        ) from last

    def _live_endpoints(self, name: str) -> list[str]:
        """Names of live containers on network ``name``; force-disconnects endpoints of
        containers that no longer exist (never those of live ones)."""
        live: list[str] = []
        with mapped_errors(f"inspect network {name}"):
            data = self.calls.inspect_network(name)
        for cid, endpoint in (data.get("Containers") or {}).items():
            ep_name = (endpoint or {}).get("Name") or cid
            try:
                with mapped_errors(f"inspect container {cid}"):
                    self.calls.inspect_container(cid)
                live.append(ep_name)
                continue
            except NotFound:
                pass
            try:
                with mapped_errors(f"disconnect stale endpoint {ep_name} from network {name}"):
                    self.calls.disconnect_container_from_network(ep_name, name, force=True)
            except (NotFound, Conflict, Transient):
                pass  # the removal retry says whether it helped
        return live

    # events -----------------------------------------------------------------
    def events(self, labels: Mapping[str, str] | None = None) -> DockerEventStream:
        return DockerEventStream(self.api, labels, self._labels_of)

    def _labels_of(self, container_id: str) -> dict[str, str] | None:
        """A container's labels (None when it is gone): network events carry only its id."""
        try:
            return dict(self.inspect_container(container_id).summary.labels)
        except RuntimeError_:
            return None


def _guarded(chunks: Iterator[bytes], response: Any, what: str) -> Iterator[bytes]:
    try:
        with mapped_errors(what):
            yield from chunks
    finally:
        response.close()
