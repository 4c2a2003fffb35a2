"""Service values <-> the Engine API's ``ServiceSpec`` JSON, the live side normalised.

Role: :func:`to_api` turns a desired :class:`~runtime.swarm.spec.ServiceSpec`
into the JSON of ``POST /services/create`` and ``/update`` (durations in
nanoseconds, CPUs in nano-CPUs, env as ``K=V`` in sorted order, networks,
secrets and configs by the ids the caller resolved). :func:`from_api` reads a
live ``ServiceSpec`` (fetched with ``insertDefaults=true``) back into the same
type, normalised so that a service created from a spec compares equal to it:
server defaults (restart any/5 s, stop grace 10 s, update and rollback
parallelism 1/pause/5 s/stop-first, endpoint mode vip) filled in where absent,
network ids mapped to names, the image reference canonical (``busybox`` ->
``busybox:latest``, a ``@sha256:`` pin a client added dropped), empty strings
as ``None``. Pure. Neighbours: ``runtime.swarm.spec``, ``runtime.swarm.driver``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runtime.swarm.spec import (
    RESTART_DELAY,
    STOP_GRACE,
    UPDATE_MONITOR,
    FileRef,
    Placement,
    Resources,
    RestartPolicy,
    ServicePort,
    ServiceSpec,
    UpdatePolicy,
)
from runtime.types import HealthSpec, MountSpec, NetworkAttach, UlimitSpec, pairs

NS = 1_000_000_000


def canonical_image(ref: str) -> str:
    """``busybox`` -> ``busybox:latest``; ``x:1@sha256:...`` -> ``x:1`` (a pin is a client's
    addition, never the spec's: comparing with it would flip-flop)."""
    name, at, _pin = ref.partition("@")
    last = name.rsplit("/", 1)[-1]
    if at and ":" in last:
        return name
    if at:  # a digest only: keep it, it is the reference
        return ref
    return name if ":" in last else f"{name}:latest"


def _ns(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * NS)


def _s(nanos: Any, default: float | None = None) -> float | None:
    return default if not nanos else nanos / NS


def _health_api(h: HealthSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"Test": list(h.test)}
    for key, api in (("interval", "Interval"), ("timeout", "Timeout"),
                     ("start_period", "StartPeriod")):
        value = getattr(h, key)
        if value:
            out[api] = _ns(value)
    if h.retries:
        out["Retries"] = h.retries
    return out


def _mount_api(m: MountSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"Type": m.type, "Target": m.target}
    if m.source:
        out["Source"] = m.source
    if m.read_only:
        out["ReadOnly"] = True
    if m.size:
        out["TmpfsOptions"] = {"SizeBytes": m.size}
    return out


def _policy_api(p: UpdatePolicy) -> dict[str, Any]:
    return {"Parallelism": p.parallelism, "Delay": _ns(p.delay),
            "FailureAction": p.failure_action, "Monitor": _ns(p.monitor),
            "MaxFailureRatio": p.max_failure_ratio, "Order": p.order}


def _file_api(f: FileRef, ids: Mapping[str, str]) -> dict[str, Any]:
    key = "Secret" if f.kind == "secret" else "Config"
    return {"File": {"Name": f.target, "UID": f.uid, "GID": f.gid, "Mode": f.mode},
            f"{key}ID": ids.get(f.name, f.name), f"{key}Name": f.name}


def _cap(name: str) -> str:
    return name if name == "ALL" else f"CAP_{name}"


def _host_keys_api(spec: ServiceSpec, c: dict[str, Any]) -> None:
    """The host-level keys of the container spec (only those set)."""
    if spec.init is not None:
        c["Init"] = spec.init
    if spec.cap_add:
        c["CapabilityAdd"] = [_cap(n) for n in spec.cap_add]
    if spec.cap_drop:
        c["CapabilityDrop"] = [_cap(n) for n in spec.cap_drop]
    if spec.sysctls:
        c["Sysctls"] = dict(spec.sysctls)
    if spec.read_only:
        c["ReadOnly"] = True
    if spec.extra_hosts:
        c["Hosts"] = [f"{ip} {host}" for host, ip in spec.extra_hosts]
    dns = {k: list(v) for k, v in (("Nameservers", spec.dns), ("Search", spec.dns_search),
                                   ("Options", spec.dns_opt)) if v}
    if dns:
        c["DNSConfig"] = dns
    if spec.group_add:
        c["Groups"] = list(spec.group_add)
    if spec.ulimits:
        c["Ulimits"] = [{"Name": u.name, "Soft": u.soft, "Hard": u.hard} for u in spec.ulimits]


def to_api(spec: ServiceSpec, object_ids: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The API body of a service. ``object_ids``: secret/config name -> id (Swarm refers
    to them by id)."""
    ids = object_ids or {}
    c: dict[str, Any] = {"Image": spec.image, "Labels": dict(spec.container_labels)}
    if spec.command is not None:
        c["Args"] = list(spec.command)
    if spec.entrypoint is not None:
        c["Command"] = list(spec.entrypoint)
    if spec.env:
        c["Env"] = [f"{k}={v}" for k, v in sorted(spec.env)]
    for key, api in (("workdir", "Dir"), ("user", "User"), ("hostname", "Hostname"),
                     ("stop_signal", "StopSignal")):
        if getattr(spec, key):
            c[api] = getattr(spec, key)
    if spec.tty:
        c["TTY"] = True
    if spec.stdin_open:
        c["OpenStdin"] = True
    c["StopGracePeriod"] = _ns(spec.stop_grace)
    if spec.healthcheck is not None:
        c["Healthcheck"] = _health_api(spec.healthcheck)
    if spec.mounts:
        c["Mounts"] = [_mount_api(m) for m in sorted(spec.mounts, key=lambda m: m.target)]
    secrets = [_file_api(f, ids) for f in spec.files if f.kind == "secret"]
    configs = [_file_api(f, ids) for f in spec.files if f.kind == "config"]
    if secrets:
        c["Secrets"] = secrets
    if configs:
        c["Configs"] = configs
    _host_keys_api(spec, c)
    r = spec.resources
    limits = {k: v for k, v in (("MemoryBytes", r.memory),
                                ("NanoCPUs", None if r.cpus is None else int(r.cpus * NS)),
                                ("Pids", r.pids)) if v}
    reserve = {k: v for k, v in (("MemoryBytes", r.reserve_memory),
                                 ("NanoCPUs", None if r.reserve_cpus is None
                                  else int(r.reserve_cpus * NS))) if v}
    p = spec.placement
    placement: dict[str, Any] = {}
    if p.constraints:
        placement["Constraints"] = list(p.constraints)
    if p.preferences:
        placement["Preferences"] = [{"Spread": {"SpreadDescriptor": pref.partition("=")[2]}}
                                    for pref in p.preferences]
    if p.max_per_node:
        placement["MaxReplicas"] = p.max_per_node
    task = {
        "ContainerSpec": c,
        "Resources": {"Limits": limits, "Reservations": reserve},
        "RestartPolicy": {"Condition": spec.restart.condition,
                          "Delay": _ns(spec.restart.delay),
                          "MaxAttempts": spec.restart.max_attempts,
                          "Window": _ns(spec.restart.window)},
        "Placement": placement,
        "Networks": [{"Target": n.network, "Aliases": sorted(n.aliases)}
                     for n in sorted(spec.networks, key=lambda n: n.network)],
        "ForceUpdate": spec.force_update,
    }
    mode: dict[str, Any] = {"Global": {}} if spec.mode == "global" else {
        "Replicated": {"Replicas": spec.replicas}}
    endpoint: dict[str, Any] = {"Mode": spec.endpoint_mode}
    if spec.ports:
        endpoint["Ports"] = [
            {"Protocol": pt.protocol, "TargetPort": pt.target, "PublishMode": pt.mode,
             **({"PublishedPort": pt.published} if pt.published else {})}
            for pt in sorted(spec.ports, key=lambda pt: (pt.target, pt.protocol))]
    if spec.log_driver or spec.log_options:
        task["LogDriver"] = {"Name": spec.log_driver or "json-file",
                             "Options": dict(spec.log_options)}
    return {"Name": spec.name, "Labels": dict(spec.labels), "TaskTemplate": task,
            "Mode": mode, "UpdateConfig": _policy_api(spec.update),
            "RollbackConfig": _policy_api(spec.rollback), "EndpointSpec": endpoint}


def _text(value: Any) -> str | None:
    return str(value) if value else None


def _args(value: Any) -> tuple[str, ...] | None:
    return tuple(value) if value else None


def _health(h: Any) -> HealthSpec | None:
    if not h or not h.get("Test"):
        return None
    return HealthSpec(tuple(h["Test"]), _s(h.get("Interval")), _s(h.get("Timeout")),
                      h.get("Retries") or None, _s(h.get("StartPeriod")))


def _mount(m: Mapping[str, Any]) -> MountSpec:
    size = (m.get("TmpfsOptions") or {}).get("SizeBytes")
    return MountSpec(m.get("Type", "volume"), m["Target"], m.get("Source") or None,
                     bool(m.get("ReadOnly")), size or None)


def _files(kind: str, items: Any) -> list[FileRef]:
    key = "SecretName" if kind == "secret" else "ConfigName"
    out = []
    for item in items or ():
        f = item.get("File") or {}
        out.append(FileRef(kind, item.get(key, ""), f.get("Name", ""), str(f.get("UID", "0")),
                           str(f.get("GID", "0")), int(f.get("Mode", 0o444))))
    return out


def _policy(p: Any) -> UpdatePolicy:
    p = p or {}
    return UpdatePolicy(p.get("Parallelism", 1) if "Parallelism" in p else 1,
                        _s(p.get("Delay"), 0.0) or 0.0, p.get("FailureAction") or "pause",
                        _s(p.get("Monitor"), UPDATE_MONITOR) or UPDATE_MONITOR,
                        float(p.get("MaxFailureRatio") or 0.0), p.get("Order") or "stop-first")


def _port(p: Mapping[str, Any]) -> ServicePort:
    return ServicePort(int(p["TargetPort"]), p.get("PublishedPort") or None,
                       p.get("Protocol") or "tcp", p.get("PublishMode") or "ingress")


def _caps(value: Any) -> tuple[str, ...]:
    return tuple(sorted(str(v).upper().removeprefix("CAP_") for v in value or ()))


def _host(line: str) -> tuple[str, str]:
    """``"10.0.0.5 db.local"`` (or the CLI's ``"db.local:10.0.0.5"``) as (host, ip)."""
    parts = line.split()
    if len(parts) >= 2:
        return parts[1], parts[0]
    host, _, ip = line.partition(":")
    return host, ip


def from_api(spec: Mapping[str, Any], network_names: Mapping[str, str]) -> ServiceSpec:
    """The live ``Spec`` of a service, normalised; ``network_names``: network id -> name."""
    task = spec.get("TaskTemplate") or {}
    c = task.get("ContainerSpec") or {}
    r = task.get("Resources") or {}
    limits, reserve = r.get("Limits") or {}, r.get("Reservations") or {}
    rp = task.get("RestartPolicy") or {}
    pl = task.get("Placement") or {}
    mode = spec.get("Mode") or {}
    endpoint = spec.get("EndpointSpec") or {}
    env = dict(item.partition("=")[::2] for item in c.get("Env") or ())
    dnsc = c.get("DNSConfig") or {}
    prefs = tuple(f"spread={(p.get('Spread') or {}).get('SpreadDescriptor', '')}"
                  for p in pl.get("Preferences") or ())
    nets = tuple(sorted((NetworkAttach(network_names.get(n["Target"], n["Target"]),
                                       tuple(sorted(n.get("Aliases") or ())))
                         for n in task.get("Networks") or spec.get("Networks") or ()),
                        key=lambda n: n.network))
    return ServiceSpec(
        name=spec.get("Name", ""), image=canonical_image(c.get("Image", "")),
        labels=pairs(spec.get("Labels")), container_labels=pairs(c.get("Labels")),
        command=_args(c.get("Args")), entrypoint=_args(c.get("Command")), env=pairs(env),
        workdir=_text(c.get("Dir")), user=_text(c.get("User")),
        hostname=_text(c.get("Hostname")), tty=bool(c.get("TTY")),
        stdin_open=bool(c.get("OpenStdin")), stop_signal=_text(c.get("StopSignal")),
        stop_grace=_s(c.get("StopGracePeriod"), STOP_GRACE) or STOP_GRACE,
        healthcheck=_health(c.get("Healthcheck")),
        mounts=tuple(sorted((_mount(m) for m in c.get("Mounts") or ()),
                            key=lambda m: m.target)),
        files=tuple(sorted(_files("secret", c.get("Secrets")) + _files("config",
                           c.get("Configs")), key=lambda f: (f.kind, f.target))),
        networks=nets,
        restart=RestartPolicy(rp.get("Condition") or "any",
                              _s(rp.get("Delay"), RESTART_DELAY) or 0.0,
                              int(rp.get("MaxAttempts") or 0), _s(rp.get("Window"), 0.0) or 0.0),
        resources=Resources(limits.get("MemoryBytes") or None,
                            (limits.get("NanoCPUs") or 0) / NS or None,
                            limits.get("Pids") or None, reserve.get("MemoryBytes") or None,
                            (reserve.get("NanoCPUs") or 0) / NS or None),
        placement=Placement(tuple(pl.get("Constraints") or ()), prefs,
                            int(pl.get("MaxReplicas") or 0)),
        mode="global" if "Global" in mode else "replicated",
        replicas=int((mode.get("Replicated") or {}).get("Replicas", 1)) if "Global" not in mode
        else 0,
        update=_policy(spec.get("UpdateConfig")), rollback=_policy(spec.get("RollbackConfig")),
        endpoint_mode=endpoint.get("Mode") or "vip",
        ports=tuple(sorted((_port(p) for p in endpoint.get("Ports") or ()),
                           key=lambda p: (p.target, p.protocol))),
        force_update=int(task.get("ForceUpdate") or 0),
        init=c.get("Init") if c.get("Init") else None,
        cap_add=_caps(c.get("CapabilityAdd")), cap_drop=_caps(c.get("CapabilityDrop")),
        sysctls=pairs(c.get("Sysctls")), read_only=bool(c.get("ReadOnly")),
        extra_hosts=tuple(sorted(_host(h) for h in c.get("Hosts") or ())),
        dns=tuple(dnsc.get("Nameservers") or ()), dns_search=tuple(dnsc.get("Search") or ()),
        dns_opt=tuple(dnsc.get("Options") or ()), group_add=tuple(c.get("Groups") or ()),
        ulimits=tuple(sorted((UlimitSpec(u["Name"], int(u["Soft"]), int(u["Hard"]))
                              for u in c.get("Ulimits") or ()), key=lambda u: u.name)),
        log_driver=(task.get("LogDriver") or {}).get("Name") or None,
        log_options=pairs((task.get("LogDriver") or {}).get("Options")))


def canonical(spec: ServiceSpec) -> ServiceSpec:
    """``spec`` with every collection in the order :func:`from_api` reports it (a desired
    spec built in any order compares and hashes like the live one)."""
    from dataclasses import replace

    return replace(
        spec, image=canonical_image(spec.image), labels=tuple(sorted(spec.labels)),
        container_labels=tuple(sorted(spec.container_labels)), env=tuple(sorted(spec.env)),
        mounts=tuple(sorted(spec.mounts, key=lambda m: m.target)),
        files=tuple(sorted(spec.files, key=lambda f: (f.kind, f.target))),
        networks=tuple(sorted((NetworkAttach(n.network, tuple(sorted(n.aliases)))
                               for n in spec.networks), key=lambda n: n.network)),
        ports=tuple(sorted(spec.ports, key=lambda p: (p.target, p.protocol))),
        replicas=0 if spec.mode == "global" else spec.replicas,
        init=spec.init or None, cap_add=tuple(sorted(spec.cap_add)),
        cap_drop=tuple(sorted(spec.cap_drop)), sysctls=tuple(sorted(spec.sysctls)),
        extra_hosts=tuple(sorted(spec.extra_hosts)),
        ulimits=tuple(sorted(spec.ulimits, key=lambda u: u.name)),
        log_options=tuple(sorted(spec.log_options)),
        # what is sent: options without a driver go with json-file; a zero monitor is
        # Swarm's default (it keeps none)
        log_driver=spec.log_driver or ("json-file" if spec.log_options else None),
        update=_monitored(spec.update), rollback=_monitored(spec.rollback))


def _monitored(policy: UpdatePolicy) -> UpdatePolicy:
    from dataclasses import replace

    return policy if policy.monitor else replace(policy, monitor=UPDATE_MONITOR)
