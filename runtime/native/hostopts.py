"""Host-level container settings in the OCI bundle of the native runtime.

Role: what ``runtime.native.bundle`` adds to a container's ``config.json`` for the
host-level fields of a ``ContainerConfig``, the way Docker's daemon carries them
out: capabilities (Docker's default set, ``cap_add``/``cap_drop``, ``ALL``),
``privileged`` (every capability and host device, no masked or read-only
paths, writable ``/sys``), ``devices`` (device nodes and their cgroup rule),
``ulimits`` (rlimits), ``sysctls``, ``read_only`` (the root file system),
``shm_size`` (``/dev/shm``), ``tmpfs`` mounts (``noexec,nosuid,nodev`` unless
the options say otherwise), ``group_add`` (names resolved through the image's
``/etc/group``), ``oom_score_adj``, ``domainname``, the ``no-new-privileges``
security option, ``init = false`` (no tini as PID 1), the host's network, pid
or IPC namespace (``network_mode = "host"``, ``pid``/``ipc = "host"``),
another container's namespaces (``network_mode``/``pid``/``ipc = "container:NAME"``,
named by ``runtime.native.containers`` and ``shim``) and ``ipc = "none"``. It also writes
``extra_hosts`` into ``/etc/hosts`` and ``dns``, ``dns_search``, ``dns_opt`` into
``resolv.conf``. The keys it cannot carry out (log drivers, security options
other than no-new-privileges) are refused at validation (``specs.runtimes``),
never silently dropped.
Neighbours: ``runtime.native.bundle`` (calls :func:`apply`),
``runtime.native.containers`` (the /etc files), ``runtime.types``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from runtime.errors import InvalidRequest
from runtime.types import ContainerConfig, DeviceSpec

# Docker's default capabilities, without "CAP_"
DEFAULT_CAPS = ("CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID",
                "SETUID", "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL",
                "AUDIT_WRITE")
ALL_CAPS = (  # by number, 0 .. 40
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
    "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN",
    "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE",
    "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME",
    "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
    "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ",
    "PERFMON", "BPF", "CHECKPOINT_RESTORE",
)  # fmt: skip
RLIM_INFINITY = 2**64 - 1
TMPFS_DEFAULTS = ("noexec", "nosuid", "nodev")
_SKIP_DEVICES = ("/dev/pts", "/dev/shm", "/dev/mqueue", "/dev/console", "/dev/ptmx",
                 "/dev/fd", "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/core")


def host_caps() -> tuple[str, ...]:
    """The capabilities this process may hand on: its bounding set (``CapBnd``), as a
    privileged container on Docker gets the daemon's."""
    try:
        status = Path("/proc/self/status").read_text()
        bounding = int(status.split("CapBnd:")[1].split()[0], 16)
    except (OSError, IndexError, ValueError):
        bounding = (1 << len(ALL_CAPS)) - 1
    return tuple(c for i, c in enumerate(ALL_CAPS) if bounding >> i & 1)


def capabilities(config: ContainerConfig) -> list[str]:
    """Docker's rule: the default set, ``cap_drop`` taken out, then ``cap_add`` added;
    ``ALL`` in either stands for every capability; privileged: every one."""
    known = host_caps()
    if config.privileged:
        return [f"CAP_{c}" for c in known]
    caps = set() if "ALL" in config.cap_drop else set(DEFAULT_CAPS) - set(config.cap_drop)
    caps |= set(known) if "ALL" in config.cap_add else set(config.cap_add)
    for cap in caps - set(known):
        raise InvalidRequest(f"unknown capability {cap!r}",
                             hint=f"use one of: {', '.join(known)}")
    return [f"CAP_{c}" for c in known if c in caps]


def _device_node(host: str, container: str, permissions: str
                 ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the ``linux.devices`` entry, the cgroup rule) of one host device."""
    try:
        st = os.stat(host)
    except OSError as exc:
        raise InvalidRequest(f"device {host} does not exist on this host: {exc.strerror}",
                             hint="give a device path of this host, e.g. \"/dev/fuse\"") from exc
    if stat.S_ISCHR(st.st_mode):
        kind = "c"
    elif stat.S_ISBLK(st.st_mode):
        kind = "b"
    else:
        raise InvalidRequest(f"{host} is not a device", hint="name a character or block device")
    major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
    node = {"path": container, "type": kind, "major": major, "minor": minor,
            "fileMode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid}
    rule = {"allow": True, "type": kind, "major": major, "minor": minor, "access": permissions}
    return node, rule


def _host_devices() -> list[DeviceSpec]:
    """Every device node of the host's /dev (what a privileged container gets)."""
    found: list[DeviceSpec] = []
    for folder, dirs, files in os.walk("/dev"):
        dirs[:] = [d for d in dirs if os.path.join(folder, d) not in _SKIP_DEVICES]
        for name in files:
            path = os.path.join(folder, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if path not in _SKIP_DEVICES and (stat.S_ISCHR(st.st_mode)
                                              or stat.S_ISBLK(st.st_mode)):
                found.append(DeviceSpec(path, path, "rwm"))
    return found


def _gid(name: str, rootfs: Path) -> int:
    if name.isdigit():
        return int(name)
    try:
        lines = (rootfs / "etc" / "group").read_text(errors="replace").splitlines()
    except OSError:
        lines = []
    for line in lines:
        parts = line.split(":")
        if len(parts) > 2 and parts[0] == name and parts[2].isdigit():
            return int(parts[2])
    raise InvalidRequest(f"group {name!r} of group_add is not in the image's /etc/group",
                         hint="use a numeric gid or a group the image defines")


def _tmpfs_options(options: str) -> list[str]:
    given = [o.strip() for o in options.split(",") if o.strip()]
    opposite = {"exec": "noexec", "suid": "nosuid", "dev": "nodev"}
    defaults = [d for d in TMPFS_DEFAULTS if d not in given
                and not any(opposite.get(g) == d for g in given)]
    return [*defaults, *given]


def _no_new_privileges(options: tuple[str, ...]) -> bool:
    value = False
    for option in options:
        name, _, flag = option.replace("=", ":").partition(":")
        if name != "no-new-privileges":
            raise InvalidRequest(f"security_opt {option!r} is not supported by the native "
                                 "runtime", hint="only no-new-privileges is; use --runtime "
                                 "docker for seccomp, apparmor or label options")
        value = flag in ("", "true")
    return value


def apply(spec: dict[str, Any], config: ContainerConfig, rootfs: Path) -> None:
    """Add ``config``'s host-level settings to the OCI runtime spec ``spec``."""
    process, linux = spec["process"], spec["linux"]
    if config.init is False:  # no tini: the command is PID 1, as on Docker without --init
        args = process["args"]
        process["args"] = args[2:] if args[1:2] == ["--"] else args
    limits = {r["type"]: r for r in process.get("rlimits", [])}
    for u in config.ulimits:
        kind = f"RLIMIT_{u.name.upper()}"
        limits[kind] = {"type": kind, "soft": RLIM_INFINITY if u.soft < 0 else u.soft,
                        "hard": RLIM_INFINITY if u.hard < 0 else u.hard}
    process["rlimits"] = list(limits.values())
    if config.group_add:
        process["user"]["additionalGids"] = [_gid(g, rootfs) for g in config.group_add]
    if config.oom_score_adj is not None:
        process["oomScoreAdj"] = config.oom_score_adj
    if _no_new_privileges(config.security_opt):
        process["noNewPrivileges"] = True
    if config.sysctls:
        linux["sysctl"] = dict(config.sysctls)
    if config.read_only:
        spec["root"]["readonly"] = True
    if config.domainname:
        spec["domainname"] = config.domainname
    _devices(spec, config)
    _namespaces(spec, config)
    _mounts(spec, config)


def _devices(spec: dict[str, Any], config: ContainerConfig) -> None:
    linux = spec["linux"]
    wanted = list(config.devices)
    if config.privileged:
        linux["maskedPaths"], linux["readonlyPaths"] = [], []
        linux["resources"]["devices"] = [{"allow": True, "access": "rwm"}]
        named = {d.container for d in wanted}
        wanted += [d for d in _host_devices() if d.container not in named]
    for device in wanted:
        node, rule = _device_node(device.host, device.container, device.permissions)
        linux["devices"].append(node)
        if not config.privileged:
            linux["resources"]["devices"].append(rule)


def _namespaces(spec: dict[str, Any], config: ContainerConfig) -> None:
    # "container:NAME": the netns path is NAME's (``containers``); pid and ipc are NAME's
    # process's, named at each start (``shim.join_namespaces``)
    shared = {"network": config.network_mode, "pid": config.pid_mode, "ipc": config.ipc_mode}
    host = {kind for kind, mode in shared.items() if mode == "host"}
    spec["linux"]["namespaces"] = [n for n in spec["linux"]["namespaces"]
                                   if n["type"] not in host]


def _mounts(spec: dict[str, Any], config: ContainerConfig) -> None:
    mounts: list[dict[str, Any]] = []
    for m in spec["mounts"]:
        if m["destination"] == "/sys" and config.privileged:
            m = {**m, "options": [o for o in m["options"] if o != "ro"]}
        if m["destination"] == "/dev/shm":
            if config.ipc_mode == "none":
                continue
            if config.ipc_mode == "host":
                m = {"destination": "/dev/shm", "type": "bind", "source": "/dev/shm",
                     "options": ["rbind", "rprivate", "rw"]}
            elif config.shm_size is not None:
                m = {**m, "options": [o for o in m["options"] if not o.startswith("size=")]
                     + [f"size={config.shm_size}"]}
        mounts.append(m)
    taken = {m["destination"] for m in mounts}
    for path, options in config.tmpfs:
        if path in taken:
            raise InvalidRequest(f"tmpfs {path} is also mounted otherwise",
                                 hint="mount each path once")
        mounts.append({"destination": path, "type": "tmpfs", "source": "tmpfs",
                       "options": _tmpfs_options(options)})
    spec["mounts"] = mounts


def hosts_text(base: str, config: ContainerConfig) -> str:
    """/etc/hosts with ``extra_hosts`` after the runtime's own entries (as Docker does)."""
    extra = "".join(f"{ip}\t{name}\n" for name, ip in config.extra_hosts)
    return base + extra


def resolv_text(base: str, config: ContainerConfig) -> str:
    """resolv.conf: ``dns`` replaces the nameservers, ``dns_search`` the search domains,
    ``dns_opt`` the options (each only when given)."""
    replaced = {"nameserver": bool(config.dns), "search": bool(config.dns_search),
                "domain": bool(config.dns_search), "options": bool(config.dns_opt)}
    lines = [line for line in base.splitlines()
             if not replaced.get(line.split()[0] if line.split() else "", False)]
    lines += [f"nameserver {ip}" for ip in config.dns]
    if config.dns_search:
        lines.append("search " + " ".join(config.dns_search))
    if config.dns_opt:
        lines.append("options " + " ".join(config.dns_opt))
    return "\n".join(lines) + "\n"
