"""Typed Swarm values: a service spec as dockwright compares it, and what a cluster reports.

Role: the vocabulary of the Swarm runtime, runtime-neutral in form (frozen
dataclasses, tuples, seconds, bytes) like ``runtime.types``. :class:`ServiceSpec`
is both sides of the comparison: the desired service the controller builds and
the live ``ServiceSpec`` read back and normalised by ``runtime.swarm.convert``
(server defaults filled in, network ids mapped to names, image references
canonical, durations in seconds); the controller's service rule table
(``controller.planning.servicerules``) walks its fields. :class:`ServiceInfo`,
:class:`TaskInfo`, :class:`NodeInfo` and :class:`ObjectInfo` (secrets,
configs) are what the cluster reports. Neighbours: ``runtime.swarm.convert``
(to and from API JSON), ``runtime.swarm.driver``; ``runtime.types`` for the
shared container values (healthcheck, mounts, network attachments).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from runtime.types import HealthSpec, MountSpec, NetworkAttach, Pairs, UlimitSpec

# Swarm's defaults (moby/swarmkit api/defaults/service.go), what an unset value means
RESTART_DELAY = 5.0
STOP_GRACE = 10.0
UPDATE_MONITOR = 5.0


@dataclass(frozen=True)
class ServicePort:
    """A published port: ``mode`` "ingress" (the routing mesh) or "host" (the node's)."""

    target: int
    published: int | None = None  # None: Swarm picks one (ingress) / a random one (host)
    protocol: str = "tcp"
    mode: str = "ingress"


@dataclass(frozen=True)
class RestartPolicy:
    """When a task's container is restarted: condition none | on-failure | any."""

    condition: str = "any"
    delay: float = RESTART_DELAY
    max_attempts: int = 0  # 0: no limit
    window: float = 0.0


@dataclass(frozen=True)
class Resources:
    """Limits and reservations: memory in bytes, CPUs in cores, a pid count (limits only)."""

    memory: int | None = None
    cpus: float | None = None
    pids: int | None = None
    reserve_memory: int | None = None
    reserve_cpus: float | None = None


@dataclass(frozen=True)
class Placement:
    """Constraints (``node.role == worker``), spread preferences, tasks per node (0: any)."""

    constraints: tuple[str, ...] = ()
    preferences: tuple[str, ...] = ()  # "spread=node.labels.zone"
    max_per_node: int = 0


@dataclass(frozen=True)
class UpdatePolicy:
    """How Swarm rolls an update (or a rollback) out; delays and monitor in seconds."""

    parallelism: int = 1
    delay: float = 0.0
    failure_action: str = "pause"  # pause | continue | rollback
    monitor: float = UPDATE_MONITOR
    max_failure_ratio: float = 0.0
    order: str = "stop-first"  # | start-first


@dataclass(frozen=True)
class FileRef:
    """A Swarm secret or config placed as a read-only file in each task's container."""

    kind: str  # "secret" | "config"
    name: str  # the Swarm object's name: <project>_<name>_<digest12>
    target: str  # path in the container (secrets: relative names are under /run/secrets)
    uid: str = "0"
    gid: str = "0"
    mode: int = 0o444


@dataclass(frozen=True)
class ServiceSpec:
    """A service as compared: its task template flattened, nested policies kept apart."""

    name: str
    image: str  # canonical reference, no digest pin
    labels: Pairs = ()  # the service's labels (ownership, hashes)
    container_labels: Pairs = ()  # the task containers' labels
    command: tuple[str, ...] | None = None  # ContainerSpec.Args (the image CMD when None)
    entrypoint: tuple[str, ...] | None = None  # ContainerSpec.Command
    env: Pairs = ()
    workdir: str | None = None
    user: str | None = None
    hostname: str | None = None
    tty: bool = False
    stdin_open: bool = False
    stop_signal: str | None = None
    stop_grace: float = STOP_GRACE
    healthcheck: HealthSpec | None = None
    mounts: tuple[MountSpec, ...] = ()
    files: tuple[FileRef, ...] = ()
    networks: tuple[NetworkAttach, ...] = ()  # by network name
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    resources: Resources = field(default_factory=Resources)
    placement: Placement = field(default_factory=Placement)
    mode: str = "replicated"  # | "global"
    replicas: int = 1  # replicated only
    update: UpdatePolicy = field(default_factory=UpdatePolicy)
    rollback: UpdatePolicy = field(default_factory=UpdatePolicy)
    endpoint_mode: str = "vip"  # | "dnsrr"
    ports: tuple[ServicePort, ...] = ()
    force_update: int = 0
    # host-level keys a task template carries (unset: the runtime's own)
    init: bool | None = None
    cap_add: tuple[str, ...] = ()  # upper case, without "CAP_", sorted
    cap_drop: tuple[str, ...] = ()
    sysctls: Pairs = ()
    read_only: bool = False
    extra_hosts: Pairs = ()  # (host name, ip), sorted
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_opt: tuple[str, ...] = ()
    group_add: tuple[str, ...] = ()
    ulimits: tuple[UlimitSpec, ...] = ()  # sorted by name
    log_driver: str | None = None  # None: the cluster's default
    log_options: Pairs = ()

    def label(self, key: str) -> str | None:
        return dict(self.labels).get(key)


@dataclass(frozen=True)
class ServiceInfo:
    """A live service: its id and version (for an update), its normalised spec, the
    state of its last update and its task counts (``running``/``desired``)."""

    id: str
    version: int
    spec: ServiceSpec
    update_state: str = ""  # "" (none) | updating | paused | completed | rollback_*
    update_message: str = ""
    update_started: str = ""  # when the last update (or rollback) began
    running: int = 0
    desired: int = 0
    previous: bool = False  # a PreviousSpec is kept (Swarm's one rollback target)
    created_at: str = ""
    updated_at: str = ""
    pin: str = ""  # the image digest the spec names (``ref@sha256:...``), "" when none

    def label(self, key: str) -> str | None:
        return self.spec.label(key)


@dataclass(frozen=True)
class TaskInfo:
    """One task of a service: its slot (replicated) or node (global), state and error."""

    id: str
    service_id: str
    slot: int
    node_id: str
    state: str  # new | pending | assigned | ... | running | complete | failed | shutdown ...
    desired_state: str
    message: str = ""
    error: str = ""
    container_id: str = ""
    timestamp: str = ""
    exit_code: int | None = None
    spec_image: str = ""


@dataclass(frozen=True)
class NodeInfo:
    """A cluster node: id, hostname, role, availability, state (ready | down ...)."""

    id: str
    hostname: str
    role: str
    availability: str
    state: str
    address: str = ""
    labels: Pairs = ()
    leader: bool = False
    os: str = ""  # Description.Platform: what ``node.platform.*`` constraints match
    arch: str = ""
    engine_labels: Pairs = ()  # the daemon's own labels (``engine.labels.*``)


@dataclass(frozen=True)
class ObjectInfo:
    """A Swarm secret or config: id, name, labels, creation time."""

    id: str
    name: str
    labels: Pairs = ()
    created_at: str = ""

    def label(self, key: str) -> str | None:
        return dict(self.labels).get(key)


@dataclass(frozen=True)
class SwarmEvent:
    """A service, task (container), node, secret or config event of the cluster."""

    type: str  # service | node | container | secret | config
    action: str  # create | update | remove | die | start ...
    id: str
    name: str = ""
    labels: Pairs = ()
    time: float = 0.0
    detail: str = ""  # e.g. the node state change "ready -> down"
