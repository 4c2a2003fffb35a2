"""Upgrade: the anonymous folders of containers created before anonymous volumes.

Role: before anonymous volumes were store volumes (``anonvols``), a ``"/x"``
mount of a native container was the folder
``<state_dir>/containers/<id>/anon/<sha256(target)[:16]>``, bind-mounted with
``"volume": ""`` in the record's resolved mounts (and in ``config.json``), and
deleted with the container. :func:`migrate` turns each such folder into a
store volume whose name is derived from the container id and the folder
(:func:`volume_name`: 64 hex digits, fixed by the record itself, so a crash
at any step is finished by the next pass with the same name and nothing is
duplicated): the volume is made, the folder is renamed onto its empty
``_data`` (atomic, same filesystem; a running container keeps its bind mount,
which follows the inode, so it writes into the volume from then on), marked
populated (no copy-up over the user's data), then ``config.json`` and the
record point at the volume. From then on the container is an ordinary one of
this version: ``anonvols.reported`` lists the volume, a recreate carries it
over, a remove keeps it and ``down --volumes`` removes it. Mounts a container
inherited (``volumes_from``) from a legacy folder of another container are
repointed once that one's folder has moved. Callers hold the container's
operation lock: the driver's start-up sweep and inspect (:func:`migrate_free`,
skipping a busy container) and ``gc.teardown``, which migrates before it
deletes a ready container's folder. Neighbours: ``gc``, ``driver``,
``records``, ``volumes``, ``anonvols``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dwutil.atomic import write_atomic
from runtime.errors import Conflict, NotFound
from runtime.native.records import Record, RecordStore
from runtime.native.volumes import POPULATED, Volumes

FOLDER = "anon"  # <state_dir>/containers/<id>/anon/<digest>
_DIGEST = re.compile(r"^[0-9a-f]{16}$")
_ID = re.compile(r"^[0-9a-f]{64}$")


class Stuck(Conflict):
    """A legacy folder cannot be renamed into its volume (another filesystem, or the
    volume holds other data): it stays where it is and its container is not deleted."""


def volume_name(cid: str, digest: str) -> str:
    """The store volume that the legacy folder ``digest`` of container ``cid`` becomes."""
    return hashlib.sha256(f"dockwright-anon:{cid}:{digest}".encode()).hexdigest()


def _legacy(records: RecordStore, entry: Mapping[str, Any]) -> tuple[str, str] | None:
    """(owner id, digest) when ``entry`` mounts a legacy anonymous folder."""
    if entry.get("volume") or entry.get("type") != "bind":
        return None
    src = Path(str(entry.get("source") or ""))
    if (src.parent.name != FOLDER or src.parent.parent.parent != records.root
            or not _ID.match(src.parent.parent.name) or not _DIGEST.match(src.name)):
        return None
    return src.parent.parent.name, src.name


def pending(records: RecordStore, rec: Record) -> bool:
    """Whether ``rec`` still mounts a legacy folder (a cheap check, no file access)."""
    return any(_legacy(records, m) for m in rec.mounts)


def _move(volumes: Volumes, name: str, folder: Path) -> None:
    data = volumes.ensure(name)  # empty until the rename; a crash here leaves it empty
    if folder.is_dir():
        try:
            os.rename(folder, data)  # replaces the empty _data atomically
        except OSError as exc:
            raise Stuck(
                f"cannot move the anonymous folder {folder} into volume {name}: {exc}",
                hint=f"move its content into {data} (an empty folder) by hand, then retry",
            ) from exc
    (volumes.root / name / POPULATED).touch()


def _repoint(entries: Iterable[dict[str, Any]], moved: Mapping[str, tuple[str, str]],
             *, with_volume: bool) -> list[dict[str, Any]]:
    out = []
    for m in entries:
        hit = moved.get(str(m.get("source"))) if not m.get("volume") else None
        if hit is not None:
            m = {**m, "source": hit[1]}
            if with_volume:
                m["volume"] = hit[0]
        out.append(m)
    return out


def migrate(records: RecordStore, cid: str) -> Record:
    """Move the legacy folders of ``cid`` into volumes and repoint its mounts; idempotent.

    The caller holds the operation lock of ``cid``."""
    rec = records.read(cid)
    found = {str(m["source"]): hit for m in rec.mounts if (hit := _legacy(records, m))}
    if not found:
        return rec
    volumes = Volumes(records.root.parent)
    moved: dict[str, tuple[str, str]] = {}  # legacy source -> (volume, its data folder)
    for source, (owner, digest) in sorted(found.items()):
        name = volume_name(owner, digest)
        if owner == cid:
            _move(volumes, name, Path(source))
        elif Path(source).exists() or not volumes.data_dir(name).is_dir():
            continue  # inherited: its owner has not moved it yet (or it is gone)
        moved[source] = (name, str(volumes.data_dir(name)))
    if not moved:
        return rec
    lay = records.layout(cid)
    try:
        spec = json.loads(lay.config.read_text())
    except FileNotFoundError:
        spec = None
    if spec is not None:
        spec["mounts"] = _repoint(spec.get("mounts", []), moved, with_volume=False)
        write_atomic(lay.config, json.dumps(spec), mode=0o644)

    def change(r: Record) -> None:
        r.mounts = _repoint(r.mounts, moved, with_volume=True)

    return records.update(cid, change)


def migrate_free(records: RecordStore, cid: str) -> Record | None:
    """:func:`migrate` unless another operation holds the container (then None)."""
    with records.hold(cid, blocking=False) as free:
        if not free:
            return None
        try:
            return migrate(records, cid)
        except (NotFound, Stuck):  # gone; or kept where it is (a remove says why)
            return None


def migrate_all(records: RecordStore, recs: Iterable[Record]) -> None:
    """Driver start-up: migrate every record that needs it (owners first, then the
    containers that inherited their folders through ``volumes_from``)."""
    todo = [r.id for r in recs if pending(records, r)]
    for _ in range(2):
        for cid in todo:
            migrate_free(records, cid)
