"""Container lifecycle of the native runtime: create, start, stop, remove, update.

Role: the steps behind the driver's container calls, in crash-safe order:
the record is written (phase ``creating``) and the operation lock held before
any kernel object exists; netns and veths (network manager), the overlay
rootfs, volumes (anonymous ones named and recorded first, ``anonvols``; with
copy-up), /etc files and the OCI bundle follow; the record turns ``ready``
last. ``start`` publishes ports (in a thread, while conmon starts the
process), refreshes /etc/hosts of the container and its peers (``etcfiles``,
which also writes a new container's /etc files), launches conmon (whose exit
command is the shim's exit mode) and, with a healthcheck, a detached health shim; ``stop`` marks
the record stopped-by-user (so the shim does not restart it) and signals;
``remove`` marks ``deleting`` and hands over to ``gc.teardown`` (which keeps
the anonymous volumes).
Neighbours: ``driver`` (thin facade), ``records``, ``etcfiles``, ``bundle``, ``rootfs``,
``supervise``, ``shim`` (spawned), ``gc``, ``volumes``, ``anonvols``, ``events``,
``deps``, ``runtime.imagedefaults`` (the healthcheck and stop signal a record keeps).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from runtime import filemounts
from runtime.errors import Conflict, InvalidRequest, NotFound, RuntimeError_
from runtime.imagedefaults import merge
from runtime.native import anonvols, bundle, events, gc, rootfs, shim, supervise
from runtime.native.deps import ImageStoreLike, NetworkLike
from runtime.native.etcfiles import ETC, EtcFiles
from runtime.native.oci import OciRuntime
from runtime.native.records import DELETING, READY, Record, RecordStore, new_id, now_iso
from runtime.native.volumes import Volumes
from runtime.types import (
    ContainerConfig,
    ImageInfo,
    NetworkAttach,
    PortBinding,
    ResourceSpec,
    RestartSpec,
)


class Containers:
    """The container calls of the native driver, each crash-safe under the record's lock."""

    def __init__(
        self,
        state_dir: Path,
        records: RecordStore,
        oci: OciRuntime,
        images: ImageStoreLike,
        net: NetworkLike,
        volumes: Volumes,
    ) -> None:
        self.state_dir = state_dir
        self.records, self.oci, self.images, self.net, self.volumes = (
            records, oci, images, net, volumes)  # fmt: skip
        self.events_log = state_dir / "events.log"
        self.etc = EtcFiles(records, net)

    def emit(self, rec: Record, action: str, detail: str = "") -> None:
        events.append(self.events_log, action, rec.id, rec.config.name, rec.config.labels, detail)

    # create ---------------------------------------------------------------
    def create(self, config: ContainerConfig) -> str:
        config = filemounts.labelled(config)  # the copies it uses, on its list row
        image = self.images.get(config.image)
        if image is None:
            raise NotFound(
                f"image {config.image} is not present in the native image store",
                hint="pull or load the image first (dockwright apply does this)",
            )
        info: ImageInfo = image.info
        effective = merge(config, info)
        hc = effective.healthcheck
        cid = new_id()
        with self.records.hold(cid):
            rec = Record(
                id=cid, name=config.name, config=config, image_id=image.id,
                image_ref=config.image,
                stop_signal=effective.stop_signal or "TERM",
                healthcheck=dataclasses.asdict(hc) if hc is not None else None,
            )  # fmt: skip
            self.records.write(rec)  # before anything else exists
            try:
                self.records.claim_name(config.name, cid)
                self._build(rec, image)
            except BaseException:
                with contextlib.suppress(Exception):
                    gc.teardown(self.records, self.oci, self.net, cid)
                raise
        self.emit(rec, "create")
        return cid

    def _build(self, rec: Record, image: Any) -> None:
        cid, config, lay = rec.id, rec.config, self.records.layout(rec.id)
        hostname = config.hostname or cid[:12]
        # network_mode "host": the host's network namespace; "container:NAME": NAME's (and
        # its /etc/hosts and resolv.conf); "none": one of its own with loopback only
        joined = self._joined(config.network_mode)
        if joined is not None:
            netns = joined.netns
        else:
            netns = "" if config.network_mode == "host" else self.net.create_netns(cid)
        ips = (
            self.net.attach(cid, config.networks, hostname, name=config.name,
                            mac=config.mac_address)
            if config.networks and config.network_mode is None else []
        )  # fmt: skip
        rootfs.mount_overlay(list(image.layers), lay.upper, lay.work, lay.rootfs)
        inherited = [m["destination"] for n, _ in config.volumes_from for m in self._mounts_of(n)]
        named, fresh = anonvols.assign(config, image.info.volumes, inherited)
        if fresh:  # recorded before they exist: a failed create removes them (gc.teardown)
            self.records.update(cid, lambda r: setattr(r, "fresh_volumes", fresh))
        mounts = bundle.resolve_mounts(named, self.volumes.ensure, self._mounts_of)
        for m in mounts:
            if m.get("volume"):
                self.volumes.populate(m["volume"], lay.rootfs / m["destination"].lstrip("/"))
        self.etc.write(cid, hostname, config)
        etc = {n: lay.etc(n) for n in ETC}
        if joined is not None:
            shared = self.records.layout(joined.id)
            etc.update({n: shared.etc(n) for n in ("hosts", "resolv.conf")})
        spec = bundle.build_spec(
            cid=cid, config=config, image=image.info, rootfs=lay.rootfs, netns=netns or None,
            etc_files=etc, mounts=mounts,
        )  # fmt: skip
        tmp = lay.config.with_suffix(".tmp")
        tmp.write_text(json.dumps(spec))
        tmp.replace(lay.config)

        def done(r: Record) -> None:
            r.phase, r.netns, r.ip_addresses, r.mounts = READY, netns, list(ips), mounts

        self.records.update(cid, done)

    def _joined(self, mode: str | None) -> Record | None:
        """The container whose network namespace ``network_mode = "container:NAME"``
        joins; None for any other mode."""
        if mode is None or not mode.startswith("container:"):
            return None
        name = mode[len("container:"):]
        try:
            target = self.records.read(self.records.resolve(name))
        except NotFound as exc:
            raise InvalidRequest(f"network_mode {mode!r}: container {name} does not exist",
                                 hint="create it first (dockwright orders it so)") from exc
        if not target.netns:
            raise InvalidRequest(f"network_mode {mode!r}: {name} is on the host's network",
                                 hint='use network_mode = "host" to join that directly')
        return target

    def _mounts_of(self, name: str) -> list[dict[str, Any]]:
        try:
            other = self.records.read(self.records.resolve(name))
        except NotFound as exc:
            raise InvalidRequest(
                f"volumes_from container {name!r} does not exist", hint="create it first"
            ) from exc
        return [m for m in other.mounts if m.get("type") == "bind"]

    # start / stop -------------------------------------------------------------
    def running(self, rec: Record) -> bool:
        lay = self.records.layout(rec.id)
        return (
            rec.state in ("running", "restarting")
            and supervise.exit_status(lay) is None
            and supervise.pid_alive(rec.conmon_pid)
        )

    def start(self, ref: str) -> None:
        cid = self.records.resolve(ref)
        with self.records.hold(cid):
            rec = self.records.read(cid)
            if rec.phase != READY:
                raise Conflict(f"container {rec.name} is being {rec.phase[:-3]}ed",
                               hint="retry in a moment")  # fmt: skip
            if self.running(rec):
                return
            gc.kill_shim(self.records, cid, rec.shim_pid, scan=False)
            lay = self.records.layout(cid)
            bundle.check_executable(json.loads(lay.config.read_text()), lay.rootfs)
            publishing = self._publish_async(rec)
            try:
                if not rec.started_at:  # first start: peers learn this name (IPs persist)
                    self.etc.refresh(rec)
                self.records.update(cid, lambda r: setattr(r, "stopped_by_user", False))
                token = shim.new_run_token()
                pid, conmon_pid = shim.launch(self.oci, self.state_dir, lay, rec, token)
                try:
                    ports = publishing.result()
                except BaseException:  # no restart policy may revive it: stopped by us
                    self.records.update(cid, lambda r: setattr(r, "stopped_by_user", True))
                    supervise.stop(self.oci, lay, "KILL", 0)
                    raise
            except BaseException:
                with contextlib.suppress(BaseException):
                    publishing.result()
                if rec.config.ports and not rec.host_ports:
                    with contextlib.suppress(RuntimeError_):
                        self.net.unpublish(cid)
                raise

            def started(r: Record) -> None:
                r.state, r.pid, r.conmon_pid, r.host_ports = "running", pid, conmon_pid, ports
                r.run_token = token
                r.exit_code, r.oom, r.stopped_by_user = None, False, False
                r.started_at, r.last_start, r.finished_at = now_iso(), time.time(), ""
                r.health = "starting" if r.health_spec() else "none"
                r.failing_streak = 0

            rec = self.records.update(cid, started)
            if rec.health_spec() is not None:
                self.spawn_health(rec)
        self.emit(rec, "start")

    def _publish_async(self, rec: Record) -> Future[list[PortBinding]]:
        """Publish the ports (if not yet) in a thread, while conmon starts the process."""
        result: Future[list[PortBinding]] = Future()
        if not rec.config.ports or rec.host_ports:
            result.set_result(list(rec.host_ports))
            return result
        if not rec.ip_addresses:
            result.set_exception(InvalidRequest(
                f"container {rec.name} publishes ports but is on no network",
                hint="attach it to a network",
            ))  # fmt: skip
            return result

        def work() -> None:
            try:
                ip = rec.ip_addresses[0][1]
                result.set_result(self.net.publish(rec.id, ip, rec.config.ports))
            except BaseException as exc:
                result.set_exception(exc)

        threading.Thread(target=work, name=f"publish-{rec.id[:12]}", daemon=True).start()
        return result

    def spawn_health(self, rec: Record) -> None:
        """Start the detached health-check process of ``rec`` and record its pid."""
        lay = self.records.layout(rec.id)
        env = {**os.environ, **shim.shim_env()}
        argv = [sys.executable, "-m", "runtime.native.shim", str(self.state_dir), rec.id, "health"]
        with lay.shim_log.open("ab") as log:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                start_new_session=True, cwd="/",
            )  # fmt: skip
        self.records.update(rec.id, lambda r: setattr(r, "shim_pid", proc.pid))

    def stop(self, ref: str, timeout: float | None) -> None:
        cid = self.records.resolve(ref)
        # flag first (an exit shim waiting to restart gives up), then under the lock
        # (a restart in progress finishes first, and this stop then ends it)
        self.records.update(cid, lambda r: setattr(r, "stopped_by_user", True))
        lay = self.records.layout(cid)
        with self.records.hold(cid):
            rec = self.records.read(cid)
            if rec.state in ("running", "restarting"):
                grace = timeout if timeout is not None else rec.config.stop_timeout
                grace = 10.0 if grace is None else grace
                status = supervise.stop(self.oci, lay, rec.stop_signal, grace)
                code, oom = status if status is not None else (137, False)

                def stopped(r: Record) -> None:
                    if r.state in ("running", "restarting"):
                        r.state, r.exit_code, r.oom, r.pid = "exited", code, oom, None
                        r.finished_at = now_iso()

                rec = self.records.update(cid, stopped)
                self.emit(rec, "stop")
            if (self.oci.root / cid).exists():
                with contextlib.suppress(RuntimeError_):
                    self.oci.delete(cid, force=True)
            if rec.host_ports:
                with contextlib.suppress(RuntimeError_):
                    self.net.unpublish(cid)
                self.records.update(cid, lambda r: setattr(r, "host_ports", []))

    def remove(self, ref: str, force: bool) -> None:
        cid = self.records.resolve(ref)
        rec = self.records.read(cid)
        if not force and self.running(rec):
            raise Conflict(
                f"container {rec.name} is running", hint="stop it first or remove with force"
            )
        with self.records.hold(cid):
            try:
                rec = self.records.update(cid, lambda r: setattr(r, "phase", DELETING))
            except NotFound:
                return
            gc.teardown(self.records, self.oci, self.net, cid, scan=False)
        self.emit(rec, "destroy")

    # in-place changes ---------------------------------------------------------
    def rename(self, ref: str, new_name: str) -> None:
        cid = self.records.resolve(ref)
        rec = self.records.read(cid)
        if new_name == rec.name:
            return
        self.records.claim_name(new_name, cid)

        def change(r: Record) -> None:
            r.name = new_name
            r.config = dataclasses.replace(r.config, name=new_name)

        self.records.update(cid, change)
        self.records.release_name(rec.name, cid)

    def update(self, ref: str, restart: RestartSpec | None, resources: ResourceSpec | None,
               networks: Sequence[NetworkAttach] | None = None) -> None:
        cid = self.records.resolve(ref)
        rec = self.records.read(cid)
        aliases = {n.network: tuple(n.aliases) for n in networks or ()}
        missing = set(aliases) - {n.network for n in rec.config.networks}
        if missing:
            raise Conflict(f"container {rec.name} is not on network(s) "
                           f"{', '.join(sorted(missing))}",
                           hint="a change of networks needs a recreate")
        if resources is not None:
            res = bundle.resources_json(resources)
            lay = self.records.layout(cid)
            spec = json.loads(lay.config.read_text())
            spec["linux"]["resources"] = {**spec["linux"]["resources"], **res}
            for key in ("memory", "cpu", "pids"):
                if key not in res:
                    spec["linux"]["resources"].pop(key, None)
            tmp = lay.config.with_suffix(".tmp")
            tmp.write_text(json.dumps(spec))
            tmp.replace(lay.config)
            if self.running(rec) and res:
                with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
                    json.dump(res, f)
                    f.flush()
                    self.oci.call("update", "--resources", f.name, cid)

        def change(r: Record) -> None:
            if restart is not None:
                r.config = dataclasses.replace(r.config, restart=restart)
            if resources is not None:
                r.config = dataclasses.replace(r.config, resources=resources)
            if aliases:
                r.config = dataclasses.replace(r.config, networks=tuple(
                    NetworkAttach(n.network, aliases.get(n.network, n.aliases))
                    for n in r.config.networks))

        self.records.update(cid, change)
        if aliases:
            self.net.set_aliases(cid, aliases)
            if self.running(rec):
                self.etc.refresh(self.records.read(cid))  # peers learn the new names
