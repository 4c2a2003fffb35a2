"""The desired state before it meets the host: what the spec files alone determine.

Role: the first half of "validated model -> desired state" (DESIGN.md). A
:class:`Recipe` is a pure function of the spec files (and the variables their
interpolation used): configs normalised onto ``runtime.types``, image sources,
ordering facts, and each container's env as *steps* (a literal, a secret file,
a host variable, an env_file) and its secrets and configs as paths
(:class:`FileStep`) rather than values. It holds no secret and no
file content, so ``controller.desired.snapshot`` may keep it on disk between runs.
``controller.desired.state`` realises it against the host (reads the steps, digests
referenced files, adds ownership labels and hashes). Built from spec models
by ``controller.desired.normalise``; these value types import no pydantic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from runtime.swarm.spec import Placement, UpdatePolicy
from runtime.types import ContainerConfig, NetworkConfig, Pairs, VolumeConfig
from specs.result import SpecError


@dataclass(frozen=True)
class DesiredImage:
    """Where a container's image comes from and how to get it."""

    ref: str  # the reference containers are created from ("" = archive without a ref)
    source: str  # "ref" | "build" | "archive"
    pull: str = "missing"  # missing | always | never
    context: str | None = None
    dockerfile: str | None = None
    args: Pairs = ()
    archive: str | None = None
    digest: str | None = None  # content digest of the build context or the archive

    @property
    def key(self) -> str:
        return self.ref or f"archive:{self.archive}"


@dataclass(frozen=True)
class EnvStep:
    """One entry of a container's env, in order: env_files first, then ``env``."""

    kind: str  # "env_file" (value: path) | "secret" (value: path) | "host" (value: variable)
    #            | "value" (value: the literal)
    key: str  # the variable set ("" for an env_file, which sets what it holds)
    value: str


@dataclass(frozen=True)
class FileStep:
    """A secret or config to place in the container: where from, not what it holds."""

    kind: str  # "secret" | "config"
    name: str  # the secret's name, or the config's target
    target: str
    path: str  # the spec's file (resolved), read when the recipe is realised
    mode: int = 0o444
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True)
class ServiceKeys:
    """What only the Swarm runtime reads of a container resource: its scheduling and
    rollout keys, Swarm's defaults filled in (``update.order`` is ``update_order``)."""

    replicas: int = 1
    mode: str = "replicated"  # | "global"
    endpoint_mode: str = "vip"  # | "dnsrr"
    placement: Placement = field(default_factory=Placement)
    update: UpdatePolicy = field(default_factory=UpdatePolicy)
    rollback: UpdatePolicy = field(default_factory=UpdatePolicy)
    port_modes: tuple[str, ...] = ()  # per ContainerConfig.ports entry: ingress | host
    restart_set: bool = False  # restart (or the project's default) given: else Swarm's "any"
    reserve_cpus: float | None = None  # resources.reservations.cpus (only Swarm reserves CPUs)


@dataclass(frozen=True)
class ContainerRecipe:
    """One container resource (all its replicas)."""

    resource: str
    file: str  # relative to the spec directory
    names: tuple[str, ...]  # instance names: NAME, or NAME-1..NAME-N
    config: ContainerConfig  # name = the resource; env empty; labels: the user's only
    image: DesiredImage  # digest not yet computed
    env: tuple[EnvStep, ...] = ()
    state: str = "running"
    depends_on: tuple[tuple[str, str], ...] = ()
    links: tuple[str, ...] = ()
    volumes_from: tuple[str, ...] = ()
    update_order: str = "stop-first"  # | "start-first" (on a recreate; never hashed)
    files: tuple[FileStep, ...] = ()  # secrets and configs, sorted by target
    service: ServiceKeys = field(default_factory=ServiceKeys)


@dataclass(frozen=True)
class ObjectRecipe:
    """A declared volume or network; labels: the user's only."""

    name: str
    file: str
    config: VolumeConfig | NetworkConfig
    external: bool = False


@dataclass(frozen=True)
class Recipe:
    """A spec directory normalised for one project, before reading anything it refers to."""

    project: str
    root: str  # the spec directory, resolved
    containers: tuple[ContainerRecipe, ...] = ()
    volumes: tuple[ObjectRecipe, ...] = ()
    networks: tuple[ObjectRecipe, ...] = ()  # declared ones; the project network is added
    frozen: frozenset[tuple[str, str]] = frozenset()  # (kind, name) of invalid files
    invalid_files: frozenset[str] = frozenset()
    conditions: tuple[tuple[str, frozenset[str]], ...] = ()  # resource -> conditions asked
    bounds: str = ""  # where files may be read from (``specs.confine.Bounds``, as a kind)
    registry: str = ""  # [project] registry: where Swarm nodes pull built images from
    warnings: tuple[SpecError, ...] = ()  # located, shown by diff and apply (kept by snapshots)
