"""One compose service -> one ``[container.NAME]`` table.

Role: the key-by-key conversion of ``dockwright import``. :data:`DIRECT`
holds the keys that keep their name and form, :data:`RENAMED` those that only
change name, the functions below the rest (environment, healthcheck, restart,
resources from ``mem_limit``/``cpus``/``deploy``, depends_on conditions,
networks with compose's service-name alias, names). :data:`UNSUPPORTED` says
what to do instead for each key with no spec form; a key the running
dockwright's spec language lacks (``controller.compose.tables.supported``) is
unsupported too. Every problem is reported, located, through
:class:`Service.report`. Values are written as docker-compose 1.29 would
pass them to Docker. Neighbours:
``controller.compose.storage`` (mounts, ports, names), ``controller.compose.importer``
(calls :func:`service`). Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from controller.compose import storage
from controller.compose.source import Origins
from controller.compose.tables import Problem, Table, supported

DIRECT = ("command", "entrypoint", "user", "hostname", "domainname", "stdin_open", "tty",
          "privileged", "init", "read_only", "stop_signal", "mac_address", "oom_score_adj",
          "cap_add", "cap_drop", "devices", "dns", "dns_search", "dns_opt", "security_opt",
          "group_add", "shm_size", "tmpfs", "expose", "pid", "ipc")
RENAMED = {"working_dir": "workdir", "stop_grace_period": "stop_timeout",
           "container_name": "container_name", "scale": "replicas"}
LISTS = ("cap_add", "cap_drop", "dns", "dns_search", "dns_opt", "security_opt", "group_add",
         "tmpfs", "expose", "devices")
RESOURCE_KEYS = {"mem_limit": "memory", "cpus": "cpus", "pids_limit": "pids",
                 "cpu_shares": "cpu_shares", "cpuset": "cpuset", "memswap_limit": "memory_swap"}
HANDLED = frozenset({*DIRECT, *RENAMED, *RESOURCE_KEYS, "image", "build", "environment",
                     "env_file", "labels", "ports", "volumes", "volumes_from", "links",
                     "depends_on", "networks", "network_mode", "restart", "healthcheck",
                     "deploy", "extra_hosts", "ulimits", "sysctls", "logging", "profiles",
                     "mem_reservation", "pull_policy", "secrets", "configs"})
UNSUPPORTED = {
    "external_links": "link to a container of another project through a shared network "
                      "declared external = true",
    "cgroup_parent": "leave it out (dockwright uses the runtime's cgroup)",
    "cpu_quota": "use cpus (cpu_quota / cpu_period as a fraction)",
    "cpu_period": "use cpus (cpu_quota / cpu_period as a fraction)",
    "cpu_count": "use cpus", "cpu_percent": "use cpus",
    "mem_swappiness": "leave it out (the kernel's default applies)",
    "oom_kill_disable": "leave it out; set resources.memory high enough instead",
    "userns_mode": "configure user namespaces in the Docker daemon (userns-remap)",
    "isolation": "leave it out (Linux containers have one isolation)",
    "platform": "pull or build the image for this host's platform",
    "runtime": "set the default runtime in the Docker daemon",
    "storage_opt": "leave it out", "volume_driver": "declare the volume with driver = ...",
    "blkio_config": "leave it out", "device_cgroup_rules": "use devices = [...]",
    "credential_spec": "Windows only: leave it out", "uts": "leave it out",
    "cgroup": "leave it out", "links_external": "",
}


@dataclass
class Service:
    """One service being converted, and where its problems go."""

    name: str
    body: dict[str, Any]
    origins: Origins
    names: storage.Names
    out_dir: str
    problems: list[Problem]
    table: Table = field(init=False)

    def __post_init__(self) -> None:
        self.table = Table("container", self.name)

    def report(self, key: str, message: str, fix: str) -> None:
        path = ("services", self.name, *key.split(".")[:1])
        self.problems.append(Problem(self.origins.where(path), f"services.{self.name}.{key}",
                                     message, fix))
        self.table.left.append(f"{key}: {message} — {fix}")

    def put(self, spec_key: str, value: Any, compose_key: str, comment: str = "") -> None:
        if not supported(spec_key):
            self.report(compose_key, "not supported by this dockwright's spec language "
                        f"(no {spec_key} key)", "leave it out, or upgrade dockwright")
            return
        self.table.set(spec_key, value, comment)


def _env_value(value: Any) -> str:
    """The text Docker gets: numbers as YAML wrote them (1.5); a boolean, which
    docker-compose 1.x refuses, as the Compose Specification writes it ("true")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _environment(svc: Service, value: Any) -> None:
    env: dict[str, Any] = {}
    items = value.items() if isinstance(value, dict) else (
        (k, v if sep else None) for k, sep, v in (str(i).partition("=") for i in value))
    bare = []
    for key, val in items:
        if val is None:
            env[str(key)] = {"env": str(key)}
            bare.append(str(key))
        else:
            env[str(key)] = _env_value(val)
    comment = ""
    if bare:
        comment = f"{', '.join(bare)}: from the host's environment when dockwright runs"
    svc.put("env", env, "environment", comment)


def _image(svc: Service, project: str) -> None:
    body = svc.body
    build = body.get("build")
    image = body.get("image")
    if build is None:
        if image is None:
            svc.report("image", "a service needs image or build", "add image: NAME:TAG")
            return
        svc.put("image", str(image), "image")
        return
    build = {"context": build} if isinstance(build, str) else dict(build)
    table: dict[str, Any] = {"ref": str(image) if image else f"{project}_{svc.name}"}
    table["build"] = storage.host_path(str(build.get("context")), svc.out_dir)
    if build.get("dockerfile"):
        table["dockerfile"] = str(build["dockerfile"])
    args = build.get("args")
    if args:
        pairs = args.items() if isinstance(args, dict) else (
            str(a).partition("=")[::2] for a in args)
        table["args"] = {str(k): "" if v is None else str(v) for k, v in pairs}
    for key in build:
        if key not in ("context", "dockerfile", "args"):
            svc.report(f"build.{key}", f"build option {key!r} has no spec form",
                       "build the image yourself and give image = \"ref\"")
    svc.put("image", table, "build", "" if image else
            "docker-compose tags a built image <project>_<service>")


def _healthcheck(svc: Service, hc: dict[str, Any]) -> None:
    if hc.get("disable"):
        if supported("healthcheck.disable"):
            svc.put("healthcheck", {"disable": True}, "healthcheck")
        else:
            svc.put("healthcheck", {"test": ["NONE"]}, "healthcheck", "disable = true")
        return
    out: dict[str, Any] = {}
    for key in ("test", "interval", "timeout", "retries", "start_period"):
        if hc.get(key) is not None:
            out[key] = hc[key]
    for key in hc:
        if key not in out and key != "disable":
            svc.report(f"healthcheck.{key}", f"healthcheck key {key!r} has no spec form",
                       "use test, interval, timeout, retries and start_period")
    if "test" in out:
        svc.put("healthcheck", out, "healthcheck")


def _restart(value: Any) -> str:
    return "no" if value is False else str(value)


def _deploy(svc: Service, deploy: dict[str, Any], resources: dict[str, Any]) -> None:
    if deploy.get("replicas") is not None:
        svc.put("replicas", int(deploy["replicas"]), "deploy.replicas")
    res = deploy.get("resources") or {}
    for key, value in (res.get("limits") or {}).items():
        spec = {"cpus": "cpus", "memory": "memory", "pids": "pids"}.get(key)
        if spec is None:
            svc.report(f"deploy.resources.limits.{key}", "no spec form", "leave it out")
        else:
            resources[spec] = float(value) if key == "cpus" else value
    reservations = res.get("reservations") or {}
    if reservations.get("memory") is not None:
        resources.setdefault("reservations", {})["memory"] = reservations["memory"]
    for key in reservations:
        if key != "memory":
            svc.table.notes.append(f"deploy.resources.reservations.{key}: only Swarm schedules "
                                   "by it; docker-compose up ignores it too (left out)")
    policy = deploy.get("restart_policy")
    if policy and "restart" not in svc.body:
        cond = policy.get("condition", "any")
        name = {"none": "no", "any": "always", "on-failure": "on-failure"}.get(cond, "always")
        if name == "on-failure" and policy.get("max_attempts"):
            name = f"on-failure:{int(policy['max_attempts'])}"
        svc.put("restart", name, "deploy.restart_policy")
    for key in deploy:
        if key not in ("replicas", "resources", "restart_policy"):
            svc.table.notes.append(f"deploy.{key}: Swarm only; docker-compose up ignores it "
                                   "too (left out)")


def _networks(svc: Service, value: Any) -> None:
    wanted: dict[str, Any] = {}
    entries = value.items() if isinstance(value, dict) else ((n, None) for n in value)
    for name, body in entries:
        aliases = [svc.name]
        for key, opt in (body or {}).items():
            if key == "aliases":
                aliases += [str(a) for a in opt if str(a) not in aliases]
            else:
                svc.report(f"networks.{name}.{key}", f"network option {key!r} has no spec "
                           "form", "leave it out (addresses are assigned by the runtime)")
        if name == "default" and not svc.names.declared_default:
            wanted["default"] = {"aliases": aliases}
        else:
            wanted[svc.names.network(str(name))] = {"aliases": aliases}
    svc.put("networks", wanted, "networks",
            "docker-compose adds the service name as an alias on every network")


def _names(svc: Service, project: str, short: bool, replicas: int) -> None:
    given = svc.body.get("container_name")
    if given is not None:
        svc.put("container_name", str(given), "container_name")
    elif not short:
        name = f"{project}_{svc.name}_1" if replicas == 1 else f"{project}_{svc.name}_{{n}}"
        svc.put("container_name", name, "container_name",
                "docker-compose's name: kept so that adoption finds the container")


def service(svc: Service, project: str, short_names: bool) -> Table:
    """Fill ``svc.table`` from ``svc.body``; problems go to ``svc.problems``."""
    body = svc.body
    _image(svc, project)
    replicas = int(body.get("scale", (body.get("deploy") or {}).get("replicas", 1)) or 0)
    _names(svc, project, short_names, max(replicas, 1))
    resources: dict[str, Any] = {}
    for key, value in body.items():
        if key.startswith("x-") or key in ("image", "build", "container_name", "profiles"):
            continue
        if key in DIRECT:
            if key in LISTS and isinstance(value, str):
                value = [value]
            if key in ("user", "hostname", "domainname") and value is not None:
                value = str(value)
            if key == "expose":
                value = _expose(value)
            if key in ("pid", "ipc") and str(value).startswith("service:"):
                value = "container:" + str(value).removeprefix("service:")
            svc.put(key, value, key)
        elif key in RENAMED:
            svc.put(RENAMED[key], value, key)
        elif key in RESOURCE_KEYS:
            resources[RESOURCE_KEYS[key]] = float(value) if key == "cpus" else value
        elif key == "mem_reservation":
            resources.setdefault("reservations", {})["memory"] = value
        elif key == "environment":
            _environment(svc, value)
        elif key == "env_file":
            paths = [p if isinstance(p, str) else p.get("path") for p in value]
            svc.put("env_file", [storage.host_path(str(p), svc.out_dir) for p in paths],
                    key)
        elif key == "labels":
            svc.put("labels", storage._labels(value), key)
        elif key == "ports":
            svc.put("ports", storage.ports(value, lambda k, m, f: svc.report(k, m, f)), key)
        elif key == "volumes":
            svc.put("volumes", storage.mounts(value, svc.names, svc.out_dir,
                                              lambda k, m, f: svc.report(k, m, f)), key)
        elif key == "volumes_from":
            _volumes_from(svc, value)
        elif key == "links":
            svc.put("links", [str(v) for v in value], key)
        elif key == "depends_on":
            _depends_on(svc, value)
        elif key == "networks":
            _networks(svc, value)
        elif key == "network_mode":
            _network_mode(svc, str(value))
        elif key == "restart":
            svc.put("restart", _restart(value), key)
        elif key == "healthcheck":
            _healthcheck(svc, value)
        elif key == "deploy":
            _deploy(svc, value or {}, resources)
        elif key == "extra_hosts":
            hosts = value.items() if isinstance(value, dict) else (
                str(h).split(":", 1) for h in value)
            svc.put("extra_hosts", {str(h): str(ip) for h, ip in hosts}, key)
        elif key == "ulimits":
            svc.put("ulimits", value, key)
        elif key == "sysctls":
            svc.put("sysctls", storage._labels(value), key)
        elif key == "logging":
            svc.put("logging", {k: v for k, v in value.items()}, key)
        elif key == "pull_policy":
            _pull(svc, str(value))
        elif key in ("secrets", "configs"):
            continue  # they need the top-level table: controller.compose.importer
        else:
            svc.report(key, "not supported", UNSUPPORTED.get(
                key, "leave it out; see the README's table of compose keys"))
    if "networks" not in body and "network_mode" not in body:
        net = svc.names.network("default") if svc.names.declared_default else "default"
        svc.put("networks", {net: {"aliases": [svc.name]}}, "networks",
                "docker-compose's default network, with the service name as an alias")
    if resources:
        svc.put("resources", resources, "resources")
    return svc.table


def _expose(value: list[Any]) -> list[str]:
    """``expose`` with ranges (``"8000-8002"``) one port per entry, as Docker gets them."""
    out = []
    for item in value:
        text = str(item)
        port, _, proto = text.partition("/")
        first, sep, last = port.partition("-")
        if sep and first.isdigit() and last.isdigit():
            out += [f"{p}/{proto}" if proto else str(p)
                    for p in range(int(first), int(last) + 1)]
        else:
            out.append(text)
    return out


def _volumes_from(svc: Service, value: list[Any]) -> None:
    out = []
    for i, item in enumerate(value):
        text = str(item)
        if text.startswith("container:"):
            svc.report(f"volumes_from[{i}]", "volumes of a container of no service",
                       "declare that container as a service, or mount its volumes by name")
            continue
        out.append(text.removeprefix("service:"))
    svc.put("volumes_from", out, "volumes_from")


def _depends_on(svc: Service, value: Any) -> None:
    conditions = {"service_started": "started", "service_healthy": "healthy",
                  "service_completed_successfully": "completed"}
    if isinstance(value, list):
        svc.put("depends_on", [str(v) for v in value], "depends_on")
        return
    out = {}
    for name, body in value.items():
        cond = (body or {}).get("condition", "service_started")
        if cond not in conditions:
            svc.report(f"depends_on.{name}.condition", f"unknown condition {cond!r}",
                       "use service_started, service_healthy or "
                       "service_completed_successfully")
            continue
        out[str(name)] = conditions[cond]
    svc.put("depends_on", out, "depends_on")


def _network_mode(svc: Service, value: str) -> None:
    kind, _, target = value.partition(":")
    if kind == "service":
        value = f"container:{target}"
    elif kind == "container":
        svc.report("network_mode", f"the network of a container of no service ({target})",
                   "declare that container as a service and write network_mode: "
                   "service:NAME")
        return
    svc.put("network_mode", value, "network_mode")


def _pull(svc: Service, value: str) -> None:
    mapped = {"always": "always", "never": "never", "missing": "missing",
              "if_not_present": "missing"}.get(value)
    image = svc.table.values.get("image")
    if mapped is None or not isinstance(image, str):
        svc.report("pull_policy", f"pull_policy {value!r} has no spec form here",
                   "use always, never or missing with image: (not build:)")
        return
    svc.table.values["image"] = {"ref": image, "pull": mapped}
