"""Translate between ``runtime.types`` values and Docker Engine API JSON.

Role: pure functions, no I/O. :func:`create_body` turns a ``ContainerConfig``
into the body of ``POST /containers/create`` (the raw API form, so every field
is explicit: durations in ns, ``StopTimeout``, ``Mounts``/``Binds``);
:func:`container_info` turns ``GET /containers/{id}/json`` back into a
``ContainerInfo`` whose ``config`` is rebuilt from the live object, exactly as
Docker reports it, so the controller can field-diff it against the desired
config (after folding in the image defaults that ``images.from_api`` reports).
Neighbours: ``runtime.docker.driver`` (calls these), ``runtime.docker.mounts``,
``runtime.types``.

Canonical forms of the reported config (the controller normalises the desired
side the same way): ``env``/``labels`` sorted pairs including what Docker
merged in from the image; ``ports`` sorted by (port, protocol, ip, host port)
from ``HostConfig.PortBindings``; ``mounts`` sorted by target; ``networks``
sorted by name with sorted aliases, minus the short container id and the
container's hostname, which Docker adds to every user-defined network;
``networks == ()`` when the container is on Docker's default network or has a
``network_mode`` (host, none, bridge, container:); empty
strings and zero limits are ``None``, and so is a memory + swap limit that is
Docker's own for the memory limit; a hostname equal to the short id is
``None``. Mounts (``config.mounts``, ``anonymous_volumes``) are converted
by ``runtime.docker.mounts``; secrets and configs (``config.files``) are read-only
bind mounts named by a label (``runtime.filemounts``); the host-level fields
(capabilities, DNS, ulimits, logging, namespaces, ...) by ``runtime.docker.hostconfig``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from runtime import filemounts
from runtime.docker import hostconfig
from runtime.docker.mounts import anonymous, configured, mount_fields
from runtime.types import (
    ContainerConfig,
    ContainerInfo,
    ContainerSummary,
    Health,
    HealthSpec,
    NetworkAttach,
    NetworkInfo,
    Pairs,
    PortBinding,
    ResourceSpec,
    RestartSpec,
    State,
    VolumeInfo,
    pairs,
)

JSON = dict[str, Any]
NS = 1_000_000_000


# -- ContainerConfig -> API -------------------------------------------------
def _ns(seconds: float | None) -> int:
    return 0 if seconds is None else round(seconds * NS)


def _port_key(port: PortBinding) -> str:
    return f"{port.container_port}/{port.protocol}"


def label_filters(labels: Mapping[str, str] | None) -> dict[str, list[str]]:
    """The ``filters`` argument selecting objects that carry every label."""
    if not labels:
        return {}
    return {"label": [f"{key}={value}" for key, value in sorted(labels.items())]}


def create_body(config: ContainerConfig) -> JSON:
    """The ``POST /containers/create`` body; networks after the first are connected later."""
    config = filemounts.labelled(config)
    bindings: dict[str, list[JSON]] = {}
    for port in config.ports:
        host_port = "" if port.host_port is None else str(port.host_port)
        bindings.setdefault(_port_key(port), []).append(
            {"HostIp": port.host_ip, "HostPort": host_port}
        )
    mounts, binds, tmpfs = mount_fields(config.mounts)
    # secrets and configs: Mounts (not Binds), so that a missing copy is an error, never
    # a directory Docker makes in its place
    mounts += [{"Type": "bind", "Source": f.source, "Target": f.target, "ReadOnly": True}
               for f in config.files]
    host: JSON = {
        "PortBindings": bindings,
        "Mounts": mounts,
        "Binds": binds,
        "Tmpfs": tmpfs,
        "VolumesFrom": [f"{name}:{'ro' if ro else 'rw'}" for name, ro in config.volumes_from],
        "RestartPolicy": {
            "Name": "" if config.restart.name == "no" else config.restart.name,
            "MaximumRetryCount": config.restart.max_retries,
        },
    }
    res = config.resources
    if res.memory:
        host["Memory"] = res.memory
    if res.cpus:
        host["NanoCpus"] = round(res.cpus * NS)
    if res.pids:
        host["PidsLimit"] = res.pids
    body: JSON = {
        "Image": config.image,
        "Env": [f"{key}={value}" for key, value in config.env],
        "Labels": dict(config.labels),
        "ExposedPorts": {key: {} for key in bindings},
        "OpenStdin": config.stdin_open,
        "StdinOnce": False,
        "AttachStdin": False,
        "AttachStdout": False,
        "AttachStderr": False,
        "Tty": config.tty,
        "HostConfig": host,
    }
    if config.command is not None:
        body["Cmd"] = list(config.command)
    if config.entrypoint is not None:
        body["Entrypoint"] = list(config.entrypoint) or [""]
    for key, value in (
        ("WorkingDir", config.workdir),
        ("User", config.user),
        ("Hostname", config.hostname),
        ("StopSignal", config.stop_signal),
    ):
        if value:
            body[key] = value
    if config.stop_timeout is not None:
        body["StopTimeout"] = math.ceil(config.stop_timeout)
    if config.healthcheck is not None:
        hc = config.healthcheck
        body["Healthcheck"] = {
            "Test": list(hc.test),
            "Interval": _ns(hc.interval),
            "Timeout": _ns(hc.timeout),
            "Retries": hc.retries or 0,
            "StartPeriod": _ns(hc.start_period),
        }
    if config.networks:
        first = config.networks[0]
        host["NetworkMode"] = first.network
        body["NetworkingConfig"] = {
            "EndpointsConfig": {first.network: {"Aliases": list(first.aliases)}}
        }
    hostconfig.add_to_body(config, body)
    return body


# -- API -> values ----------------------------------------------------------
def _state(text: str | None) -> State:
    try:
        return State(text or "created")
    except ValueError:
        return State.DEAD


def _health(text: str | None) -> Health:
    try:
        return Health(text or "none")
    except ValueError:
        return Health.NONE


def _env_pairs(env: list[str] | None) -> Pairs:
    return tuple(sorted(env_list(env)))


def env_list(env: list[str] | None) -> Pairs:
    return tuple((k, v) for k, _, v in (item.partition("=") for item in env or []))


def _seconds(ns: int | None) -> float | None:
    return ns / NS if ns else None


def opt_tuple(value: list[str] | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


def _time(raw: str | None) -> str:
    """Docker's timestamp; "" for its zero time (never started)."""
    return "" if not raw or raw.startswith("0001-") else raw


def _name(raw: str) -> str:
    return raw[1:] if raw.startswith("/") else raw


def container_summary(row: JSON) -> ContainerSummary:
    """One row of ``GET /containers/json`` (no inspect)."""
    names = [_name(n) for n in row.get("Names") or []]
    plain = [n for n in names if "/" not in n]
    status = row.get("Status") or ""
    state = _state(row.get("State"))
    health = Health.NONE
    if "(healthy)" in status:
        health = Health.HEALTHY
    elif "(unhealthy)" in status:
        health = Health.UNHEALTHY
    elif "(health: starting)" in status:
        health = Health.STARTING
    exit_code = None
    if state in (State.EXITED, State.DEAD) and status.startswith("Exited ("):
        code = status[len("Exited (") :].partition(")")[0]
        exit_code = int(code) if code.lstrip("-").isdigit() else None
    return ContainerSummary(
        id=row["Id"],
        name=(plain or names or [""])[0],
        image_id=row.get("ImageID") or "",
        state=state,
        labels=pairs(row.get("Labels")),
        health=health,
        exit_code=exit_code,
    )


def healthcheck(raw: JSON | None) -> HealthSpec | None:
    if not raw or not raw.get("Test"):
        return None
    return HealthSpec(
        test=tuple(raw["Test"]),
        interval=_seconds(raw.get("Interval")),
        timeout=_seconds(raw.get("Timeout")),
        retries=raw.get("Retries") or None,
        start_period=_seconds(raw.get("StartPeriod")),
    )


def _ports(bindings: Mapping[str, list[JSON] | None] | None) -> tuple[PortBinding, ...]:
    out = []
    for key, hosts in (bindings or {}).items():
        port, _, proto = key.partition("/")
        for host in hosts or [{}]:
            hp = host.get("HostPort") or ""
            out.append(
                PortBinding(
                    container_port=int(port),
                    protocol=proto or "tcp",
                    host_ip=host.get("HostIp") or "",
                    host_port=int(hp) if hp.isdigit() else None,
                )
            )
    return tuple(
        sorted(out, key=lambda p: (p.container_port, p.protocol, p.host_ip, p.host_port or 0))
    )


def _networks(data: JSON) -> tuple[NetworkAttach, ...]:
    mode = data["HostConfig"].get("NetworkMode") or "default"
    if mode == "default" or hostconfig.network_mode(data["HostConfig"], str) is not None:
        return ()  # Docker's default network, or network_mode host/none/bridge/container:
    # Docker adds the short id and the hostname as aliases on user-defined networks.
    added = {data["Id"][:12], (data.get("Config") or {}).get("Hostname") or ""}
    attached = (data.get("NetworkSettings") or {}).get("Networks") or {}
    return tuple(
        NetworkAttach(
            network=name,
            aliases=tuple(sorted({a for a in (ep or {}).get("Aliases") or [] if a not in added})),
        )
        for name, ep in sorted(attached.items())
    )


def _volumes_from(raw: list[str] | None) -> tuple[tuple[str, bool], ...]:
    out = []
    for item in raw or []:
        name, _, mode = item.partition(":")
        out.append((name, mode == "ro"))
    return tuple(out)


def _always() -> bool:
    return True


def resources(host: JSON, swap_limit: Callable[[], bool] = _always) -> ResourceSpec:
    """The limits of a container's ``HostConfig``. ``memory_swap`` is kept only when it is
    not what Docker sets for the memory limit by itself: twice the memory, or -1 on a
    host without swap accounting (``swap_limit()`` says whether the host has it; asked
    only then)."""
    memory = host.get("Memory") or 0
    swap = host.get("MemorySwap") or 0
    default = not memory or swap in (0, 2 * memory) or (swap == -1 and not swap_limit())
    return ResourceSpec(
        memory=memory or None,
        cpus=(host.get("NanoCpus") or 0) / NS or None,
        pids=host.get("PidsLimit") if (host.get("PidsLimit") or 0) > 0 else None,
        memory_swap=None if default else swap,
        cpu_shares=host.get("CpuShares") or None,
        cpuset=host.get("CpusetCpus") or None,
        memory_reservation=host.get("MemoryReservation") or None,
    )


def _json_file() -> str:
    return hostconfig.JSON_FILE


def container_info(data: JSON, swap_limit: Callable[[], bool] = _always,
                   resolve: Callable[[str], str] = str,
                   log_default: Callable[[], str] = _json_file) -> ContainerInfo:
    """An inspected container, its config rebuilt from the live object (``swap_limit``:
    see :func:`resources`; ``resolve``: a container id to its name, for ``container:``
    modes; ``log_default``: the daemon's default log driver, asked only when needed)."""
    cfg = data.get("Config") or {}
    host = data.get("HostConfig") or {}
    state = data.get("State") or {}
    status = _state(state.get("Status"))
    name = _name(data.get("Name") or "")
    restart = host.get("RestartPolicy") or {}
    hostname = cfg.get("Hostname") or None
    if hostname == data["Id"][:12]:
        hostname = None
    summary = ContainerSummary(
        id=data["Id"],
        name=name,
        image_id=data.get("Image") or "",
        state=status,
        labels=pairs(cfg.get("Labels")),
        health=_health((state.get("Health") or {}).get("Status")),
        exit_code=state.get("ExitCode") if status in (State.EXITED, State.DEAD) else None,
    )
    stop_timeout = cfg.get("StopTimeout")
    files, mounts = filemounts.split(summary.labels, configured(host))
    host_fields, log_driver = hostconfig.fields(data, resolve, log_default)
    config = ContainerConfig(
        name=name,
        image=cfg.get("Image") or "",
        command=opt_tuple(cfg.get("Cmd")),
        entrypoint=opt_tuple(cfg.get("Entrypoint")),
        env=_env_pairs(cfg.get("Env")),
        workdir=cfg.get("WorkingDir") or None,
        user=cfg.get("User") or None,
        hostname=hostname,
        labels=summary.labels,
        ports=_ports(host.get("PortBindings")),
        mounts=mounts,
        volumes_from=_volumes_from(host.get("VolumesFrom")),
        networks=_networks(data),
        restart=RestartSpec(
            name=restart.get("Name") or "no", max_retries=restart.get("MaximumRetryCount") or 0
        ),
        healthcheck=healthcheck(cfg.get("Healthcheck")),
        resources=resources(host, swap_limit),
        stdin_open=bool(cfg.get("OpenStdin")),
        tty=bool(cfg.get("Tty")),
        stop_signal=cfg.get("StopSignal") or None,
        stop_timeout=None if stop_timeout is None else float(stop_timeout),
        files=files,
        **host_fields,
    )
    settings = data.get("NetworkSettings") or {}
    ips = tuple(
        (net, ep["IPAddress"])
        for net, ep in sorted((settings.get("Networks") or {}).items())
        if ep and ep.get("IPAddress")
    )
    return ContainerInfo(
        summary=summary,
        config=config,
        image_ref=cfg.get("Image") or "",
        restart_count=data.get("RestartCount") or 0,
        started_at=_time(state.get("StartedAt")),
        ip_addresses=ips,
        host_ports=_ports(settings.get("Ports")),
        network_ids=tuple((net, (ep or {}).get("NetworkID") or "")
                          for net, ep in sorted((settings.get("Networks") or {}).items())),
        anonymous_volumes=anonymous(data),
        log_default=log_driver,
    )


def volume_info(data: JSON) -> VolumeInfo:
    return VolumeInfo(
        name=data["Name"],
        driver=data.get("Driver") or "local",
        labels=pairs(data.get("Labels")),
        mountpoint=data.get("Mountpoint") or "",
    )


def network_info(data: JSON) -> NetworkInfo:
    configs = (data.get("IPAM") or {}).get("Config") or []
    subnet = next((c["Subnet"] for c in configs if c.get("Subnet")), None)
    return NetworkInfo(
        id=data["Id"],
        name=data["Name"],
        driver=data.get("Driver") or "bridge",
        internal=bool(data.get("Internal")),
        subnet=subnet,
        labels=pairs(data.get("Labels")),
    )
