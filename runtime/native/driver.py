"""``NativeDriver``: the ``Driver`` protocol without a container daemon.

Role: a thin facade over the native runtime's parts: the OCI runtime (crun or
runc, detected at start-up, ``oci``), container lifecycle (``containers``:
overlay rootfs, OCI bundle, conmon, shim), records and their rediscovery
(``records``, ``gc``: a full sweep at start-up, a cheap one before each
list), restart policies and health checks (``shim``), volumes (``volumes``;
pre-upgrade anonymous folders become volumes at start-up or inspect,
``legacyanon``), events (``events``), logs and exec (``logs``), the
controller's view of a record (``view``), the image store
(``images.ImageStore``) and networking (``net.NetworkManager``), the last two
reached through the protocols of ``deps``. State lives under ``state_dir``
(default ``/var/lib/dockwright``).
Neighbours: ``runtime.driver`` (the protocol), ``runtime.registry``
(``open_driver("native")``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from runtime.driver import IdSet
from runtime.errors import (
    Conflict,
    ImageError,
    InvalidRequest,
    NotFound,
    RuntimeError_,
    Unavailable,
)
from runtime.native import events, gc, legacyanon, logs, netchange, supervise
from runtime.native.bundle import TINI
from runtime.native.containers import Containers
from runtime.native.deps import ImageStoreLike, NetworkLike
from runtime.native.events import EventTail
from runtime.native.oci import OciRuntime
from runtime.native.records import READY, Record, RecordStore
from runtime.native.shim import should_restart
from runtime.native.view import container_info, container_summary
from runtime.native.volumes import Volumes
from runtime.types import (
    ContainerConfig,
    ContainerInfo,
    ContainerSummary,
    ExecResult,
    ImageInfo,
    NetworkAttach,
    NetworkConfig,
    NetworkInfo,
    ResourceSpec,
    RestartSpec,
    VolumeConfig,
    VolumeInfo,
)

DEFAULT_STATE_DIR = Path("/var/lib/dockwright")


class NativeDriver:
    """Containers run by crun/runc under conmon, on overlayfs, networked with pyroute2."""

    name = "native"

    def __init__(
        self,
        state_dir: str | Path | None = None,
        *,
        runtime: str | None = None,
        images: ImageStoreLike | None = None,
        network: NetworkLike | None = None,
        **_: Any,
    ) -> None:
        if os.geteuid() != 0:
            raise Unavailable(
                "the native runtime needs root (namespaces, cgroups, mounts)",
                hint="run dockwright as root, or use --runtime docker",
            )
        self.state_dir = Path(
            state_dir or os.environ.get("DOCKWRIGHT_STATE_DIR") or DEFAULT_STATE_DIR
        ).resolve()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.oci = OciRuntime(self.state_dir, prefer=runtime)
        supervise.conmon_binary()
        if not Path(TINI).exists():
            raise Unavailable(
                f"{TINI} (the containers' init) is missing",
                hint="apt-get install tini (Debian's package ships tini-static)",
            )
        self.records = RecordStore(self.state_dir)
        self.volumes = Volumes(self.state_dir)
        self.volumes.sweep_trash()  # removals a crash interrupted
        if images is None:
            from runtime.native.images import ImageStore

            images = ImageStore(self.state_dir / "images")
        if network is None:
            from runtime.native.net import NetworkManager

            network = NetworkManager(self.state_dir)
        self.images: ImageStoreLike = images
        self.net: NetworkLike = network
        self.containers = Containers(
            self.state_dir, self.records, self.oci, self.images, self.net, self.volumes
        )
        events.rotate(self.state_dir / "events.log")
        live = gc.full_sweep(self.records, self.oci, self.net, self.containers.spawn_health)
        self._resume_restart_policies(live)

    def _resume_restart_policies(self, live: list[Record]) -> None:
        """Restart containers whose policy wants it but whose restart chain broke.

        (A host reboot or a killed exit shim; Docker does the same when its daemon starts.)
        """
        shims = gc.shim_pids(self.state_dir)
        for rec in live:
            if (
                rec.phase == READY
                and rec.state == "exited"
                and rec.id not in shims
                and should_restart(rec, rec.exit_code or 0)
                and not supervise.pid_alive(rec.conmon_pid)
            ):
                with contextlib.suppress(RuntimeError_):
                    self.containers.start(rec.id)

    def ping(self) -> None:
        if not self.oci.path.exists():
            raise Unavailable(f"the OCI runtime wrapper {self.oci.path} is missing")

    def close(self) -> None:
        """Let the network manager finish background work (e.g. stop an idle port proxy)."""
        closer = getattr(self.net, "close", None)
        if callable(closer):
            closer()

    def gc(self) -> list[Record]:
        """Clean up what dead operations left; return the live records."""
        return gc.sweep(self.records, self.oci, self.net)

    # containers -------------------------------------------------------------
    def list_containers(self, labels: Mapping[str, str] | None = None) -> list[ContainerSummary]:
        want = dict(labels or {})
        out = []
        for rec in self.gc():
            have = dict(rec.config.labels)
            if rec.phase == READY and all(have.get(k) == v for k, v in want.items()):
                out.append(container_summary(rec))
        return out

    def _record(self, ref: str) -> Record:
        rec = self.records.read(self.records.resolve(ref))
        if rec.phase != READY:
            raise NotFound(f"no such container: {ref} (it is being {rec.phase})")
        return rec

    def inspect_container(self, ref: str) -> ContainerInfo:
        rec = self._record(ref)
        if legacyanon.pending(self.records, rec):  # so that a recreate carries them over
            rec = legacyanon.migrate_free(self.records, rec.id) or rec
        rec = gc.refresh(self.records, rec)
        stored = self.images.get(rec.image_id)
        image = stored.info if stored is not None else ImageInfo(id=rec.image_id)
        return container_info(rec, image)

    def create_container(self, config: ContainerConfig) -> str:
        return self.containers.create(config)

    def start_container(self, ref: str) -> None:
        self.containers.start(ref)

    def stop_container(self, ref: str, timeout: float | None = None) -> None:
        self.containers.stop(ref, timeout)

    def remove_container(self, ref: str, *, force: bool = True) -> None:
        self.containers.remove(ref, force)

    def rename_container(self, ref: str, new_name: str) -> None:
        self.containers.rename(ref, new_name)

    def update_container(
        self, ref: str, *, restart: RestartSpec | None = None,
        resources: ResourceSpec | None = None, networks: Sequence[NetworkAttach] | None = None,
    ) -> None:
        self.containers.update(ref, restart, resources, networks)

    def connect_network(self, ref: str, attach: NetworkAttach) -> None:
        netchange.connect(self.containers, ref, attach)

    def disconnect_network(self, ref: str, network: str) -> None:
        netchange.disconnect(self.containers, ref, network)

    def unpause_container(self, ref: str) -> None:
        self._record(ref)  # the native runtime never pauses: a known container is done

    def exec_in(self, ref: str, command: Sequence[str], *, tty: bool = False) -> ExecResult:
        rec = self._record(ref)
        if not self.containers.running(rec):
            raise Conflict(f"container {rec.name} is not running", hint="start it first")
        if not command:
            raise InvalidRequest("exec needs a command", hint="dockwright exec NAME -- CMD ...")
        process = dict(logs.process_of(self.records.layout(rec.id)))
        process.update(args=list(command), terminal=False)
        return self.oci.exec(rec.id, process, timeout=300.0, tty=tty)

    def logs(self, ref: str, *, follow: bool = False, tail: int | None = None) -> Iterator[bytes]:
        rec = self._record(ref)
        lay = self.records.layout(rec.id)

        def still_running() -> bool:
            try:
                return self.containers.running(self.records.read(rec.id))
            except NotFound:
                return False

        return logs.read_log(lay.log, follow=follow, tail=tail, alive=still_running)

    # images -----------------------------------------------------------------
    def image_info(self, ref: str) -> ImageInfo | None:
        stored = self.images.get(ref)
        info: ImageInfo | None = None if stored is None else stored.info
        return info

    def pull_image(self, ref: str) -> ImageInfo:
        info: ImageInfo = self.images.pull(ref).info
        return info

    def build_image(
        self,
        context: Path,
        tag: str,
        *,
        dockerfile: str | None = None,
        args: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> ImageInfo:
        raise InvalidRequest(
            f"the native runtime cannot build images (asked to build {tag} from {context})",
            hint="build the image with Docker and use image = { archive = ... }, "
            "or push it to a registry",
        )

    def load_image(self, archive: Path) -> list[str]:
        try:
            return self.images.load_archive(archive)
        except NotFound as exc:
            raise ImageError(str(exc.message), hint=exc.hint) from exc

    # volumes and networks ---------------------------------------------------
    def list_volumes(self, labels: Mapping[str, str] | None = None) -> list[VolumeInfo]:
        return self.volumes.list(labels)

    def create_volume(self, config: VolumeConfig) -> VolumeInfo:
        return self.volumes.create(config)

    def remove_volume(self, name: str) -> None:
        users = [
            rec.name
            for rec in self.records.all()
            if any(m.get("volume") == name for m in rec.mounts)
        ]
        self.volumes.remove(name, users)

    def list_networks(self, labels: Mapping[str, str] | None = None) -> list[NetworkInfo]:
        want = dict(labels or {})
        return [
            n for n in self.net.list_networks() if all(n.label(k) == v for k, v in want.items())
        ]

    def create_network(self, config: NetworkConfig) -> NetworkInfo:
        if any(n.name == config.name for n in self.net.list_networks()):
            raise Conflict(f"network {config.name!r} already exists")
        return self.net.ensure_network(config)

    def remove_network(self, name: str) -> None:
        try:
            self.net.remove_network(name)
        except Conflict as exc:
            users = sorted(
                r.name for r in self.records.all() if any(n == name for n, _ in r.ip_addresses)
            )
            if not users:
                raise
            raise Conflict(
                f"network {name} is in use by container(s) {', '.join(users)}",
                hint="remove those containers first",
            ) from exc

    # events -----------------------------------------------------------------
    def events(self, labels: Mapping[str, str] | None = None,
               ids: IdSet | None = None) -> EventTail:
        return EventTail(self.state_dir / "events.log", labels, ids)

