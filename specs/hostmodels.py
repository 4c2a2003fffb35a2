"""Host-level container keys: capabilities, devices, DNS, ulimits, logging, namespaces.

Role: the keys compose services use beyond an image, a command and mounts
(``init``, ``cap_add``/``cap_drop``, ``privileged``, ``devices``,
``extra_hosts``, ``dns*``, ``ulimits``, ``sysctls``, ``logging``,
``security_opt``, ``read_only``, ``shm_size``, ``tmpfs``, ``group_add``,
``network_mode``, ``pid``, ``ipc``, ``expose``, ``domainname``,
``mac_address``, ``oom_score_adj``) and the sub-models they use
(:class:`Device`, :class:`Ulimit`, :class:`Logging`, :class:`Reservations`), and
the container's :class:`Resources` (limits) and :class:`Healthcheck`.
:class:`HostKeys` holds them; ``specs.models.Container`` inherits it, so a
container table takes them at its top level. Every short form is normalised
here (capabilities upper case without ``CAP_``, sorted; ``expose`` as
``"8080/tcp"``; a ulimit given as one number is its soft and hard limit).
Checks that involve other keys of the container (``network_mode`` with
ports, networks, links, hostname) or other containers (``container:NAME``)
are located errors of ``specs.hostchecks``. Neighbours: ``specs.modelbase``,
``specs.units``, ``specs.names``; the names are agreed in CONTRACT.md.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from specs import units
from specs.modelbase import Duration, Model, Size
from specs.names import check_hostname, check_ip

ULIMIT_NAMES = frozenset({"as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue",
                          "nice", "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending",
                          "stack"})
_CAP = re.compile(r"^[A-Z][A-Z0-9_]*$")
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_MODE_CONTAINER = "container:"
NETWORK_MODES = ("host", "none", "bridge")
PID_MODES = ("host",)
IPC_MODES = ("host", "private", "shareable", "none")


def _text(value: object) -> object:
    """A TOML number or boolean where Docker takes text (sysctl and log option values)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


Text = Annotated[str, BeforeValidator(_text)]


def _caps(value: tuple[str, ...]) -> tuple[str, ...]:
    out = set()
    for cap in value:
        name = cap.strip().upper().removeprefix("CAP_")
        if not _CAP.match(name):
            raise ValueError(f"invalid capability {cap!r}: write its name, e.g. \"NET_ADMIN\"")
        out.add(name)
    return tuple(sorted(out))


Caps = Annotated[tuple[str, ...], AfterValidator(_caps)]


def _mode(value: str, what: str, fixed: tuple[str, ...]) -> str:
    if value in fixed:
        return value
    if value.startswith(_MODE_CONTAINER) and len(value) > len(_MODE_CONTAINER):
        return value
    choices = ", ".join(f'"{m}"' for m in fixed)
    raise ValueError(f"invalid {what} {value!r}: use {choices} or \"container:NAME\" (NAME: a "
                     "container declared in this spec directory)")


def container_target(mode: str | None) -> str | None:
    """NAME of a ``"container:NAME"`` mode; None for any other mode."""
    if mode is not None and mode.startswith(_MODE_CONTAINER):
        return mode[len(_MODE_CONTAINER):]
    return None


class Device(Model):
    """``"/dev/fuse"``, ``"/dev/sda:/dev/xvda:r"`` or ``{ host, container, permissions }``."""

    host: str
    container: str | None = None  # None: the host path
    permissions: str = "rwm"

    @model_validator(mode="before")
    @classmethod
    def _short(cls, value: object) -> object:
        if isinstance(value, str):
            parts = value.split(":")
            if len(parts) > 3:
                raise ValueError(f"invalid device {value!r}: expected "
                                 "\"/dev/HOST[:/dev/CONTAINER[:rwm]]\"")
            out: dict[str, str] = {"host": parts[0]}
            if len(parts) > 1 and parts[1]:
                out["container"] = parts[1]
            if len(parts) > 2:
                out["permissions"] = parts[2]
            return out
        return value

    @model_validator(mode="after")
    def _check(self) -> Device:
        for path in (self.host, self.container):
            if path is not None and not path.startswith("/"):
                raise ValueError(f"device path {path!r} must be absolute, e.g. \"/dev/fuse\"")
        if not self.permissions or set(self.permissions) - set("rwm"):
            raise ValueError(f"invalid device permissions {self.permissions!r}: use letters of "
                             "\"rwm\" (read, write, mknod)")
        return self


class Ulimit(Model):
    """``{ soft = 1024, hard = 2048 }``; one number sets both."""

    soft: int = Field(ge=-1)
    hard: int = Field(ge=-1)

    @model_validator(mode="before")
    @classmethod
    def _short(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            return {"soft": value, "hard": value}
        return value

    @model_validator(mode="after")
    def _order(self) -> Ulimit:
        if self.hard != -1 and (self.soft == -1 or self.soft > self.hard):
            raise ValueError(f"soft limit {self.soft} is above the hard limit {self.hard}: "
                             "lower soft or raise hard")
        return self


class Logging(Model):
    """``logging = { driver = "json-file", options = { max-size = "10m" } }``; no driver:
    the runtime's default one."""

    driver: str | None = None
    options: dict[str, Text] = Field(default_factory=dict)


class Reservations(Model):
    """``resources.reservations``: what the container is guaranteed (a soft limit)."""

    memory: Size | None = None
    cpus: float | None = Field(default=None, gt=0)  # Swarm only (specs.hostchecks)


class Healthcheck(Model):
    """A health probe; ``test`` is normalised to start with CMD, CMD-SHELL or NONE;
    ``disable = true`` turns off the image's probe (``test = ["NONE"]``)."""

    test: tuple[str, ...] = ()
    interval: Duration | None = None
    timeout: Duration | None = None
    retries: int | None = Field(default=None, ge=0)
    start_period: Duration | None = None
    disable: bool = False

    @field_validator("test", mode="before")
    @classmethod
    def _test(cls, value: object) -> object:
        if isinstance(value, str):
            return ("CMD-SHELL", value)
        if isinstance(value, list | tuple):
            if not value:
                raise ValueError("test must not be empty")
            if value[0] not in ("CMD", "CMD-SHELL", "NONE"):
                return ("CMD", *value)
        return value

    @model_validator(mode="after")
    def _disable(self) -> Healthcheck:
        if self.disable and self.test:
            raise ValueError("give either disable = true or a test, not both")
        if not self.disable and not self.test:
            raise ValueError("a healthcheck needs a test, e.g. test = [\"CMD\", \"true\"] "
                             "(or disable = true to turn off the image's)")
        return self


class Resources(Model):
    """Limits: memory in bytes, cpus as a fraction of cores, pids as a count; the relative
    CPU weight, the CPUs allowed (``"0-1"``), memory + swap (-1: unlimited swap) and what
    is reserved (``specs.hostmodels.Reservations``)."""

    memory: Size | None = None
    cpus: float | None = Field(default=None, gt=0)
    pids: int | None = Field(default=None, gt=0)
    cpu_shares: int | None = Field(default=None, ge=2, le=262144)
    cpuset: Annotated[str, AfterValidator(units.check_cpuset)] | None = None
    memory_swap: Annotated[int, BeforeValidator(units.parse_swap)] | None = None
    reservations: Reservations | None = None


def _tmpfs(value: tuple[str, ...]) -> tuple[str, ...]:
    for item in value:
        path = item.partition(":")[0]
        if not path.startswith("/"):
            raise ValueError(f"invalid tmpfs {item!r}: expected \"/absolute/path[:options]\", "
                             "e.g. \"/tmp:size=64m,mode=1777\"")
    return value


def _ulimits(value: dict[str, Ulimit]) -> dict[str, Ulimit]:
    for name in value:
        if name not in ULIMIT_NAMES:
            raise ValueError(f"unknown ulimit {name!r}: use one of "
                             f"{', '.join(sorted(ULIMIT_NAMES))}")
    return value


class HostKeys(Model):
    """The host-level keys of a ``[container.NAME]`` table (``Container`` inherits them)."""

    init: bool | None = None
    cap_add: Caps = ()
    cap_drop: Caps = ()
    privileged: bool = False
    devices: tuple[Device, ...] = ()
    extra_hosts: dict[str, str] = Field(default_factory=dict)
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_opt: tuple[str, ...] = ()
    ulimits: Annotated[dict[str, Ulimit], AfterValidator(_ulimits)] = Field(
        default_factory=dict)
    sysctls: dict[str, Text] = Field(default_factory=dict)
    logging: Logging | None = None
    security_opt: tuple[str, ...] = ()
    read_only: bool = False
    shm_size: Size | None = None
    tmpfs: Annotated[tuple[str, ...], AfterValidator(_tmpfs)] = ()
    group_add: tuple[str, ...] = ()
    network_mode: str | None = None
    pid: str | None = None
    ipc: str | None = None
    expose: Annotated[tuple[str, ...], BeforeValidator(units.parse_expose)] = ()
    domainname: Annotated[str, AfterValidator(check_hostname)] | None = None
    mac_address: str | None = None
    oom_score_adj: int | None = Field(default=None, ge=-1000, le=1000)

    @field_validator("extra_hosts")
    @classmethod
    def _hosts(cls, value: dict[str, str]) -> dict[str, str]:
        for host, ip in value.items():
            check_hostname(host)
            check_ip(ip)
        return value

    @field_validator("security_opt")
    @classmethod
    def _security_opt(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for opt in value:
            name, _, profile = opt.replace(":", "=", 1).partition("=")
            if name == "seccomp" and profile not in ("unconfined", "builtin"):
                raise ValueError(f"security_opt {opt!r}: a seccomp profile file is not read "
                                 "(Docker's API takes the profile's JSON, not its path): use "
                                 "\"seccomp=unconfined\", or leave it out for Docker's default "
                                 "profile")
        return value

    @field_validator("dns")
    @classmethod
    def _dns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for ip in value:
            check_ip(ip)
        return value

    @field_validator("network_mode")
    @classmethod
    def _network_mode(cls, value: str | None) -> str | None:
        return None if value is None else _mode(value, "network_mode", NETWORK_MODES)

    @field_validator("pid")
    @classmethod
    def _pid(cls, value: str | None) -> str | None:
        return None if value is None else _mode(value, "pid", PID_MODES)

    @field_validator("ipc")
    @classmethod
    def _ipc(cls, value: str | None) -> str | None:
        return None if value is None else _mode(value, "ipc", IPC_MODES)

    @field_validator("mac_address")
    @classmethod
    def _mac(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not _MAC.match(value.lower()):
            raise ValueError(f"invalid mac_address {value!r}: write six hex pairs, e.g. "
                             "\"02:42:ac:11:00:02\"")
        return value.lower()

