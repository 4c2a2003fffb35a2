"""The comparison rows of a container's host-level fields, and the server defaults they know.

Role: one ``controller.planning.fieldrules.Row`` per host-level field of
``runtime.types.ContainerConfig`` (capabilities, devices, DNS, ulimits,
logging, namespaces, ``expose``, ...), merged into the container rule table
of ``controller.planning.compare``. Each row says what the runtime fills in
when the spec leaves a field unset, as the Docker daemon reports it in an
inspect: a 64 MiB ``/dev/shm``, an OOM score adjustment of 0, the daemon's
default log driver (``ContainerInfo.log_default``) with the daemon's default
log options merged into a container of that driver, the IPC mode
``private`` or ``shareable`` (the daemon's choice), ``label=disable`` added to
the security options of a privileged container or one in the host's pid or
IPC namespace, the image's exposed ports added to ``expose``; and tmpfs
mounts of the ``tmpfs`` key that the runtime reports in the form of a
``volumes`` tmpfs mount. Where a default cannot be told from a value by itself
(an IPC mode, a ``/dev/shm`` size, log options), the label
``controller.desired.naming.LABEL_ASKED`` says what the container was created
with (a container of dockwright's without it asked for none of them; one of
another tool's falls back to the values). Every difference needs a recreate. :func:`hostname`
serves the container table's ``hostname`` row: in the host's or another
container's network namespace, the daemon reports that one's host and domain
name. Pure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from controller.desired.naming import LABEL_ASKED
from controller.planning.fieldrules import Kind, Row, Sides
from runtime.types import (
    LABEL_MANAGED_BY,
    ContainerInfo,
    DeviceSpec,
    ImageInfo,
    MountSpec,
    UlimitSpec,
)

DOCKER_SHM_SIZE = 64 * 1024 * 1024  # bytes: /dev/shm when the spec sets no shm_size
DEFAULT_IPC_MODES = frozenset({"private", "shareable"})  # the daemon's default is one
ADDED_SECURITY_OPT = "label=disable"


def _device(d: DeviceSpec) -> str:
    return f"{d.host}:{d.container}:{d.permissions}"


def _ulimits(value: tuple[UlimitSpec, ...]) -> dict[str, str]:
    return {u.name: f"{u.soft}:{u.hard}" for u in value}


def _list(value: tuple[str, ...]) -> list[str] | None:
    return list(value) or None


def _size(value: int | None) -> str | None:
    """Bytes as a spec writes them: ``"64m"``, ``"512k"``, else ``"1000b"``."""
    if value is None:
        return None
    for unit, factor in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
        if value and value % factor == 0:
            return f"{value // factor}{unit}"
    return f"{value}b"


def _shares_names(sides: Sides, field: str) -> Any:
    """In the host's network namespace a container has the host's host and domain name,
    in another container's that one's (Docker reports them so): unset, they are not
    compared there."""
    have = sides.have
    mode = have.network_mode or ""
    if getattr(sides.want, field) is None and (mode == "host" or mode.startswith("container:")):
        return None
    return getattr(have, field)


def hostname(sides: Sides) -> Any:
    return _shares_names(sides, "hostname")


def _domainname(sides: Sides) -> Any:
    return _shares_names(sides, "domainname")


def asked(sides: Sides) -> frozenset[str] | None:
    """The settings the live container was created with by a spec (``LABEL_ASKED``), where
    the daemon has defaults of its own; None: not recorded (made by an earlier release or
    by another tool), the defaults are then told by their values."""
    source = sides.source
    if not isinstance(source, ContainerInfo):
        return None
    label = source.summary.label(LABEL_ASKED)
    if label is not None:
        return frozenset(label.split(","))
    # dockwright labels every container whose spec asks any of them (earlier releases could
    # ask none): without the label, one of its own asked for nothing
    return frozenset() if source.summary.label(LABEL_MANAGED_BY) is not None else None


def log_default(sides: Sides) -> str:
    """The runtime's default log driver as the live container's runtime reported it."""
    source = sides.source
    return source.log_default if isinstance(source, ContainerInfo) else ""


def _log_driver(sides: Sides) -> Any:
    have = sides.have.log_driver
    if sides.want.log_driver is None and have is not None and have == log_default(sides):
        return None  # unset: the runtime's default driver
    return have


def _log_options(sides: Sides) -> Any:
    """The daemon merges its own default options into a container of its default driver:
    there, only the options the spec names or the container was created with count."""
    have = sides.have.log_options
    driver = sides.have.log_driver
    if driver is None or driver == log_default(sides):
        named = {k for k, _ in sides.want.log_options}
        named |= {a.removeprefix("log_options.") for a in asked(sides) or ()
                  if a.startswith("log_options.")}
        return tuple(kv for kv in have if kv[0] in named)
    return have


def _unless_asked(sides: Sides, field: str, default: Callable[[Any], bool]) -> Any:
    """The live value of ``field``; None (the daemon's default) where the spec leaves it
    unset and the container was not created with it (``default``: without a record,
    whether a value is one the daemon may have filled in)."""
    have = getattr(sides.have, field)
    if getattr(sides.want, field) is not None:
        return have
    made_with = asked(sides)
    if made_with is None:
        return None if default(have) else have
    return have if field in made_with else None


def _ipc_mode(sides: Sides) -> Any:
    return _unless_asked(sides, "ipc_mode", lambda have: have in DEFAULT_IPC_MODES)


def _shm_size(sides: Sides) -> Any:
    return _unless_asked(sides, "shm_size", lambda have: False)  # the row knows 64 MiB


def _security_opt(sides: Sides) -> Any:
    c = sides.have
    if ADDED_SECURITY_OPT in sides.want.security_opt or not (
            c.privileged or "host" in (c.pid_mode, c.ipc_mode)):
        return c.security_opt
    return tuple(o for o in c.security_opt if o != ADDED_SECURITY_OPT)


def _expose(sides: Sides) -> Any:
    """The image's exposed ports join the container's; with the image unknown, only the
    ports the spec names are compared."""
    want = set(sides.want.expose)
    image = sides.defaults
    if isinstance(image, ImageInfo):
        extra = {p if "/" in p else f"{p}/tcp" for p in image.exposed_ports} - want
    else:
        extra = set(sides.have.expose) - want
    return tuple(p for p in sides.have.expose if p not in extra)


def mount_form(m: MountSpec) -> str:
    """The options a ``volumes`` tmpfs mount is written with (``runtime.docker.mounts``)."""
    return ",".join(["ro" if m.read_only else "rw", *([f"size={m.size}"] if m.size else [])])


def tmpfs_mounts(sides: Sides) -> frozenset[str]:
    """Targets of live tmpfs mounts that are entries of the desired ``tmpfs`` key."""
    paths = {p for p, _ in sides.want.tmpfs}
    return frozenset(m.target for m in sides.have.mounts
                     if m.type == "tmpfs" and m.target in paths)


def _tmpfs(sides: Sides) -> Any:
    moved = tmpfs_mounts(sides)
    if not moved:
        return sides.have.tmpfs
    extra = tuple((m.target, mount_form(m)) for m in sides.have.mounts if m.target in moved)
    return tuple(sorted((*sides.have.tmpfs, *extra)))


ROWS: dict[str, Row] = {
    # Docker keeps null (unset: the daemon's --init) apart from false
    "init": Row(Kind.STRICT),
    "cap_add": Row(Kind.SET),
    "cap_drop": Row(Kind.SET),
    "privileged": Row(Kind.STRICT),
    "devices": Row(Kind.SET, display=_device),
    "extra_hosts": Row(Kind.KEYS),
    "dns": Row(Kind.STRICT, display=_list),  # in order: the resolver asks them so
    "dns_search": Row(Kind.STRICT, display=_list),
    "dns_opt": Row(Kind.SET),
    "ulimits": Row(Kind.KEYS, entries=_ulimits),
    "sysctls": Row(Kind.KEYS),
    "log_driver": Row(Kind.STRICT, live=_log_driver),
    "log_options": Row(Kind.KEYS, live=_log_options),
    "security_opt": Row(Kind.SET, live=_security_opt),
    "read_only": Row(Kind.STRICT),
    "shm_size": Row(Kind.SERVER_DEFAULT, display=_size, live=_shm_size, default=DOCKER_SHM_SIZE),
    "tmpfs": Row(Kind.KEYS, live=_tmpfs),
    "group_add": Row(Kind.SET),
    "network_mode": Row(Kind.STRICT),
    "pid_mode": Row(Kind.STRICT),
    "ipc_mode": Row(Kind.STRICT, live=_ipc_mode),
    "expose": Row(Kind.SET, live=_expose),
    "domainname": Row(Kind.STRICT, live=_domainname),
    "mac_address": Row(Kind.STRICT),
    "oom_score_adj": Row(Kind.SERVER_DEFAULT, default=0),
}
