"""The Docker Engine driver: the ``Driver`` protocol over the Engine API.

Role: implements ``runtime.driver.Driver`` for a Docker daemon with the calls of
``runtime.docker.engine.Engine`` (no model objects: every list is one API call)
over one ``runtime.docker.transport.Transport``, chosen when the driver is built
(``runtime.docker.sdk.transport_for``): the stdlib client on a local unix socket
(``runtime.docker.http``; the docker SDK, whose import costs more than a no-op
``diff``, is never loaded then), the SDK's session for TCP/TLS daemons
(``runtime.docker.sdk``). Every call runs inside ``mapped_errors`` so callers only
ever see ``runtime.errors``. Neighbours: ``runtime.docker.convert`` (values <->
API JSON, pure), ``runtime.docker.images`` (pull/build/load),
``runtime.docker.events`` (the event stream), ``runtime.docker.errors``
(exception mapping); ``runtime.registry`` instantiates :class:`DockerDriver`
lazily.

Building the driver opens no connection (the API version is negotiated on first
use), and it is safe to share between the controller's worker threads.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from runtime.docker import convert, images
from runtime.docker.engine import Decoded, Engine
from runtime.docker.errors import mapped_errors
from runtime.docker.events import DockerEventStream
from runtime.docker.sdk import transport_for
from runtime.driver import IdSet
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
        self.transport = transport_for(base_url, timeout)
        self._engine = Engine(self.transport, timeout)
        self._negotiated = False
        self._lock = threading.Lock()
        self._daemon_info: dict[str, Any] | None = None

    # plumbing ---------------------------------------------------------------
    @property
    def api(self) -> Engine:
        """The Engine API calls (the API version negotiated on first use)."""
        if not self._negotiated:
            with self._lock, mapped_errors(
                    f"connect to the Docker daemon at {self.transport.address}"):
                self.transport.negotiate()
                self._negotiated = True
        return self._engine

    def ping(self) -> None:
        with mapped_errors("ping the Docker daemon"):
            self.api.ping()

    def close(self) -> None:
        self.transport.close()

    # containers -------------------------------------------------------------
    def list_containers(self, labels: Mapping[str, str] | None = None) -> list[ContainerSummary]:
        with mapped_errors("list containers"):
            rows = self.api.containers(convert.label_filters(labels))
        return [convert.container_summary(row) for row in rows]

    def inspect_container(self, ref: str) -> ContainerInfo:
        with mapped_errors(f"inspect container {_short(ref)}"):
            data = self.api.inspect_container(ref)
        return convert.container_info(data, self.swap_limit, self._name_of, self.log_default)

    def _info(self) -> Mapping[str, Any]:
        """``docker info``, asked once, on first need."""
        if self._daemon_info is None:
            with mapped_errors("read the Docker daemon's info"):
                self._daemon_info = dict(self.api.info() or {})
        return self._daemon_info

    def swap_limit(self) -> bool:
        """Whether the daemon limits swap (``docker info``'s SwapLimit): without it, Docker
        reports -1 as every container's memory + swap."""
        return bool(self._info().get("SwapLimit", True))

    def log_default(self) -> str:
        """The daemon's default log driver (``docker info``'s LoggingDriver)."""
        return str(self._info().get("LoggingDriver") or "json-file")

    def _name_of(self, ref: str) -> str:
        """The name of the container a ``container:<id>`` mode names (Docker keeps the id);
        the id itself when that container is gone (a mode to recreate)."""
        if _short(ref) == ref:
            return ref  # a name already
        try:
            with mapped_errors(f"inspect container {_short(ref)}"):
                data = self.api.inspect_container(ref)
        except NotFound:
            return ref
        return convert.container_summary({"Id": ref, "Names": [data.get("Name") or ""]}).name

    def create_container(self, config: ContainerConfig) -> str:
        body = convert.create_body(config)
        with mapped_errors(f"create container {config.name}"):
            created = self.api.create_container(body, name=config.name)
        cid: str = created["Id"]
        try:
            for attach in config.networks[1:]:
                with mapped_errors(f"connect container {config.name} to network {attach.network}"):
                    self.api.connect(
                        cid, attach.network, aliases=list(attach.aliases) or None
                    )
        except BaseException:
            # Do not leave a half-wired container behind; the caller sees the first error.
            with (
                contextlib.suppress(RuntimeError_),
                mapped_errors(f"remove half-created container {config.name}"),
            ):
                self.api.remove_container(cid, force=True)
            raise
        return cid

    def start_container(self, ref: str) -> None:
        with mapped_errors(f"start container {_short(ref)}"):
            self.api.start(ref)

    def stop_container(self, ref: str, timeout: float | None = None) -> None:
        # Docker sends the stop signal, waits `t` seconds, then SIGKILL: this is
        # what bounds busybox's SIGTERM-ignoring PID 1.
        seconds = None if timeout is None else max(0, math.ceil(timeout))
        # The HTTP wait must outlast the stop timeout (the container's own when None).
        wait = self.timeout + (STOP_WAIT_UNKNOWN if timeout is None else math.ceil(timeout))
        with mapped_errors(f"stop container {_short(ref)}"):
            self.api.stop(ref, seconds, wait)

    def remove_container(self, ref: str, *, force: bool = True) -> None:
        with mapped_errors(f"remove container {_short(ref)}"):
            self.api.remove_container(ref, force=force)

    def rename_container(self, ref: str, new_name: str) -> None:
        with mapped_errors(f"rename container {_short(ref)} to {new_name}"):
            self.api.rename(ref, new_name)

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
                self.api.disconnect(ref, attach.network)
                self.api.connect(
                    ref, attach.network, aliases=list(attach.aliases) or None)

    def connect_network(self, ref: str, attach: NetworkAttach) -> None:
        with mapped_errors(f"connect container {_short(ref)} to network {attach.network}"):
            self.api.connect(
                ref, attach.network, aliases=list(attach.aliases) or None)

    def disconnect_network(self, ref: str, network: str) -> None:
        what = f"disconnect container {_short(ref)} from network {network}"
        try:
            with mapped_errors(what):
                self.api.disconnect(ref, network)
        except Transient as exc:  # Docker answers 500 for an endpoint that is not there
            if "is not connected" not in exc.message:
                raise
            raise NotFound(f"{what}: it is not connected to {network}") from exc

    def unpause_container(self, ref: str) -> None:
        with mapped_errors(f"unpause container {_short(ref)}"):
            self.api.unpause(ref)

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
                body["MemorySwap"] = resources.memory_swap or resources.memory * 2
            if resources.cpus:
                body["NanoCpus"] = round(resources.cpus * convert.NS)
            if resources.pids:
                body["PidsLimit"] = resources.pids
            if resources.cpu_shares:
                body["CpuShares"] = resources.cpu_shares
            if resources.cpuset:
                body["CpusetCpus"] = resources.cpuset
            if resources.memory_reservation:
                body["MemoryReservation"] = resources.memory_reservation
        if not body:
            return
        with mapped_errors(f"update container {_short(ref)}"):
            self.api.update(ref, body)

    def exec_in(self, ref: str, command: Sequence[str], *, tty: bool = False) -> ExecResult:
        with mapped_errors(f"exec in container {_short(ref)}"):
            code, output = self.api.exec_run(ref, list(command), tty=tty)
        return ExecResult(exit_code=-1 if code is None else code, output=output)

    def logs(self, ref: str, *, follow: bool = False, tail: int | None = None) -> Iterator[bytes]:
        """stdout and stderr interleaved as written; with ``follow`` until the container ends
        (no read timeout then). Closing the iterator closes the connection."""
        what = f"logs of container {ref}"
        with mapped_errors(what):
            tty = bool((self.api.inspect_container(ref).get("Config") or {}).get("Tty"))
            chunks = self.api.logs(ref, follow=follow, tail=tail, tty=tty,
                                   timeout=None if follow else self.timeout)
        return _guarded(chunks, what)

    # images -----------------------------------------------------------------
    def image_info(self, ref: str) -> ImageInfo | None:
        return images.image_info(self.api, ref)

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
            data = self.api.volumes(convert.label_filters(labels) or None)
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
            data = self.api.create_volume({
                "Name": config.name,
                "Driver": config.driver,
                "DriverOpts": dict(config.driver_opts),
                "Labels": dict(config.labels),
            })
        return convert.volume_info(data)

    def remove_volume(self, name: str) -> None:
        with mapped_errors(f"remove volume {name}"):
            self.api.remove_volume(name)

    # networks ---------------------------------------------------------------
    def list_networks(self, labels: Mapping[str, str] | None = None) -> list[NetworkInfo]:
        with mapped_errors("list networks"):
            rows = self.api.networks(convert.label_filters(labels) or None)
        return [convert.network_info(row) for row in rows or []]

    def create_network(self, config: NetworkConfig) -> NetworkInfo:
        body: dict[str, Any] = {"Name": config.name, "Driver": config.driver,
                                "CheckDuplicate": True, "Internal": config.internal,
                                "Labels": dict(config.labels)}
        if config.subnet:
            body["IPAM"] = {"Driver": "default", "Config": [{"Subnet": config.subnet}]}
        with mapped_errors(f"create network {config.name}"):
            created = self.api.create_network(body)
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
                    self.api.remove_network(name)
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
            data = self.api.inspect_network(name)
        for cid, endpoint in (data.get("Containers") or {}).items():
            ep_name = (endpoint or {}).get("Name") or cid
            try:
                with mapped_errors(f"inspect container {cid}"):
                    self.api.inspect_container(cid)
                live.append(ep_name)
                continue
            except NotFound:
                pass
            try:
                with mapped_errors(f"disconnect stale endpoint {ep_name} from network {name}"):
                    self.api.disconnect(ep_name, name, force=True)
            except (NotFound, Conflict, Transient):
                pass  # the removal retry says whether it helped
        return live

    # events -----------------------------------------------------------------
    def events(self, labels: Mapping[str, str] | None = None,
               ids: IdSet | None = None) -> DockerEventStream:
        return DockerEventStream(self.api, labels, self._labels_of, ids)

    def _labels_of(self, container_id: str) -> dict[str, str] | None:
        """A container's labels (None when it is gone): network events carry only its id."""
        try:
            return dict(self.inspect_container(container_id).summary.labels)
        except RuntimeError_:
            return None


def _guarded(chunks: Decoded, what: str) -> Iterator[bytes]:
    try:
        with mapped_errors(what):
            yield from chunks
    finally:
        chunks.close()
