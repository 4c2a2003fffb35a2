"""Mounts between ``runtime.types.MountSpec`` values and Docker Engine API JSON.

Role: pure functions, no I/O, split out of ``runtime.docker.convert`` (which
calls them). :func:`mount_fields` spreads a config's mounts over
``HostConfig.Mounts`` (volumes), ``Binds`` (binds, so a missing host folder
is created as with ``docker run -v``) and ``Tmpfs``; :func:`configured` reads
them back from an inspected ``HostConfig`` (what was asked for, sorted by
target; a ``Tmpfs`` entry in another form than the one written here is the
``tmpfs`` key's, read by ``runtime.docker.hostconfig``); :func:`anonymous`
reads the top-level ``Mounts`` of an inspect (what is mounted) for the
volumes Docker named itself: image ``VOLUME`` paths, ``-v /x`` mounts and
such volumes carried over by a recreate
(``ContainerInfo.anonymous_volumes``). Neighbours: ``runtime.docker.convert``,
``runtime.types``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from runtime.types import MountSpec

JSON = dict[str, Any]
ANONYMOUS_NAME = re.compile(r"^[0-9a-f]{64}$")  # the names Docker gives anonymous volumes
_MOUNT_FORM = re.compile(r"^(rw|ro)(,size=[1-9][0-9]*)?$")  # the options mount_fields writes
_UNITS = {"k": 1024, "m": 1024**2, "g": 1024**3}


def mount_fields(mounts: Iterable[MountSpec]) -> tuple[list[JSON], list[str], dict[str, str]]:
    """``(HostConfig.Mounts, HostConfig.Binds, HostConfig.Tmpfs)`` for a config's mounts."""
    items: list[JSON] = []
    binds: list[str] = []
    tmpfs: dict[str, str] = {}
    for mount in mounts:
        if mount.type == "bind":
            # Binds (not Mounts) so that a missing host directory is created, as `docker run -v`.
            binds.append(f"{mount.source}:{mount.target}:{'ro' if mount.read_only else 'rw'}")
            continue
        if mount.type == "tmpfs":
            # HostConfig.Tmpfs, not Mounts: a tmpfs in Mounts breaks `volumes_from` of this
            # container ("get: no such volume"); Tmpfs is not inherited, as in `docker run`.
            opts = ["ro" if mount.read_only else "rw"]
            opts += [f"size={mount.size}"] if mount.size else []
            tmpfs[mount.target] = ",".join(opts)
            continue
        item: JSON = {"Type": mount.type, "Target": mount.target, "ReadOnly": mount.read_only}
        if mount.source:
            item["Source"] = mount.source
        items.append(item)
    return items, binds, tmpfs


def is_mount_form(options: str) -> bool:
    """Whether ``HostConfig.Tmpfs`` options are those :func:`mount_fields` writes for a
    ``volumes`` tmpfs mount (``rw``/``ro``, a size in bytes); other entries come from the
    ``tmpfs`` key (``runtime.docker.hostconfig``)."""
    return bool(_MOUNT_FORM.match(options))


def _size(text: str) -> int | None:
    """A tmpfs ``size=`` option (bytes, or with a k/m/g suffix) in bytes."""
    text = text.strip().lower()
    factor = _UNITS.get(text[-1:], 1)
    digits = text[:-1] if text[-1:] in _UNITS else text
    return int(digits) * factor if digits.isdigit() else None


def configured(host: JSON) -> tuple[MountSpec, ...]:
    """The mounts an inspected ``HostConfig`` asks for, sorted by target."""
    out: list[MountSpec] = []
    for item in host.get("Mounts") or []:
        size = (item.get("TmpfsOptions") or {}).get("SizeBytes") or None
        out.append(
            MountSpec(
                type=item.get("Type") or "volume",
                target=item["Target"],
                source=item.get("Source") or None,
                read_only=bool(item.get("ReadOnly")),
                size=size,
            )
        )
    for bind in host.get("Binds") or []:
        parts = bind.split(":")
        source, target = parts[0], parts[1] if len(parts) > 1 else parts[0]
        opts = parts[2].split(",") if len(parts) > 2 else []
        kind = "bind" if source.startswith("/") else "volume"
        out.append(MountSpec(type=kind, target=target, source=source, read_only="ro" in opts))
    for target, opts in (host.get("Tmpfs") or {}).items():
        if not is_mount_form(opts or ""):
            continue  # an entry of the ``tmpfs`` key
        options = opts.split(",")
        size = next((_size(o[5:]) for o in options if o.startswith("size=")), None)
        out.append(MountSpec(type="tmpfs", target=target, read_only="ro" in options, size=size))
    return tuple(sorted(out, key=lambda m: m.target))


def anonymous(data: JSON) -> tuple[MountSpec, ...]:
    """The volumes an inspected container has mounted under a name Docker generated
    (64 hex digits), inherited ones included, sorted by target."""
    out = [
        MountSpec(type="volume", target=item["Destination"], source=item["Name"],
                  read_only=not item.get("RW", True))
        for item in data.get("Mounts") or []
        if item.get("Type") == "volume" and ANONYMOUS_NAME.match(item.get("Name") or "")
    ]
    return tuple(sorted(out, key=lambda m: m.target))
