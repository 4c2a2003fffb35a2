"""Container records: the native runtime's own state, one JSON file per container.

Role: ``<state_dir>/containers/<id>/record.json`` is written atomically
(``dwutil.atomic``) BEFORE anything else of the container is created, so a
crash at any point leaves a record that names every kernel object to clean up
(all of them are named from the id). A record holds the ``ContainerConfig``,
image id, lifecycle ``phase`` (creating/ready/deleting), state, pids, exit
code, OOM flag, restart count, health, timestamps and the anonymous volumes
its create generated (``fresh_volumes``, written before they exist). Names
are unique through ``<state_dir>/names/<name>`` files made with O_EXCL
(``Conflict`` on a clash).
Read-modify-write goes through :meth:`RecordStore.update` under a short
lock (``dwutil.lock``) on the container's ``rlock`` file (the shim and the driver both write
records); a create, start, restart or delete in progress holds
:meth:`RecordStore.hold` (an flock on ``<state_dir>/locks/<id>``) for its
whole duration, so ``gc`` can tell a live operation from one whose process died.
Neighbours: ``driver`` (creates and reads), ``shim`` (updates state/health),
``gc`` (cleans up), ``bundle``/``supervise``/``rootfs`` (use :class:`Layout`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dwutil.atomic import write_atomic
from dwutil.lock import LockBusy, locked
from runtime.errors import Conflict, InvalidRequest, NotFound
from runtime.types import (
    ContainerConfig,
    DeviceSpec,
    FileMount,
    HealthSpec,
    MountSpec,
    NetworkAttach,
    PortBinding,
    ResourceSpec,
    RestartSpec,
    UlimitSpec,
)

CREATING, READY, DELETING = "creating", "ready", "deleting"


def now_iso() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"


def new_id() -> str:
    return secrets.token_hex(32)


_FILES = {
    "record": "record.json", "config": "config.json", "rootfs": "rootfs", "upper": "upper",
    "work": "work", "log": "ctr.log", "pidfile": "pidfile", "conmon_pidfile": "conmon.pid",
    "conmon_log": "conmon.out", "exit_dir": "exit", "persist_dir": "persist",
    "socket_dir": "sock", "shim_log": "shim.log",
}  # fmt: skip


@dataclass(frozen=True)
class Layout:
    """Where everything of one container lives (the bundle is the container dir)."""

    dir: Path

    @property
    def id(self) -> str:
        return self.dir.name

    def __getattr__(self, key: str) -> Path:
        try:
            return self.dir / _FILES[key]
        except KeyError:
            raise AttributeError(key) from None

    @property
    def exit_file(self) -> Path:
        return self.exit_dir / self.id

    @property
    def oom_file(self) -> Path:
        return self.persist_dir / "oom"

    def etc(self, name: str) -> Path:
        return self.dir / f"etc-{name}"


@dataclass
class Record:
    id: str
    name: str
    config: ContainerConfig
    image_id: str = ""
    image_ref: str = ""
    phase: str = CREATING
    state: str = "created"
    pid: int | None = None
    conmon_pid: int | None = None
    shim_pid: int | None = None
    exit_code: int | None = None
    oom: bool = False
    restart_count: int = 0
    health: str = "none"
    failing_streak: int = 0
    stopped_by_user: bool = False
    created_at: str = field(default_factory=now_iso)
    started_at: str = ""
    finished_at: str = ""
    ip_addresses: list[tuple[str, str]] = field(default_factory=list)
    host_ports: list[PortBinding] = field(default_factory=list)
    netns: str = ""
    mounts: list[dict[str, Any]] = field(default_factory=list)  # resolved OCI mount entries
    fresh_volumes: list[str] = field(default_factory=list)  # anonymous, made by this create
    healthcheck: dict[str, Any] | None = None  # effective (config's, else the image's)
    stop_signal: str = "TERM"
    last_start: float = 0.0  # time.time() of the last start (restart backoff)
    run_token: str = ""  # names the current run; its exit handler carries the same token

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def health_spec(self) -> HealthSpec | None:
        hc = self.healthcheck
        if not hc or not hc.get("test") or hc["test"][0] == "NONE":
            return None
        return HealthSpec(**{**hc, "test": tuple(hc["test"])})

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        data = dict(data)
        data["config"] = config_from_json(data["config"])
        data["ip_addresses"] = [tuple(p) for p in data.get("ip_addresses", [])]
        data["host_ports"] = [PortBinding(**p) for p in data.get("host_ports", [])]
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _pairs(raw: Any) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), str(v)) for k, v in raw or ())


def _opt_tuple(raw: Any) -> tuple[str, ...] | None:
    return None if raw is None else tuple(raw)


def config_from_json(d: dict[str, Any]) -> ContainerConfig:
    """Inverse of ``dataclasses.asdict`` for :class:`ContainerConfig`."""
    hc = d.get("healthcheck")
    return ContainerConfig(
        name=d["name"],
        image=d["image"],
        command=_opt_tuple(d.get("command")),
        entrypoint=_opt_tuple(d.get("entrypoint")),
        env=_pairs(d.get("env")),
        workdir=d.get("workdir"),
        user=d.get("user"),
        hostname=d.get("hostname"),
        labels=_pairs(d.get("labels")),
        ports=tuple(PortBinding(**p) for p in d.get("ports", ())),
        mounts=tuple(MountSpec(**m) for m in d.get("mounts", ())),
        volumes_from=tuple((str(n), bool(ro)) for n, ro in d.get("volumes_from", ())),
        networks=tuple(
            NetworkAttach(network=n["network"], aliases=tuple(n.get("aliases", ())))
            for n in d.get("networks", ())
        ),
        restart=RestartSpec(**d.get("restart", {})),
        healthcheck=None if hc is None else HealthSpec(**{**hc, "test": tuple(hc["test"])}),
        resources=ResourceSpec(**d.get("resources", {})),
        stdin_open=bool(d.get("stdin_open", False)),
        tty=bool(d.get("tty", False)),
        stop_signal=d.get("stop_signal"),
        stop_timeout=d.get("stop_timeout"),
        files=tuple(FileMount(**f) for f in d.get("files", ())),
        devices=tuple(DeviceSpec(**x) for x in d.get("devices", ())),
        ulimits=tuple(UlimitSpec(**u) for u in d.get("ulimits", ())),
        **_host_fields(d),
    )


def _host_fields(d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: _pairs(d.get(k)) for k in _PAIRS}
    out.update({k: tuple(d.get(k) or ()) for k in _TUPLES})
    out.update({k: d[k] for k in _SCALARS if k in d})
    return out


# host-level fields (``runtime.native.hostopts``) by their JSON form
_PAIRS = ("extra_hosts", "sysctls", "log_options", "tmpfs")
_TUPLES = ("cap_add", "cap_drop", "dns", "dns_search", "dns_opt", "security_opt", "group_add",
           "expose")
_SCALARS = ("init", "privileged", "log_driver", "read_only", "shm_size", "network_mode",
            "pid_mode", "ipc_mode", "domainname", "mac_address", "oom_score_adj")


def _write_atomic(path: Path, data: dict[str, Any]) -> None:
    write_atomic(path, json.dumps(data), mode=0o644)


class RecordStore:
    """Records under ``<state_dir>/containers`` and the name index ``<state_dir>/names``."""

    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir / "containers"
        self.names = state_dir / "names"
        self.locks = state_dir / "locks"
        for d in (self.root, self.names, self.locks):
            d.mkdir(parents=True, exist_ok=True)

    def layout(self, cid: str) -> Layout:
        return Layout(self.root / cid)

    # names ----------------------------------------------------------------
    def claim_name(self, name: str, cid: str) -> None:
        """Reserve ``name`` for ``cid`` (atomic); ``Conflict`` when another container has it."""
        if not name or "/" in name or name.startswith("."):
            raise InvalidRequest(f"invalid container name {name!r}", hint="use [a-zA-Z0-9_.-]")
        path = self.names / name
        for _ in range(2):
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError as exc:
                owner = self.name_owner(name)
                if owner == cid:
                    return
                if owner is not None and (self.root / owner / "record.json").exists():
                    raise Conflict(
                        f"container name {name!r} is already in use by container {owner[:12]}",
                        hint="remove or rename that container, or choose another name",
                    ) from exc
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()  # stale entry of a container that no longer exists
                continue
            with os.fdopen(fd, "w") as f:
                f.write(cid)
            return
        raise Conflict(f"container name {name!r} is being claimed concurrently")

    def name_owner(self, name: str) -> str | None:
        try:
            return (self.names / name).read_text().strip() or None
        except (FileNotFoundError, NotADirectoryError):
            return None

    def release_name(self, name: str, cid: str) -> None:
        if self.name_owner(name) == cid:
            with contextlib.suppress(FileNotFoundError):
                (self.names / name).unlink()

    # records --------------------------------------------------------------
    def write(self, rec: Record) -> None:
        lay = self.layout(rec.id)
        lay.dir.mkdir(parents=True, exist_ok=True)
        _write_atomic(lay.record, rec.to_json())

    def read(self, cid: str) -> Record:
        try:
            data = json.loads(self.layout(cid).record.read_text())
        except FileNotFoundError as exc:
            raise NotFound(f"no such container: {cid}") from exc
        except ValueError as exc:  # torn file cannot happen (atomic rename); be safe anyway
            raise NotFound(f"container {cid[:12]} has an unreadable record: {exc}") from exc
        return Record.from_json(data)

    def ids(self) -> list[str]:
        try:
            return [e.name for e in os.scandir(self.root) if e.is_dir()]
        except FileNotFoundError:
            return []

    def all(self) -> Iterator[Record]:
        for cid in self.ids():
            with contextlib.suppress(NotFound):
                yield self.read(cid)

    def resolve(self, ref: str) -> str:
        """Id of the container named ``ref``, with id ``ref`` or an id prefix ``ref``."""
        owner = self.name_owner(ref.lstrip("/"))
        if owner and self.layout(owner).record.exists():
            return owner
        if len(ref) == 64 and self.layout(ref).record.exists():
            return ref
        if len(ref) >= 4 and all(c in "0123456789abcdef" for c in ref):
            matches = [i for i in self.ids() if i.startswith(ref)]
            if len(matches) == 1 and self.layout(matches[0]).record.exists():
                return matches[0]
        raise NotFound(f"no such container: {ref}", hint="check the name with `dockwright ps`")

    @contextlib.contextmanager
    def hold(self, cid: str, *, blocking: bool = True) -> Iterator[bool]:
        """flock the container's lock file; yields False when ``blocking=False`` and busy."""
        try:
            with locked(self.locks / cid, mode=0o644, blocking=blocking):
                yield True
        except LockBusy:
            yield False

    def update(self, cid: str, change: Callable[[Record], None]) -> Record:
        """Read, change and write the record atomically with respect to other writers."""
        lay = self.layout(cid)
        if not lay.dir.exists():
            raise NotFound(f"no such container: {cid}")
        with locked(lay.dir / "rlock", mode=0o644):
            rec = self.read(cid)
            change(rec)
            _write_atomic(lay.record, rec.to_json())
            return rec
