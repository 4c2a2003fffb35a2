"""Rediscovery and garbage collection of the native runtime's objects.

Role: :func:`teardown` removes everything of one container id, idempotently
and in an order that a crash can interrupt at any point (shim, container,
conmon, published ports, veths, netns, rootfs mounts, cgroups, the
anonymous volumes of a create that never finished (``anonvols``; a container
that was ready keeps them, and its pre-upgrade anonymous folders become
volumes first, ``legacyanon``), files; the container's folder goes last, so a
later pass still knows the id).
:func:`sweep` is the cheap pass the driver runs before each list: one walk
over the records; records left ``creating``/``deleting`` (or folders without
a record) whose operation lock is free belong to a dead controller and are
torn down; running records whose exit file exists or whose conmon is gone are
marked stopped. :func:`full_sweep` (driver start-up) also joins the OCI
runtime's list, conmon and shim processes, mountinfo and the network
manager's leftovers, kills what has no record, and re-adopts running
containers whose shim died, and migrates pre-upgrade anonymous folders
(``legacyanon.migrate_all``). Neighbours: ``driver``, ``records``, ``oci``,
``supervise``, ``rootfs``, ``anonvols``, ``legacyanon``, ``deps.NetworkLike``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path

from runtime.errors import NotFound, RuntimeError_
from runtime.native import anonvols, legacyanon, rootfs, supervise
from runtime.native.deps import NetworkLike
from runtime.native.oci import OciRuntime
from runtime.native.records import CREATING, DELETING, READY, Record, RecordStore, now_iso

CGROUP_ROOT = Path("/sys/fs/cgroup")
SHIM_MODULE = b"runtime.native.shim"


def shim_pids(state_dir: Path) -> dict[str, int]:
    """Running shims of ``state_dir`` -> the container id each watches."""
    found: dict[str, int] = {}
    want = str(state_dir).encode()
    for pid, parts in supervise.proc_cmdlines():
        if SHIM_MODULE in parts:
            i = parts.index(SHIM_MODULE)
            if len(parts) > i + 2 and parts[i + 1] == want:
                found[parts[i + 2].decode(errors="replace")] = pid
    return found


def is_shim_of(pid: int | None, cid: str) -> bool:
    if not pid:
        return False
    try:
        parts = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return SHIM_MODULE in parts and cid.encode() in parts and supervise.pid_alive(pid)


def kill_shim(records: RecordStore, cid: str, pid: int | None, *, scan: bool = True) -> None:
    """Kill the shim ``pid`` of ``cid``; with ``scan`` also any other found in /proc."""
    pids = {pid} if is_shim_of(pid, cid) else set()
    found = shim_pids(records.root.parent).get(cid) if scan else None
    if found:
        pids.add(found)
    for p in pids:
        if p:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGKILL)


def cgroup_dirs(cid: str) -> list[Path]:
    found = []
    with contextlib.suppress(OSError):
        for ctrl in os.scandir(CGROUP_ROOT):
            path = Path(ctrl.path) / "dockwright" / cid
            if path.is_dir():
                found.append(path)
    return found


def remove_cgroups(cid: str) -> None:
    for path in cgroup_dirs(cid):
        for _ in range(50):
            try:
                path.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                with contextlib.suppress(OSError):
                    for pid in (path / "cgroup.procs").read_text().split():
                        with contextlib.suppress(ProcessLookupError, ValueError):
                            os.kill(int(pid), signal.SIGKILL)
                time.sleep(0.02)


def teardown(
    records: RecordStore, oci: OciRuntime, net: NetworkLike | None, cid: str, *, scan: bool = True
) -> None:
    """Remove every object of container ``cid``; safe to repeat after a crash at any point.

    ``scan`` also looks for processes of ``cid`` in /proc (crash recovery); a
    plain remove under the operation lock knows them from the record.
    """
    lay = records.layout(cid)
    rec: Record | None = None
    with contextlib.suppress(NotFound):
        rec = records.read(cid)
    scan = scan or rec is None
    kill_shim(records, cid, rec.shim_pid if rec else None, scan=scan)
    # conmon first: killed, it does not run its exit command (the shim) for this exit
    supervise.kill_conmon(lay)
    conmon = supervise.conmon_pids().get(cid) if scan else None
    if conmon and supervise.pid_alive(conmon):
        with contextlib.suppress(ProcessLookupError):
            os.kill(conmon, signal.SIGKILL)
    if scan or (oci.root / cid).exists():
        with contextlib.suppress(RuntimeError_):
            oci.delete(cid, force=True)  # --force kills what still runs
    if scan:
        with contextlib.suppress(RuntimeError_):
            oci.kill(cid, "KILL", all_procs=True)
            oci.delete(cid, force=True)
    if net is not None:
        for step in (net.unpublish, net.detach, net.delete_netns, net.release):
            with contextlib.suppress(RuntimeError_, OSError):
                step(cid)
    rootfs.unmount_all(lay.rootfs)
    remove_cgroups(cid)
    if rec is not None and rec.phase != CREATING and legacyanon.pending(records, rec):
        legacyanon.migrate(records, cid)  # never delete a pre-upgrade container's data
    if rec is not None:
        anonvols.drop_fresh(records, rec)  # a create that never finished; else they stay
        records.release_name(rec.name, cid)
    with contextlib.suppress(FileNotFoundError):
        lay.record.unlink()  # from here on the folder is a leftover without a record
    shutil.rmtree(lay.dir, ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        (records.locks / cid).unlink()


def refresh(records: RecordStore, rec: Record) -> Record:
    """Mark a record stopped when its container is gone and no shim is there to say so."""
    lay = records.layout(rec.id)
    if rec.state == "exited" and rec.exit_code == 137 and not rec.oom:
        status = supervise.exit_status(lay)
        if status is not None and status[1]:
            with contextlib.suppress(NotFound):
                return records.update(rec.id, lambda r: setattr(r, "oom", True))
    if rec.state != "running":  # "restarting" belongs to the exit shim (full_sweep: orphans)
        return rec
    status = supervise.exit_status(lay)
    if status is None and supervise.pid_alive(rec.conmon_pid):
        return rec
    code, oom = status if status is not None else (255, False)

    def change(r: Record) -> None:
        if r.state == "running" and r.started_at == rec.started_at:
            r.state, r.exit_code, r.oom, r.pid = "exited", code, oom, None
            r.finished_at = r.finished_at or now_iso()

    try:
        return records.update(rec.id, change)
    except NotFound:
        return rec


def _settle_restarting(r: Record) -> None:
    if r.state == "restarting":
        r.state = "exited"


def sweep(
    records: RecordStore, oci: OciRuntime, net: NetworkLike | None
) -> list[Record]:
    """One pass over the records: clean up dead operations, refresh stale states."""
    live: list[Record] = []
    for cid in records.ids():
        try:
            rec: Record | None = records.read(cid)
        except NotFound:
            rec = None
        if rec is None or rec.phase in (CREATING, DELETING):
            if rec is None and not records.layout(cid).dir.exists():
                continue
            with records.hold(cid, blocking=False) as free, \
                    contextlib.suppress(legacyanon.Stuck):  # kept; a remove says why
                if free:  # the process that was creating/deleting it died
                    teardown(records, oci, net, cid)
            continue
        live.append(refresh(records, rec))
    return live


def full_sweep(
    records: RecordStore,
    oci: OciRuntime,
    net: NetworkLike | None,
    respawn_shim: Callable[[Record], None],
) -> list[Record]:
    """Start-up rediscovery: :func:`sweep`, then kill and remove what has no record."""
    live = sweep(records, oci, net)
    known = set(records.ids())
    with contextlib.suppress(RuntimeError_):
        for entry in oci.list():
            cid = str(entry.get("id", ""))
            if cid and cid not in known:
                with contextlib.suppress(RuntimeError_):
                    oci.kill(cid, "KILL", all_procs=True)
                    oci.delete(cid, force=True)
                remove_cgroups(cid)
    prefix = str(records.root).encode()
    for cid, pid in supervise.conmon_pids().items():
        if cid in known:
            continue
        with contextlib.suppress(OSError):
            if prefix in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.kill(pid, signal.SIGKILL)
    for cid, pid in shim_pids(records.root.parent).items():
        if cid not in known:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    for point in rootfs.mounts_under(records.root):
        cid = Path(point).relative_to(records.root).parts[0]
        if cid not in known:
            with contextlib.suppress(RuntimeError_):
                rootfs.unmount_all(Path(point))
    for name in os.listdir(records.names):  # names whose container is gone
        owner = records.name_owner(name)
        if owner is not None and not records.layout(owner).dir.exists():
            records.release_name(name, owner)  # (records are written before names)
    if net is not None:
        with contextlib.suppress(RuntimeError_, OSError):
            net.gc(set(records.ids()))  # in-progress creates of others stay
    shims = shim_pids(records.root.parent)
    for rec in live:  # a restart whose exit shim died: settle (the driver may restart it)
        if rec.state == "restarting" and rec.id not in shims:
            with contextlib.suppress(NotFound):
                records.update(rec.id, _settle_restarting)
                rec.state = "exited"
    for rec in live:  # health checkers die with a host reboot or a kill; adopt the container
        if (
            rec.phase == READY
            and rec.state == "running"
            and rec.health_spec() is not None
            and not is_shim_of(rec.shim_pid, rec.id)
        ):
            respawn_shim(rec)
    legacyanon.migrate_all(records, live)  # pre-upgrade anonymous folders become volumes
    return live
