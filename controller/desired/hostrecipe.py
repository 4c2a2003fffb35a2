"""Host-level container keys -> ``runtime.types.ContainerConfig`` fields (part of the recipe).

Role: the share of ``controller.desired.normalise`` that maps the keys of
``specs.hostmodels.HostKeys`` (capabilities, devices, DNS, ulimits, logging,
namespaces, ``expose``, ...) and the container's resources onto the value
types of ``runtime.types``, in their canonical forms: ``extra_hosts``,
``sysctls``, ``log_options`` and ``tmpfs`` as sorted pairs, ulimits sorted by
name, a device's container path filled in, ``expose`` without the ports that
``ports`` publishes (the runtime reports those as published), memory + swap
equal to what the runtime sets by itself (twice the memory) left unset, and
``container:NAME`` modes naming the runtime name of NAME's first replica
(``instance``). :func:`asked_label` records which settings the spec gave where
the daemon has defaults of its own (an IPC mode, a ``/dev/shm`` size, log
options), so that taking one out is a change (``controller.planning.hostrules``).
:func:`mode_targets` says which containers such modes join,
for the ordering of creation (they act as ``depends_on = "started"``).
Pure. Neighbours: ``controller.desired.normalise`` (the caller),
``specs.hostmodels``, ``runtime.types``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from controller.desired.naming import LABEL_ASKED
from runtime.types import DeviceSpec, ResourceSpec, UlimitSpec, pairs
from specs.hostmodels import Resources, container_target
from specs.models import Container


def mode_targets(spec: Container) -> tuple[str, ...]:
    """Containers whose namespaces ``network_mode``, ``pid`` or ``ipc`` join."""
    found = (container_target(m) for m in (spec.network_mode, spec.pid, spec.ipc))
    return tuple(dict.fromkeys(t for t in found if t is not None))


def _mode(value: str | None, instance: Callable[[str], str]) -> str | None:
    target = container_target(value)
    return value if target is None else f"container:{instance(target)}"


def _tmpfs(items: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    out: dict[str, str] = {}
    for item in items:
        path, _, options = item.partition(":")
        out[path] = options.strip()
    return pairs(out)


def host_fields(spec: Container, instance: Callable[[str], str]) -> dict[str, Any]:
    """The ``ContainerConfig`` fields of a container's host-level keys (``instance``: a
    declared container's runtime name, its first replica's)."""
    published = {f"{p.container}/{p.protocol}" for p in spec.ports}
    log = spec.logging
    return {
        "init": spec.init,
        "cap_add": spec.cap_add,
        "cap_drop": spec.cap_drop,
        "privileged": spec.privileged,
        "devices": tuple(DeviceSpec(d.host, d.container or d.host, d.permissions)
                         for d in spec.devices),
        "extra_hosts": pairs(dict(spec.extra_hosts)),
        "dns": spec.dns,
        "dns_search": spec.dns_search,
        "dns_opt": spec.dns_opt,
        "ulimits": tuple(UlimitSpec(name, u.soft, u.hard)
                         for name, u in sorted(spec.ulimits.items())),
        "sysctls": pairs(dict(spec.sysctls)),
        "log_driver": log.driver if log else None,
        "log_options": pairs(dict(log.options)) if log else (),
        "security_opt": spec.security_opt,
        "read_only": spec.read_only,
        "shm_size": spec.shm_size,
        "tmpfs": _tmpfs(spec.tmpfs),
        "group_add": spec.group_add,
        "network_mode": _mode(spec.network_mode, instance),
        "pid_mode": _mode(spec.pid, instance),
        "ipc_mode": _mode(spec.ipc, instance),
        "expose": tuple(p for p in spec.expose if p not in published),
        "domainname": spec.domainname,
        "mac_address": spec.mac_address,
        "oom_score_adj": spec.oom_score_adj,
    }


def asked_label(fields: dict[str, Any]) -> dict[str, str]:
    """``LABEL_ASKED`` for host-level ``fields``: the settings the spec gives where the
    daemon would fill in a default of its own (none: no label, no change to any hash)."""
    asked = [name for name in ("ipc_mode", "shm_size") if fields[name] is not None]
    asked += [f"log_options.{key}" for key, _ in fields["log_options"]]
    return {LABEL_ASKED: ",".join(sorted(asked))} if asked else {}


def _pick(name: str, own: Resources, default: Resources | None) -> Any:
    value = getattr(own, name)
    return getattr(default, name) if value is None and default is not None else value


def resources(own: Resources, default: Resources | None) -> ResourceSpec:
    """The limits of a container: its own, else the project's defaults, per field."""
    memory = _pick("memory", own, default)
    swap = _pick("memory_swap", own, default)
    reservations = own.reservations or (default.reservations if default else None)
    return ResourceSpec(
        memory=memory, cpus=_pick("cpus", own, default), pids=_pick("pids", own, default),
        # the runtime's own memory + swap for a memory limit is twice it: unset
        memory_swap=None if memory and swap == 2 * memory else swap,
        cpu_shares=_pick("cpu_shares", own, default), cpuset=_pick("cpuset", own, default),
        memory_reservation=reservations.memory if reservations else None)
