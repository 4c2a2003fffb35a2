"""The parts of a container spec: images, ports, mounts, links, env values, restart.

Role: the pydantic models of the keys inside ``[container.*]`` that have a short
syntax (``"8080:80"``, ``"data:/var/lib:ro"``, ``"mysql1:db"``, ``"on-failure:3"``,
``{ file = ... }``): each parses its short form into one canonical typed value,
strict and frozen like every spec model (``specs.modelbase.Model``). ``PathStr``
resolves a relative path against the declaring file's folder
(``specs.cache.resolve_field``). Neighbours: ``specs.models`` (``Container`` and the
top-level tables use these, and re-export them), ``specs.units`` (the short-syntax
parsers), ``specs.names`` (name, alias, address and image reference rules),
``specs.hostmodels`` (the host-level keys, the other part of a container).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BeforeValidator,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from specs import units
from specs.cache import resolve_field as _resolve
from specs.modelbase import Model, Size
from specs.names import (
    check_alias,
    check_ip,
    check_name,
    normalise_image_ref,
)
from specs.swarmkeys import PortMode

PathStr = Annotated[str, BeforeValidator(_resolve)]
Args = Annotated[tuple[str, ...], BeforeValidator(units.split_command)]


class EnvFromFile(Model):
    """``{ file = "secrets/x" }``: the value is the file's content (a secret)."""

    file: PathStr


class EnvFromHost(Model):
    """``{ env = "HOST_VAR" }``: the value comes from the controller's environment (a secret)."""

    env: str


def _env_value(value: object) -> object:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


EnvValue = Annotated[str | EnvFromFile | EnvFromHost, BeforeValidator(_env_value)]


class ImageSpec(Model):
    """Where a container's image comes from: a reference, a build context or an archive."""

    ref: str | None = None
    build: PathStr | None = None
    dockerfile: str | None = None
    args: dict[str, str] = Field(default_factory=dict)
    archive: PathStr | None = None
    pull: Literal["missing", "always", "never"] = "missing"

    @field_validator("ref")
    @classmethod
    def _ref(cls, value: str | None) -> str | None:
        return None if value is None else normalise_image_ref(value)

    @model_validator(mode="after")
    def _one_source(self) -> ImageSpec:
        if self.build and self.archive:
            raise ValueError("give either build or archive, not both")
        if self.ref is None and self.build is None and self.archive is None:
            raise ValueError("an image needs a ref, a build context or an archive")
        if (self.dockerfile or self.args) and self.build is None:
            raise ValueError("dockerfile and args need build = \"./context\"")
        return self


class Port(Model):
    """A published port; ``host = None`` lets the runtime pick a free port."""

    container: int = Field(ge=1, le=65535)
    host: int | None = Field(default=None, ge=1, le=65535)
    ip: str | None = None
    protocol: Literal["tcp", "udp", "sctp"] = "tcp"
    mode: PortMode | None = None  # Swarm: "ingress" (the routing mesh, the default) | "host"

    @model_validator(mode="before")
    @classmethod
    def _short(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            return {"container": value}
        if isinstance(value, str):
            parts = units.parse_port(value)
            return {"container": parts.container, "host": parts.host, "ip": parts.ip,
                    "protocol": parts.protocol}
        return value

    @field_validator("ip")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        """An address Docker can bind: a typo must not widen the binding to every address."""
        if value is not None:
            check_ip(value)
        return value


class Mount(Model):
    """A volume, bind or tmpfs mount at ``target`` inside the container."""

    type: Literal["volume", "bind", "tmpfs"]
    source: str | None = None
    target: str
    read_only: bool = False
    size: Size | None = None  # tmpfs only

    @model_validator(mode="before")
    @classmethod
    def _short(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, str):
            parts = units.parse_volume(value)
            value = {"type": parts.type, "source": parts.source, "target": parts.target,
                     "read_only": parts.read_only}
        if isinstance(value, dict) and value.get("type") == "bind" and value.get("source"):
            value = {**value, "source": _resolve(value["source"], info)}
        return value

    @model_validator(mode="after")
    def _check(self) -> Mount:
        if not self.target.startswith("/"):
            raise ValueError(f"mount target {self.target!r} must be an absolute path")
        if self.type == "bind" and not self.source:
            raise ValueError("a bind mount needs a source path")
        if self.type == "tmpfs" and self.source:
            raise ValueError("a tmpfs mount takes no source")
        if self.type == "volume" and self.source:
            check_name(self.source, "volume name", 2)
        if self.size is not None and self.type != "tmpfs":
            raise ValueError("size applies to tmpfs mounts only")
        return self


class VolumesFrom(Model):
    """``"data[:ro]"``: mount every volume of another declared container."""

    container: str
    read_only: bool = False

    @model_validator(mode="before")
    @classmethod
    def _short(cls, value: object) -> object:
        if isinstance(value, str):
            name, _, mode = value.partition(":")
            if mode not in ("", "ro", "rw"):
                raise ValueError(f"invalid volumes_from mode {mode!r} in {value!r}: use ro or rw")
            return {"container": name, "read_only": mode == "ro"}
        return value


class Link(Model):
    """``"mysql1:db"``: the target container is reachable as ``alias``."""

    target: str
    alias: str

    @model_validator(mode="before")
    @classmethod
    def _short(cls, value: object) -> object:
        if isinstance(value, str):
            target, _, alias = value.partition(":")
            return {"target": target, "alias": alias or target}
        return value

    @model_validator(mode="after")
    def _check_names(self) -> Link:
        check_name(self.target, "container name", 2)
        check_alias(self.alias)
        return self


class NetworkAttachment(Model):
    """Membership of one network, with extra DNS aliases."""

    aliases: tuple[str, ...] = ()

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for alias in value:
            check_alias(alias)
        return value


class RestartPolicy(Model):
    """``restart = "on-failure:3"`` parsed; ``name`` is one of Docker's policies."""

    name: Literal["no", "always", "on-failure", "unless-stopped"] = "no"
    max_retries: int = Field(default=0, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _short(cls, value: object) -> object:
        if isinstance(value, str):
            name, count = units.parse_restart(value)
            return {"name": name, "max_retries": count}
        if value is False:
            return {"name": "no"}
        return value

    def __str__(self) -> str:
        return f"on-failure:{self.max_retries}" if self.max_retries else self.name


Condition = Literal["started", "healthy", "completed"]
