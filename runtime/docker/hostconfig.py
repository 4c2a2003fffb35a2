"""Host-level container settings between ``runtime.types`` and Docker Engine API JSON.

Role: pure functions, no I/O, split out of ``runtime.docker.convert`` (which
calls them). :func:`add_to_body` writes a config's host-level fields
(capabilities, devices, DNS, ulimits, logging, namespaces, ``expose``, the
CPU weight and set, memory + swap and reservation, ...) into a
``POST /containers/create`` body; :func:`fields` reads them back from an
inspect in the canonical form of ``runtime.types.ContainerConfig``:
capabilities upper case without ``CAP_`` and sorted (Docker keeps them as
sent), ``ExtraHosts`` as sorted (host, ip) pairs, ``ExposedPorts`` minus the
published ports, ``HostConfig.Tmpfs`` entries that are not in the form of a
``volumes`` tmpfs mount (``runtime.docker.mounts.is_mount_form``), a
``container:<id>`` namespace mode with the id turned back into the
container's name (``resolve``), ``NetworkMode`` ``default`` or a network's
name as ``None``, zero and empty values as ``None``/``()``. Server defaults
(a 64 MiB ``/dev/shm``, the IPC mode ``private``, the default log driver)
are reported as Docker reports them; the controller's rule table knows them.
Neighbours: ``runtime.docker.convert``, ``runtime.docker.mounts``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from runtime.docker.mounts import is_mount_form
from runtime.types import ContainerConfig, DeviceSpec, Pairs, UlimitSpec, pairs

JSON = dict[str, Any]
CONTAINER_MODE = "container:"
JSON_FILE = "json-file"  # Docker's own default log driver
NETWORK_MODES = ("host", "none", "bridge")


def add_to_body(config: ContainerConfig, body: JSON) -> None:
    """The host-level fields of ``config`` into a create body (``HostConfig`` inside)."""
    host: JSON = body["HostConfig"]
    if config.init is not None:
        host["Init"] = config.init
    lists = (("CapAdd", config.cap_add), ("CapDrop", config.cap_drop), ("Dns", config.dns),
             ("DnsSearch", config.dns_search), ("DnsOptions", config.dns_opt),
             ("SecurityOpt", config.security_opt), ("GroupAdd", config.group_add))
    for key, value in lists:
        if value:
            host[key] = list(value)
    if config.privileged:
        host["Privileged"] = True
    if config.devices:
        host["Devices"] = [{"PathOnHost": d.host, "PathInContainer": d.container,
                            "CgroupPermissions": d.permissions} for d in config.devices]
    if config.extra_hosts:
        host["ExtraHosts"] = [f"{name}:{ip}" for name, ip in config.extra_hosts]
    if config.ulimits:
        host["Ulimits"] = [{"Name": u.name, "Soft": u.soft, "Hard": u.hard}
                           for u in config.ulimits]
    if config.sysctls:
        host["Sysctls"] = dict(config.sysctls)
    if config.log_driver is not None or config.log_options:
        host["LogConfig"] = {"Type": config.log_driver or "",
                             "Config": dict(config.log_options)}
    if config.read_only:
        host["ReadonlyRootfs"] = True
    if config.shm_size is not None:
        host["ShmSize"] = config.shm_size
    if config.tmpfs:
        host["Tmpfs"] = {**(host.get("Tmpfs") or {}), **dict(config.tmpfs)}
    modes = (("NetworkMode", config.network_mode), ("PidMode", config.pid_mode),
             ("IpcMode", config.ipc_mode))
    for key, mode in modes:
        if mode is not None:
            host[key] = mode
    if config.network_mode is not None:
        body.pop("NetworkingConfig", None)
    if config.oom_score_adj is not None:
        host["OomScoreAdj"] = config.oom_score_adj
    res = config.resources
    limits: tuple[tuple[str, int | str | None], ...] = (
        ("CpuShares", res.cpu_shares), ("CpusetCpus", res.cpuset),
        ("MemorySwap", res.memory_swap), ("MemoryReservation", res.memory_reservation))
    for key, limit in limits:
        if limit is not None:
            host[key] = limit
    if config.expose:
        body["ExposedPorts"] = {**body.get("ExposedPorts", {}),
                                **{port: {} for port in config.expose}}
    if config.domainname:
        body["Domainname"] = config.domainname
    if config.mac_address:
        body["MacAddress"] = config.mac_address


def caps(value: list[str] | None) -> tuple[str, ...]:
    """Capabilities as the spec normalises them: upper case, no ``CAP_``, sorted."""
    return tuple(sorted({c.upper().removeprefix("CAP_") for c in value or ()}))


def _extra_hosts(value: list[str] | None) -> Pairs:
    out = []
    for item in value or ():
        name, _, ip = item.partition(":")
        out.append((name, ip))
    return tuple(sorted(out))


def _mode(value: str | None, resolve: Callable[[str], str]) -> str | None:
    if not value:
        return None
    if value.startswith(CONTAINER_MODE):
        return CONTAINER_MODE + resolve(value[len(CONTAINER_MODE):])
    return value


def network_mode(host: JSON, resolve: Callable[[str], str]) -> str | None:
    """``host``, ``none``, ``bridge`` or ``container:NAME``; None: the default network or
    user networks (``ContainerConfig.networks``)."""
    mode = host.get("NetworkMode") or ""
    if mode in NETWORK_MODES or mode.startswith(CONTAINER_MODE):
        return _mode(mode, resolve)
    return None


def _expose(cfg: JSON, host: JSON) -> tuple[str, ...]:
    published = set((host.get("PortBindings") or {}).keys())
    ports = [p if "/" in p else f"{p}/tcp" for p in (cfg.get("ExposedPorts") or {})
             if p not in published]
    return tuple(sorted(set(ports), key=lambda p: (int(p.partition("/")[0]), p)))


def _tmpfs(host: JSON) -> Pairs:
    return tuple(sorted((path, opts or "") for path, opts in (host.get("Tmpfs") or {}).items()
                        if not is_mount_form(opts or "")))


def _log_default(log_type: str | None, ask: Callable[[], str]) -> str:
    """The daemon's default log driver; asked (``docker info``) only for a container whose
    driver is not Docker's own default, ``json-file``."""
    return JSON_FILE if log_type in (None, JSON_FILE) else ask()


def fields(data: JSON, resolve: Callable[[str], str],
           log_default: Callable[[], str]) -> tuple[dict[str, Any], str]:
    """The host-level ``ContainerConfig`` fields of an inspect (``resources`` apart), and
    the daemon's default log driver. ``resolve``: container id -> its name."""
    cfg: JSON = data.get("Config") or {}
    host: JSON = data.get("HostConfig") or {}
    log: JSON = host.get("LogConfig") or {}
    log_type = log.get("Type") or None
    ulimits = sorted((UlimitSpec(u["Name"], int(u.get("Soft", 0)), int(u.get("Hard", 0)))
                      for u in host.get("Ulimits") or ()), key=lambda u: u.name)
    devices = tuple(DeviceSpec(d.get("PathOnHost") or "", d.get("PathInContainer") or "",
                               d.get("CgroupPermissions") or "rwm")
                    for d in host.get("Devices") or ())
    sysctls: Mapping[str, str] = host.get("Sysctls") or {}
    out: dict[str, Any] = {
        "init": host.get("Init"),
        "cap_add": caps(host.get("CapAdd")),
        "cap_drop": caps(host.get("CapDrop")),
        "privileged": bool(host.get("Privileged")),
        "devices": devices,
        "extra_hosts": _extra_hosts(host.get("ExtraHosts")),
        "dns": tuple(host.get("Dns") or ()),
        "dns_search": tuple(host.get("DnsSearch") or ()),
        "dns_opt": tuple(host.get("DnsOptions") or ()),
        "ulimits": tuple(ulimits),
        "sysctls": pairs(dict(sysctls)),
        "log_driver": log_type,
        "log_options": pairs(log.get("Config") or {}),
        "security_opt": tuple(host.get("SecurityOpt") or ()),
        "read_only": bool(host.get("ReadonlyRootfs")),
        "shm_size": host.get("ShmSize") or None,
        "tmpfs": _tmpfs(host),
        "group_add": tuple(host.get("GroupAdd") or ()),
        "network_mode": network_mode(host, resolve),
        "pid_mode": _mode(host.get("PidMode"), resolve),
        "ipc_mode": _mode(host.get("IpcMode"), resolve),
        "expose": _expose(cfg, host),
        "domainname": cfg.get("Domainname") or None,
        "mac_address": (cfg.get("MacAddress") or "").lower() or None,
        "oom_score_adj": host.get("OomScoreAdj") or None,
    }
    return out, _log_default(log_type, log_default)
