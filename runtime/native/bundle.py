"""OCI bundle: the ``config.json`` of one container, built from its config and image.

Role: pure-ish translation of a ``ContainerConfig`` + the image's defaults
(``ImageInfo``, filled in by ``runtime.imagedefaults.merge`` as Docker does)
into an OCI runtime spec: args (entrypoint + command, behind the init), env
(image env overlaid by the config's), cwd, user (numeric, or a name resolved
through the rootfs' /etc/passwd and /etc/group), hostname, Docker's default
capabilities, namespaces (the network namespace is a path from the network
manager), mounts (the standard set, /etc/hosts, /etc/resolv.conf,
/etc/hostname, the init binary, the container's resolved volumes, and its
secrets and configs as read-only binds of their copies),
cgroup limits (memory, swap and reservation, cpu quota, shares and set, pids) at
``/dockwright/<id>``, and a terminal for tty; the host-level settings
(capabilities, devices, rlimits, sysctls, namespaces ...) come from ``hostopts``.
Also resolves the config's mounts to host paths (:func:`resolve_mounts`; anonymous volumes are named
by ``anonvols`` before). Neighbours: ``driver``
(calls it at create), ``records.Layout`` (paths), ``supervise`` (runs it).
"""

from __future__ import annotations

import resource
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from runtime.errors import InvalidRequest
from runtime.imagedefaults import merge
from runtime.native import hostopts
from runtime.types import ContainerConfig, ImageInfo, MountSpec, ResourceSpec

INIT_PATH = "/.dockwright/init"
TINI = "/usr/bin/tini-static"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MASKED = [
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware",
]  # fmt: skip
READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
Mount = dict[str, Any]


def cgroup_path(cid: str) -> str:
    return f"/dockwright/{cid}"


def process_args(config: ContainerConfig, image: ImageInfo) -> list[str]:
    """Entrypoint + command as Docker merges them (``runtime.imagedefaults``)."""
    merged = merge(config, image)
    args = list(merged.entrypoint or ()) + list(merged.command or ())
    if not args:
        raise InvalidRequest(
            f"container {config.name!r} has no command",
            hint="set command (or entrypoint) in the spec, or use an image with a CMD",
        )
    return args


def process_env(config: ContainerConfig, image: ImageInfo, hostname: str) -> list[str]:
    env: dict[str, str] = {"PATH": DEFAULT_PATH, "HOSTNAME": hostname}
    env.update(dict(merge(config, image).env))
    if config.tty:
        env.setdefault("TERM", "xterm")
    return [f"{k}={v}" for k, v in env.items()]


def _lookup(rootfs: Path, table: str, name: str, field: int) -> int | None:
    for line in _read(rootfs / "etc" / table):
        parts = line.split(":")
        if len(parts) > field and parts[0] == name and parts[field].isdigit():
            return int(parts[field])
    return None


def resolve_user(spec: str, rootfs: Path) -> dict[str, int]:
    """``user[:group]`` (names or numbers) -> ``{"uid": .., "gid": ..}`` via the rootfs' files."""
    if not spec:
        return {"uid": 0, "gid": 0}
    user, _, group = spec.partition(":")
    if user.isdigit():
        uid = int(user)
        gid = 0
        for line in _read(rootfs / "etc" / "passwd"):
            parts = line.split(":")
            if len(parts) > 3 and parts[2] == user and parts[3].isdigit():
                gid = int(parts[3])
                break
    else:
        uid = _require(rootfs, "passwd", "user", user, "uid[:gid]")
        gid = _lookup(rootfs, "passwd", user, 3) or 0
    if group:
        gid = int(group) if group.isdigit() else _require(rootfs, "group", "group", group, "gid")
    return {"uid": uid, "gid": gid}


def resources_json(res: ResourceSpec) -> dict[str, Any]:
    """The OCI ``linux.resources`` entries (memory, cpu, pids) for the limits set in ``res``.

    Used for the bundle and for live ``update --resources`` calls alike.
    """
    out: dict[str, Any] = {}
    memory: dict[str, Any] = {}
    if res.memory:  # no swap unless memory_swap says (memory + swap; -1: unlimited)
        memory = {"limit": res.memory, "swap": res.memory_swap or res.memory}
    if res.memory_reservation:
        memory["reservation"] = res.memory_reservation
    if memory:
        out["memory"] = memory
    cpu: dict[str, Any] = {}
    if res.cpus:
        cpu = {"quota": int(res.cpus * 100000), "period": 100000}
    if res.cpu_shares:
        cpu["shares"] = res.cpu_shares
    if res.cpuset:
        cpu["cpus"] = res.cpuset
    if cpu:
        out["cpu"] = cpu
    if res.pids:
        out["pids"] = {"limit": res.pids}
    return out


def _require(rootfs: Path, db: str, kind: str, name: str, numeric: str) -> int:
    """The id (field 2) of ``name`` in the image's ``/etc/<db>``; InvalidRequest if absent."""
    found = _lookup(rootfs, db, name, 2)
    if found is None:
        raise InvalidRequest(
            f"{kind} {name!r} is not in the image's /etc/{db}",
            hint=f"use a numeric {numeric} or a {kind} the image defines",
        )
    return found


def _read(path: Path) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()
    except OSError:
        return []


def resolve_mounts(
    config: ContainerConfig,
    volume_dir: Callable[[str], Path],
    volumes_from: Callable[[str], Sequence[Mount]],
) -> list[Mount]:
    """The config's mounts + volumes_from as OCI mount entries with host sources."""
    result: list[Mount] = []
    for m in config.mounts:
        result.append(_resolve_one(m, volume_dir))
    for f in config.files:  # secrets and configs: read-only binds of their copies
        if not f.source or not Path(f.source).is_file():
            raise InvalidRequest(f"the copy of {f.kind} {f.name!r} ({f.source}) is missing",
                                 hint="run dockwright apply, which writes it before a create")
        result.append({"destination": f.target, "type": "bind", "source": f.source,
                       "options": ["rbind", "rprivate", "ro"]})
    for name, read_only in config.volumes_from:
        for entry in volumes_from(name):
            opts = [o for o in entry["options"] if o not in ("ro", "rw")]
            if entry.get("type") != "tmpfs":
                opts.append("ro" if read_only or "ro" in entry["options"] else "rw")
            result.append({**entry, "options": opts})
    targets = [m["destination"] for m in result]
    dupes = {t for t in targets if targets.count(t) > 1}
    if dupes:
        raise InvalidRequest(
            f"duplicate mount point(s) {sorted(dupes)}", hint="mount each target once"
        )
    return result


def _resolve_one(m: MountSpec, volume_dir: Callable[[str], Path]) -> Mount:
    if not m.target.startswith("/"):
        raise InvalidRequest(f"mount target {m.target!r} is not absolute", hint="use /path")
    mode = "ro" if m.read_only else "rw"
    if m.type == "tmpfs":
        opts = ["nosuid", "nodev", "mode=1777"] + ([f"size={m.size}"] if m.size else [])
        if m.read_only:
            opts.append("ro")
        return {"destination": m.target, "type": "tmpfs", "source": "tmpfs", "options": opts}
    if m.type == "bind":
        if not m.source or not Path(m.source).is_absolute():
            raise InvalidRequest(f"bind source {m.source!r} must be an absolute host path")
        if not Path(m.source).exists():
            raise InvalidRequest(
                f"bind source {m.source} does not exist", hint="create it on the host first"
            )
        src = m.source
        volume = ""
    elif m.type == "volume":
        if not m.source:  # ``anonvols.assign`` names anonymous volumes before this
            raise InvalidRequest(f"the volume mount at {m.target} has no volume name",
                                 hint="name anonymous volumes first (anonvols.assign)")
        volume = m.source
        src = str(volume_dir(m.source))
    else:
        raise InvalidRequest(f"unknown mount type {m.type!r}", hint="use volume, bind or tmpfs")
    return {
        "destination": m.target,
        "type": "bind",
        "source": src,
        "options": ["rbind", "rprivate", mode],
        "volume": volume,
    }


def build_spec(
    *,
    cid: str,
    config: ContainerConfig,
    image: ImageInfo,
    rootfs: Path,
    netns: str | None,
    etc_files: dict[str, Path],
    mounts: Sequence[Mount],
) -> dict[str, Any]:
    """The OCI runtime spec (config.json) for container ``cid``."""
    hostname = config.hostname or cid[:12]
    merged = merge(config, image)
    user = resolve_user(merged.user or "", rootfs)
    caps = hostopts.capabilities(config)
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nofile = 1048576 if nofile == resource.RLIM_INFINITY else nofile
    process: dict[str, Any] = {
        "terminal": bool(config.tty),
        "user": {"uid": user["uid"], "gid": user["gid"]},
        "args": [INIT_PATH, "--", *process_args(config, image)],
        "env": process_env(config, image, hostname),
        "cwd": merged.workdir or "/",
        "capabilities": {k: caps for k in ("bounding", "effective", "permitted")},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": nofile, "soft": nofile}],
        "noNewPrivileges": False,
    }
    std_mounts: list[Mount] = [
        {"destination": "/proc", "type": "proc", "source": "proc",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        {"destination": INIT_PATH, "type": "bind", "source": TINI,
         "options": ["bind", "ro", "nosuid", "nodev"]},
    ]  # fmt: skip
    for name, path in etc_files.items():
        etc_mount = {"destination": f"/etc/{name}", "type": "bind", "source": str(path)}
        std_mounts.append({**etc_mount, "options": ["rbind", "rprivate", "rw"]})
    user_mounts = [{k: v for k, v in m.items() if k != "volume"} for m in mounts]
    namespaces: list[dict[str, str]] = [
        {"type": t} for t in ("pid", "ipc", "uts", "mount")
    ] + [{"type": "network", "path": netns} if netns else {"type": "network"}]
    # (hostopts drops the namespaces a container shares with the host)
    resources: dict[str, Any] = {
        "devices": [{"allow": False, "access": "rwm"}], **resources_json(config.resources)
    }
    spec = {
        "ociVersion": "1.0.2",
        "process": process,
        "root": {"path": str(rootfs), "readonly": False},
        "hostname": hostname,
        "mounts": std_mounts + user_mounts,
        "linux": {
            "namespaces": namespaces,
            "cgroupsPath": cgroup_path(cid),
            "resources": resources,
            "maskedPaths": list(MASKED),
            "readonlyPaths": list(READONLY),
            "devices": [],
        },
    }
    hostopts.apply(spec, config, rootfs)  # capabilities, devices, namespaces, rlimits ...
    return spec


def _in_root(rootfs: Path, path: str, hops: int = 40) -> Path | None:
    """``path`` inside ``rootfs`` with symlinks resolved against ``rootfs`` (never outside)."""
    parts = [p for p in path.split("/") if p and p != "."]
    current = rootfs
    while parts:
        part = parts.pop(0)
        if part == "..":
            current = current.parent if current != rootfs else rootfs
            continue
        candidate = current / part
        if candidate.is_symlink():
            hops -= 1
            if hops < 0:
                return None
            target = str(candidate.readlink())
            parts = [p for p in target.split("/") if p and p != "."] + parts
            if target.startswith("/"):
                current = rootfs
            continue
        current = candidate
    return current if current.exists() else None


def check_executable(spec: dict[str, Any], rootfs: Path) -> None:
    """Fail like Docker at start when the command is not in the image (rather than exit 127)."""
    process = spec.get("process", {})
    args = list(process.get("args", []))
    if args[:2] == [INIT_PATH, "--"]:
        args = args[2:]
    if not args:
        return
    cmd = args[0]
    env = dict(e.partition("=")[::2] for e in process.get("env", []))
    if "/" in cmd:
        base = cmd if cmd.startswith("/") else f"{process.get('cwd', '/')}/{cmd}"
        found = _in_root(rootfs, base)
    else:
        dirs = env.get("PATH", DEFAULT_PATH).split(":")
        found = next((f for d in dirs if (f := _in_root(rootfs, f"{d}/{cmd}"))), None)
    if found is None or found.is_dir():
        raise InvalidRequest(
            f'exec: "{cmd}": executable file not found in $PATH',
            hint="check the command/entrypoint of the container and the image's contents",
        )
