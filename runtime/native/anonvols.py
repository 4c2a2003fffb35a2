"""Anonymous volumes of the native runtime: named at create, kept at remove.

Role: a ``"/x"`` mount (a volume mount without a source) and an image
``VOLUME`` path that no mount of the container covers get a volume of their
own in the volume store (``volumes``) under a generated 64-hex name, as
Docker names them. :func:`assign` (pure) picks the names; the container's
record lists them in ``fresh_volumes`` BEFORE any of them is created, so
:func:`drop_fresh` can remove the ones of a create that failed or whose
process died (``gc.teardown`` of a record still ``creating``). A removed
container keeps them (only ``down --volumes`` removes them, through
``controller.planning.anonymous``); :func:`reported` gives them back as
``ContainerInfo.anonymous_volumes``, inherited ones included, as the Docker
driver does, so the controller carries them over to a replacement, which then
mounts them by name. Neighbours: ``containers`` (create), ``gc`` (teardown),
``view`` (inspect), ``volumes``, ``records``.
"""

from __future__ import annotations

import contextlib
import posixpath
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from runtime.errors import Conflict, NotFound
from runtime.native.records import CREATING, Record, RecordStore
from runtime.native.volumes import ANONYMOUS_NAME, Volumes
from runtime.types import ContainerConfig, MountSpec


def new_name() -> str:
    """A fresh anonymous volume name (64 hex digits, like Docker's)."""
    return secrets.token_hex(32)


def _path(target: str) -> str:
    return posixpath.normpath(target)


def assign(
    config: ContainerConfig, image_volumes: Iterable[str], inherited: Iterable[str]
) -> tuple[ContainerConfig, list[str]]:
    """``config`` with a generated volume name at each anonymous mount and an extra volume
    mount at each image ``VOLUME`` path that neither a mount of ``config`` nor a target
    ``inherited`` through ``volumes_from`` covers; and the names generated (to record)."""
    fresh: list[str] = []
    mounts: list[MountSpec] = []
    for m in config.mounts:
        if m.type == "volume" and not m.source:
            m = replace(m, source=new_name())
            fresh.append(m.source or "")
        mounts.append(m)
    covered = {_path(m.target) for m in config.mounts} | {_path(t) for t in inherited}
    for target in sorted({_path(v) for v in image_volumes if v.startswith("/")} - covered):
        name = new_name()
        fresh.append(name)
        mounts.append(MountSpec(type="volume", target=target, source=name))
    if not fresh:
        return config, []
    return replace(config, mounts=tuple(mounts)), fresh


def reported(mounts: Sequence[Mapping[str, Any]]) -> tuple[MountSpec, ...]:
    """The anonymous volumes among a record's resolved mounts, sorted by target."""
    out = [
        MountSpec(type="volume", target=str(m["destination"]), source=str(m["volume"]),
                  read_only="ro" in (m.get("options") or ()))
        for m in mounts
        if ANONYMOUS_NAME.match(str(m.get("volume") or ""))
    ]  # fmt: skip
    return tuple(sorted(out, key=lambda m: m.target))


def drop_fresh(records: RecordStore, rec: Record) -> None:
    """Remove the volumes a create of ``rec`` generated, if that create never finished
    (``rec`` still ``creating``). A volume another record mounts stays (never expected:
    the names are new; a guard against deleting data in use)."""
    if rec.phase != CREATING or not rec.fresh_volumes:
        return
    volumes = Volumes(records.root.parent)
    in_use = {
        str(m.get("volume"))
        for other in records.all()
        if other.id != rec.id
        for m in other.mounts
    }
    for name in rec.fresh_volumes:
        if name in in_use or not ANONYMOUS_NAME.match(name):
            continue
        with contextlib.suppress(NotFound, Conflict, OSError):
            volumes.remove(name, ())
