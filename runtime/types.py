"""Runtime value types: the small, frozen vocabulary every driver speaks.

Role: what the controller hands to a driver (``ContainerConfig``,
``VolumeConfig``, ``NetworkConfig``) and what a driver reports back
(``ContainerSummary`` from one list call, ``ContainerInfo`` from an inspect,
``ImageInfo``, ``Event``). Neighbours: ``runtime.driver`` (the protocol that
uses these), ``runtime.errors``; the controller maps spec models onto these
types; drivers map them onto their runtime. Nothing here imports ``specs`` or
``controller`` and nothing here is specific to one runtime.

Conventions: tuples, not lists (values are hashable and frozen); ``env`` and
``labels`` are sorted tuples of pairs; durations are seconds (float); sizes are
bytes; ``None`` means "runtime default / not set".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

Pairs = tuple[tuple[str, str], ...]

# Labels every object dockwright creates carries (principle 4: ownership).
LABEL_MANAGED_BY = "io.dockwright.managed-by"
LABEL_PROJECT = "io.dockwright.project"
LABEL_RESOURCE = "io.dockwright.resource"  # declared name (without replica suffix)
LABEL_REPLICA = "io.dockwright.replica"  # "1".."N"
LABEL_HASH = "io.dockwright.spec-hash"  # hash of the fields that need a recreate
LABEL_UPDATE_HASH = "io.dockwright.update-hash"  # hash of in-place-updatable fields
LABEL_SOURCE = "io.dockwright.source"  # spec file, relative to the spec directory
LABEL_REVISION = "io.dockwright.revision"  # git revision of the spec directory
MANAGED_BY = "dockwright"


class State(str, Enum):
    """Lifecycle state of a container as the runtime reports it."""

    CREATED = "created"
    RUNNING = "running"
    RESTARTING = "restarting"
    PAUSED = "paused"
    EXITED = "exited"
    DEAD = "dead"
    REMOVING = "removing"


class Health(str, Enum):
    NONE = "none"
    STARTING = "starting"
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"


@dataclass(frozen=True)
class PortBinding:
    """A published port: container port/protocol <- host ip:port (host_port None: any free one)."""

    container_port: int
    protocol: str = "tcp"
    host_ip: str = ""  # "" = all addresses
    host_port: int | None = None  # None = runtime picks


@dataclass(frozen=True)
class MountSpec:
    """A mount: a named or anonymous volume, a bind of a host path, or a tmpfs."""

    type: str  # "volume" | "bind" | "tmpfs"
    target: str
    source: str | None = None  # volume name or absolute host path
    read_only: bool = False
    size: int | None = None  # tmpfs size in bytes


@dataclass(frozen=True)
class RestartSpec:
    """The restart policy (Docker's names), changed in place."""

    name: str = "no"  # "no" | "always" | "on-failure" | "unless-stopped"
    max_retries: int = 0


@dataclass(frozen=True)
class HealthSpec:
    """A healthcheck: the test and its timings in seconds (None: the runtime's default)."""

    test: tuple[str, ...]  # ("CMD", ...) | ("CMD-SHELL", "...") | ("NONE",)
    interval: float | None = None
    timeout: float | None = None
    retries: int | None = None
    start_period: float | None = None


@dataclass(frozen=True)
class ResourceSpec:
    """Limits, changed in place: memory in bytes, CPUs in cores, a pid count."""

    memory: int | None = None  # bytes
    cpus: float | None = None  # cores
    pids: int | None = None
    # memory + swap in bytes (-1: unlimited swap); None: what the runtime sets for
    # ``memory`` by itself (twice it on Docker), which a live value equal to it reports too
    memory_swap: int | None = None
    cpu_shares: int | None = None  # relative CPU weight (None: the runtime's, 1024)
    cpuset: str | None = None  # CPUs allowed, "0-1"
    memory_reservation: int | None = None  # bytes: a soft limit


@dataclass(frozen=True)
class DeviceSpec:
    """A host device made available in the container, with its cgroup permissions."""

    host: str
    container: str
    permissions: str = "rwm"


@dataclass(frozen=True)
class UlimitSpec:
    """A resource limit (``setrlimit``) by its name (``nofile``, ``nproc``, ...)."""

    name: str
    soft: int
    hard: int


@dataclass(frozen=True)
class NetworkAttach:
    """A network the container joins, with the aliases it answers to there."""

    network: str  # runtime network name
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class FileMount:
    """A secret or config file placed read-only in the container at ``target``.

    ``digest`` is a keyed digest (HMAC) of the content, never the content; ``source`` is
    where the runtime takes the file from: a read-only copy in the state folder (Docker,
    native: bind-mounted read-only) or a Swarm object name. ``mode``, ``uid`` and
    ``gid`` are the file's inside the container."""

    kind: str  # "secret" | "config"
    name: str  # the secret's name, or the config's target
    target: str
    digest: str
    mode: int = 0o444
    uid: int = 0
    gid: int = 0
    source: str = ""


@dataclass(frozen=True)
class ContainerConfig:
    """Everything needed to create one container. ``image`` is a resolved reference."""

    name: str
    image: str
    command: tuple[str, ...] | None = None  # None = image default
    entrypoint: tuple[str, ...] | None = None
    env: Pairs = ()
    workdir: str | None = None
    user: str | None = None
    hostname: str | None = None
    labels: Pairs = ()
    ports: tuple[PortBinding, ...] = ()
    mounts: tuple[MountSpec, ...] = ()
    volumes_from: tuple[tuple[str, bool], ...] = ()  # (container name, read_only)
    networks: tuple[NetworkAttach, ...] = ()
    restart: RestartSpec = field(default_factory=RestartSpec)
    healthcheck: HealthSpec | None = None
    resources: ResourceSpec = field(default_factory=ResourceSpec)
    stdin_open: bool = False
    tty: bool = False
    stop_signal: str | None = None
    stop_timeout: float | None = None
    # host-level settings; each default is "not set" (the runtime's own), left out of hashes
    init: bool | None = None
    cap_add: tuple[str, ...] = ()  # upper case, without "CAP_", sorted
    cap_drop: tuple[str, ...] = ()
    privileged: bool = False
    devices: tuple[DeviceSpec, ...] = ()
    extra_hosts: Pairs = ()  # (host name, ip), sorted
    dns: tuple[str, ...] = ()  # in order (the resolver tries them so)
    dns_search: tuple[str, ...] = ()
    dns_opt: tuple[str, ...] = ()
    ulimits: tuple[UlimitSpec, ...] = ()  # sorted by name
    sysctls: Pairs = ()
    log_driver: str | None = None  # None: the runtime's default driver
    log_options: Pairs = ()
    security_opt: tuple[str, ...] = ()
    read_only: bool = False
    shm_size: int | None = None  # bytes
    tmpfs: Pairs = ()  # (path, mount options), sorted by path
    group_add: tuple[str, ...] = ()
    network_mode: str | None = None  # "host" | "none" | "bridge" | "container:NAME"
    pid_mode: str | None = None  # "host" | "container:NAME"
    ipc_mode: str | None = None  # "host" | "private" | "shareable" | "none" | "container:NAME"
    expose: tuple[str, ...] = ()  # "8080/tcp", sorted; ports published by ``ports`` left out
    domainname: str | None = None
    mac_address: str | None = None
    oom_score_adj: int | None = None
    files: tuple[FileMount, ...] = ()  # secrets and configs, sorted by target


@dataclass(frozen=True)
class ContainerSummary:
    """One row of a list call: cheap, no inspect."""

    id: str
    name: str
    image_id: str
    state: State
    labels: Pairs = ()
    health: Health = Health.NONE
    exit_code: int | None = None

    def label(self, key: str) -> str | None:
        return dict(self.labels).get(key)


@dataclass(frozen=True)
class ContainerInfo:
    """An inspected container: its live configuration, for a field diff."""

    summary: ContainerSummary
    config: ContainerConfig
    image_ref: str = ""
    restart_count: int = 0
    started_at: str = ""
    ip_addresses: tuple[tuple[str, str], ...] = ()  # (network, address)
    host_ports: tuple[PortBinding, ...] = ()  # actual bindings, with picked ports
    # (network, id of the network the endpoint was made on): an id that is no longer the
    # network's of that name (removed and made again under a stopped container) is not
    # a membership; "" (not resolved until a start) and () (not reported) say nothing
    network_ids: tuple[tuple[str, str], ...] = ()
    # Volumes mounted under a name the runtime generated (image VOLUME paths, "/x" mounts,
    # and such volumes carried over from a container this one replaced), including those
    # inherited through volumes_from: type "volume", source = the generated volume name,
    # sorted by target. A runtime that creates no such volumes reports ().
    anonymous_volumes: tuple[MountSpec, ...] = ()
    log_default: str = ""  # the runtime's default log driver ("": none, or not known)


@dataclass(frozen=True)
class ImageInfo:
    """An image present on the runtime, with the defaults it gives containers."""

    id: str
    refs: tuple[str, ...] = ()
    env: Pairs = ()  # in image order, not sorted
    command: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    workdir: str = ""
    user: str = ""
    labels: Pairs = ()
    healthcheck: HealthSpec | None = None
    stop_signal: str | None = None
    exposed_ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()  # VOLUME paths the image declares, sorted


@dataclass(frozen=True)
class VolumeConfig:
    """A named volume to create."""

    name: str
    driver: str = "local"
    driver_opts: Pairs = ()
    labels: Pairs = ()


@dataclass(frozen=True)
class VolumeInfo:
    """A volume as the runtime reports it."""

    name: str
    driver: str = "local"
    labels: Pairs = ()
    mountpoint: str = ""

    def label(self, key: str) -> str | None:
        return dict(self.labels).get(key)


@dataclass(frozen=True)
class NetworkConfig:
    """A network to create."""

    name: str
    driver: str = "bridge"
    internal: bool = False
    subnet: str | None = None
    labels: Pairs = ()


@dataclass(frozen=True)
class NetworkInfo:
    """A network as the runtime reports it."""

    id: str
    name: str
    driver: str = "bridge"
    internal: bool = False
    subnet: str | None = None
    labels: Pairs = ()

    def label(self, key: str) -> str | None:
        return dict(self.labels).get(key)


@dataclass(frozen=True)
class Event:
    """A container lifecycle event: die, stop, kill, oom, destroy, start, health_status."""

    action: str
    container_id: str
    name: str = ""
    labels: Pairs = ()
    time: float = 0.0
    detail: str = ""  # e.g. "healthy" / "unhealthy" for health_status, exit code for die


@dataclass(frozen=True)
class ExecResult:
    """What a command run in a container gave: its exit code and output."""

    exit_code: int
    output: bytes


def pairs(mapping: dict[str, str] | None) -> Pairs:
    """Sorted, hashable form of a mapping (the canonical env/labels form)."""
    return tuple(sorted((mapping or {}).items()))
