"""Spec models: the validated, normalised form of the spec language.

Role: pydantic v2 models for ``[container.*]``, ``[volume.*]``, ``[network.*]``
and ``[project]`` tables. Every short syntax (ports, volumes, durations, sizes,
restart policies, links) is parsed into one canonical typed form here or in
``specs.partmodels`` (a container's parts, re-exported here), so that
nothing downstream sees a string it must parse again. Models are strict
(``extra="forbid"``) and frozen. Relative paths resolve against the folder of
the declaring file, passed as validation context ``{"base_dir": Path}``
(``specs.cache.resolve_field``, recorded for the load cache). Schemas are built on
first validation (``defer_build``): a run served from the cache never builds them.
Neighbours: ``specs.partmodels``, ``specs.hostmodels`` (the host-level keys),
``specs.units`` (parsers), ``specs.names`` (name and image reference rules),
``specs.filerefs`` (secrets and configs), ``specs.loader````
(builds these from TOML), ``specs.validate`` (cross-resource checks),
``tests.specs.dump`` (models back to TOML, for the round-trip tests).
Runtime-neutral: nothing here is Docker-specific.
"""

from __future__ import annotations

import ipaddress
import os
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    field_validator,
    model_validator,
)

from specs import units
from specs.filerefs import ConfigRef, ConfigTarget, SecretName, SecretRef
from specs.hostmodels import Healthcheck, HostKeys, Resources
from specs.modelbase import Duration, Model
from specs.names import (
    ENV_NAME_RE,
    check_hostname,
    check_name,
    check_signal,
)
from specs.partmodels import (
    Args,
    Condition,
    EnvFromFile,
    EnvFromHost,
    EnvValue,
    ImageSpec,
    Link,
    Mount,
    NetworkAttachment,
    PathStr,
    Port,
    RestartPolicy,
    VolumesFrom,
)
from specs.swarmkeys import EndpointMode, Placement, SwarmMode, UpdatePolicy

# These models use no pydantic plugin: skip the scan of every installed package's entry
# points that pydantic makes when it builds its first validator (tens of milliseconds).
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

__all__ = ["KINDS", "Args", "Condition", "Container", "EnvFromFile", "EnvFromHost", "EnvValue",
           "Healthcheck", "ImageSpec", "Link", "Model", "Mount", "Network", "NetworkAttachment",
           "PathStr", "Port", "Project", "ProjectDefaults", "Resources", "RestartPolicy",
           "Volume", "VolumesFrom", "default_project"]


class Container(HostKeys):  # host-level keys (init, cap_add, logging, ...): HostKeys
    """``[container.NAME]``: one container (or ``replicas`` copies of it)."""

    image: ImageSpec
    # the runtime name, when it is not the table's name (docker-compose's ``app_web_1``);
    # ``{n}`` stands for the replica number (needed with replicas > 1)
    container_name: str | None = None
    command: Args | None = None
    entrypoint: Args | None = None
    workdir: str | None = None
    user: str | None = None
    hostname: Annotated[str, AfterValidator(check_hostname)] | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    stdin_open: bool = False
    tty: bool = False
    env: dict[str, EnvValue] = Field(default_factory=dict)
    env_file: tuple[PathStr, ...] = ()
    ports: Annotated[tuple[Port, ...], BeforeValidator(units.expand_ports)] = ()
    volumes: tuple[Mount, ...] = ()
    volumes_from: tuple[VolumesFrom, ...] = ()
    links: tuple[Link, ...] = ()
    networks: Annotated[dict[str, NetworkAttachment],
                        BeforeValidator(units.networks_short)] = Field(default_factory=dict)
    restart: RestartPolicy | None = None
    healthcheck: Healthcheck | None = None
    depends_on: Annotated[dict[str, Condition], BeforeValidator(units.depends_short)] = Field(
        default_factory=dict
    )
    resources: Resources = Field(default_factory=Resources)
    stop_signal: str | None = None
    stop_timeout: Duration | None = None
    replicas: int = Field(default=1, ge=0)
    state: Literal["running", "stopped", "absent"] = "running"
    update_order: Literal["stop-first", "start-first"] = "stop-first"  # on a recreate
    # files placed read-only in the container (``specs.filerefs``)
    secrets: dict[SecretName, SecretRef] = Field(default_factory=dict)
    configs: dict[ConfigTarget, ConfigRef] = Field(default_factory=dict)
    # Swarm (specs.swarmkeys; refused elsewhere by specs.runtimes)
    mode: SwarmMode = "replicated"
    endpoint_mode: EndpointMode | None = None
    placement: Placement | None = None
    update: UpdatePolicy | None = None  # update.order is update_order
    rollback: UpdatePolicy | None = None

    @model_validator(mode="before")
    @classmethod
    def _image(cls, value: object) -> object:
        """``image = "ref"`` and a container-level ``pull`` fold into the image table;
        ``update.order`` and ``update_order`` are one key (given both, they must agree)."""
        if not isinstance(value, dict):
            return value
        value = dict(value)
        update = value.get("update")
        order = update.get("order") if isinstance(update, dict) else None
        if order is not None:
            if "update_order" in value and value["update_order"] != order:
                raise ValueError(f"update.order = {order!r} and update_order = "
                                 f"{value['update_order']!r} disagree: keep one of them")
            value["update_order"] = order
        image = value.get("image")
        if isinstance(image, str):
            image = {"ref": image}
        if "pull" in value and isinstance(image, dict):
            image = {**image, "pull": value.pop("pull")}
        if image is not None:
            value["image"] = image
        return value

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if not ENV_NAME_RE.match(key):
                raise ValueError(f"invalid environment variable name {key!r}")
        return value

    @field_validator("container_name")
    @classmethod
    def _container_name(cls, value: str | None) -> str | None:
        if value is not None:
            check_name(value.replace("{n}", "1"), "container_name", 2)
        return value

    @model_validator(mode="after")
    def _replica_names(self) -> Container:
        if self.container_name and self.replicas > 1 and "{n}" not in self.container_name:
            raise ValueError(f"container_name {self.container_name!r} names one container but "
                             f"replicas = {self.replicas}: put {{n}} where the replica number "
                             f"goes, e.g. \"{self.container_name}_{{n}}\"")
        return self

    @field_validator("workdir")
    @classmethod
    def _workdir(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError(f"workdir {value!r} must be an absolute path, e.g. \"/app\"")
        return value

    @field_validator("stop_signal")
    @classmethod
    def _signal(cls, value: str | None) -> str | None:
        """``"SIGTERM"``; ``"TERM"``, ``"sigterm"`` and ``"15"`` too (as Docker takes them)."""
        return None if value is None else check_signal(value)


class Volume(Model):
    """``[volume.NAME]``: a named volume. Never removed unless asked explicitly."""

    driver: str = "local"
    driver_opts: dict[str, str] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    external: bool = False


class Network(Model):
    """``[network.NAME]``: a user network; containers attach by name."""

    driver: str = "bridge"
    internal: bool = False
    subnet: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    external: bool = False

    @field_validator("subnet")
    @classmethod
    def _subnet(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError as exc:
                raise ValueError(f"invalid subnet {value!r}: write a network in CIDR notation, "
                                 "e.g. \"172.28.0.0/16\"") from exc
        return value


class ProjectDefaults(Model):
    """Values applied to every container that does not set them itself."""

    restart: RestartPolicy | None = None
    pull: Literal["missing", "always", "never"] | None = None
    stop_timeout: Duration | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    resources: Resources | None = None


class Project(Model):
    """``[project]``: at most one per spec directory."""

    name: str | None = None
    defaults: ProjectDefaults = Field(default_factory=ProjectDefaults)
    # host folders (and files) the specs may read or bind-mount beyond their directory;
    # relative ones start at this file's folder (specs.confine)
    allow_host_paths: tuple[PathStr, ...] = ()
    # the runtime the specs are for (the CLI's --runtime wins) and, for Swarm, the registry
    # built and archived images are pushed to (every node pulls from it)
    runtime: Literal["docker", "native", "swarm"] | None = None
    registry: str | None = None

    @field_validator("registry")
    @classmethod
    def _registry(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[a-zA-Z0-9.\-]+(:[0-9]+)?(/[a-z0-9._/-]+)?$",
                                               value):
            raise ValueError(f"invalid registry {value!r}: write host:port, e.g. "
                             "\"127.0.0.1:5000\"")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[a-z0-9][a-z0-9_-]*$", value):
            raise ValueError(
                f"invalid project name {value!r}: use lowercase letters, digits, '_' and '-'"
            )
        return value


def default_project() -> Project:
    """``Project()`` without building the model schemas (``defer_build``): equal to it,
    same fields set, for spec folders without a ``[project]`` table."""
    return Project.model_construct(_fields_set=set(),
                                   defaults=ProjectDefaults.model_construct(_fields_set=set()))


KINDS: dict[str, type[Model]] = {"container": Container, "volume": Volume, "network": Network}
