"""Which runtime supports which spec key: one table, and the check that reads it.

Role: ``ROWS`` is the single table "key path -> the runtimes that support it, and the
fix to print otherwise". A row names a key path below a table kind
(``container.security_opt``, ``container.resources.reservations.cpus``; ``*`` stands
for every entry of a table-valued key such as ``container.secrets.*.uid``), the
runtimes that can carry it out, the fix, and optionally a condition on the value (only
``network_mode = "container:..."`` is refused, ``"host"`` is fine). :func:`check` turns
every key of a loaded spec directory that its runtime does not support into a located
:class:`~specs.result.SpecError` (``web.toml:7: container.web.security_opt: not
supported by the native runtime — ...``), so the file is frozen instead of being
applied without the key. A key counts as used when its value is not empty, not
``false`` and not ``None``: ``privileged = false`` asks for nothing. A runtime this
table does not know (a test's fake) gets no check. Neighbours: ``specs.loader``
(``load_dir(..., runtime=R)`` calls :func:`check`), ``specs.models`` (the keys),
``specs.locate`` (the key path's line). Runtime names are spelt here, not imported:
``specs`` never imports ``runtime``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from pydantic import BaseModel

from specs.locate import KeyPath, format_path
from specs.result import Resource, SpecError

DOCKER, NATIVE, SWARM = "docker", "native", "swarm"
_MISSING = object()
RUNTIMES = (DOCKER, NATIVE, SWARM)
LineOf = Callable[[str, KeyPath], "int | None"]


@dataclass(frozen=True)
class Row:
    """One key path, the runtimes that support it and the fix for the others."""

    key: str  # "container.security_opt"; "*" = every entry of a table-valued key
    runtimes: frozenset[str]
    fix: str
    # only values for which this holds are refused; None: any value in use
    when: Callable[[Any], bool] | None = None
    what: str = ""  # the refused value in words ('network_mode = "container:NAME"')
    # the runtimes this row speaks for (None: every one not in ``runtimes``), so that a
    # key refused on two runtimes for different reasons has one row (and fix) per reason
    about: frozenset[str] | None = None

    @cached_property
    def path(self) -> tuple[str, ...]:
        return tuple(self.key.split("."))

    def speaks_for(self, runtime: str) -> bool:
        """Whether this row refuses its key on ``runtime``."""
        return runtime not in self.runtimes and (self.about is None or runtime in self.about)


def _only(*names: str) -> frozenset[str]:
    return frozenset(names)


_SCHEDULER = ("only a Swarm cluster schedules tasks: run with --runtime swarm (or "
              "[project] runtime = \"swarm\"), or remove the key")


def _swarm_only(key: str) -> Row:
    return Row(key, _only(SWARM), _SCHEDULER)


def _log_driver(logging: Any) -> bool:
    """A log driver or options beyond the native runtime's own log file."""
    return getattr(logging, "driver", None) not in (None, "json-file") or bool(
        getattr(logging, "options", None))


def _profiles(options: Any) -> bool:
    """Security options beyond ``no-new-privileges`` (seccomp, apparmor, label ...)."""
    return any(not str(o).startswith("no-new-privileges") for o in options)


_NATIVE = _only(NATIVE)

ROWS: tuple[Row, ...] = (
    Row("container.resources.reservations.cpus", _only(SWARM),
        "only Swarm schedules by CPU reservation; use resources.cpu_shares (a relative CPU "
        "weight) on this runtime"),
    Row("container.volumes_from", _only(DOCKER, NATIVE),
        "Swarm tasks share no container's volumes: declare a named volume and mount it in "
        "each container that needs it"),
    Row("container.mode", _only(SWARM), _SCHEDULER, when=lambda v: v == "global",
        what='mode = "global"'),
    _swarm_only("container.endpoint_mode"),
    _swarm_only("container.placement"),
    _swarm_only("container.rollback"),
    *(_swarm_only(f"container.update.{key}") for key in (
        "parallelism", "delay", "failure_action", "monitor", "max_failure_ratio")),
    # what a Swarm service has no place for
    *(Row(f"container.{key}", _only(DOCKER, NATIVE), fix) for key, fix in (
        ("privileged", "a Swarm service cannot run privileged: add the capabilities it needs "
         "with cap_add"),
        ("devices", "a Swarm service cannot map host devices: run this container on the "
         "docker runtime"),
        ("security_opt", "a Swarm service takes no security options: remove security_opt"),
        ("pid", "a Swarm task has its own pid namespace: remove pid"),
        ("ipc", "a Swarm task has its own ipc namespace: remove ipc"),
        ("network_mode", "a Swarm task joins the project's overlay networks: remove "
         "network_mode (use networks = [...])"),
        ("mac_address", "Swarm gives each task its own MAC address: remove mac_address"),
        ("oom_score_adj", "a Swarm service takes no OOM score: remove oom_score_adj"),
        ("shm_size", "a Swarm service takes no /dev/shm size: mount a tmpfs volume at "
         "/dev/shm ({ type = \"tmpfs\", target = \"/dev/shm\", size = ... })"),
        ("tmpfs", "write tmpfs mounts as volumes = [{ type = \"tmpfs\", target = ..., "
         "size = ... }] for Swarm"),
        ("domainname", "a Swarm service takes no domain name: remove domainname"),
        ("expose", "a Swarm task's ports are reachable on its overlay networks without "
         "expose: remove it (or publish them with ports)"),
        ("container_name", "Swarm names its tasks <service>.<slot>.<id>: remove "
         "container_name"),
        ("resources.cpu_shares", "Swarm schedules by reservations: use "
         "resources.reservations.cpus"),
        ("resources.cpuset", "a Swarm service cannot pin CPUs: remove resources.cpuset"),
        ("resources.memory_swap", "a Swarm service takes no swap limit: remove "
         "resources.memory_swap"))),
    Row("container.network_mode", _only(DOCKER),
        "the native runtime has no default bridge: leave network_mode out (the container "
        "joins the project's network), or use --runtime docker",
        when=lambda mode: mode == "bridge", what='network_mode = "bridge"', about=_NATIVE),
    Row("container.logging", _only(DOCKER),
        "the native runtime keeps each container's output in a log file of its own (read it "
        "with `dockwright logs NAME`): remove logging (or keep driver = \"json-file\" "
        "without options), or use --runtime docker for a log driver",
        when=_log_driver, what="a log driver or log options", about=_NATIVE),
    Row("container.security_opt", _only(DOCKER),
        "the native runtime applies no seccomp, AppArmor or SELinux profile; only "
        "\"no-new-privileges\" is supported there: remove the others, or use --runtime "
        "docker", when=_profiles, what="a security option other than no-new-privileges",
        about=_NATIVE),
)


def _used(value: Any) -> bool:
    """Whether a key's value asks for something (empty, ``false`` and unset do not)."""
    if value is None or value is False:
        return False
    if isinstance(value, str | tuple | list | dict | frozenset | set):
        return bool(value)
    if isinstance(value, BaseModel):
        return any(_used(getattr(value, name)) for name in type(value).model_fields)
    return True


def _walk(value: Any, path: Sequence[str], at: KeyPath) -> Iterator[tuple[KeyPath, Any]]:
    """(key path as written, value) of every place ``path`` leads to below ``value``; a
    field the models do not have (yet) leads nowhere."""
    if not path:
        yield at, value
        return
    head, rest = path[0], path[1:]
    if head == "*":
        if isinstance(value, dict):
            for name, item in value.items():
                yield from _walk(item, rest, (*at, str(name)))
        return
    if isinstance(value, BaseModel):
        found = getattr(value, head, _MISSING)  # a field the models lack (yet): nowhere
        if found is not _MISSING:
            yield from _walk(found, rest, (*at, head))
    elif isinstance(value, dict) and head in value:
        yield from _walk(value[head], rest, (*at, head))


def _supported_by(row: Row) -> str:
    names = [name for name in RUNTIMES if name in row.runtimes]
    if not names:
        return "no runtime supports it yet"
    listed = " and ".join(names) if len(names) < 3 else ", ".join(names)
    return f"only {listed} {'supports' if len(names) == 1 else 'support'} it"


def unsupported(resource: Resource, runtime: str,
                rows: Sequence[Row] = ROWS) -> Iterator[tuple[KeyPath, Row]]:
    """(key path, row) of every key of ``resource`` that ``runtime`` does not support."""
    written = resource.spec.model_fields_set  # a key left out holds its (unused) default
    for row in rows:
        kind, *path = row.path
        if kind != resource.kind or path[0] not in written or not row.speaks_for(runtime):
            continue
        for at, value in _walk(resource.spec, path, (kind, resource.name)):
            if _used(value) and (row.when is None or row.when(value)):
                yield at, row


def _registry_errors(resources: Sequence[Resource], line_of: LineOf) -> Iterator[SpecError]:
    """Swarm nodes pull images by reference: one built or loaded here needs a registry."""
    for resource in resources:
        image = getattr(resource.spec, "image", None) if resource.kind == "container" else None
        source = "build" if getattr(image, "build", None) else \
            "archive" if getattr(image, "archive", None) else None
        if source is None:
            continue
        at = ("container", resource.name, "image")
        yield SpecError(resource.file, line_of(resource.file, at), format_path(at),
                        f"the image is {'built' if source == 'build' else 'loaded'} on this "
                        "host, and Swarm nodes pull images from a registry",
                        "name one every node reaches in [project] registry = \"host:port\" "
                        "(the image is pushed there)")


def check(resources: Sequence[Resource], runtime: str | None, line_of: LineOf,
          rows: Sequence[Row] = ROWS, registry: str | None = "") -> list[SpecError]:
    """A located error for every key of ``resources`` that ``runtime`` does not support;
    none when the runtime is not known here (None, or a test's fake). ``registry``: the
    ``[project] registry`` (None: not named; Swarm then refuses images built here)."""
    if runtime not in RUNTIMES:
        return []
    errors = list(_registry_errors(resources, line_of)) if runtime == SWARM and \
        registry is None else []
    rows = [row for row in rows if row.speaks_for(runtime)]
    for resource in resources:
        for at, row in unsupported(resource, runtime, rows):
            subject = f"{row.what} is" if row.what else ""
            message = (f"{subject} not supported by the {runtime} runtime "
                       f"({_supported_by(row)})").lstrip()
            errors.append(SpecError(resource.file, line_of(resource.file, at), format_path(at),
                                    message, row.fix))
    return errors
