"""Secret and config files as read-only bind mounts, and the label that names them.

Role: the Docker and native drivers place each ``FileMount`` of a config as a
read-only bind mount of its ``source`` (a copy in the state folder) at its
``target``, and record the list in the label ``io.dockwright.file-mounts`` (kind,
name, target, keyed digest, mode, owner, source: never the content). On inspect,
:func:`split` rebuilds ``ContainerConfig.files`` from that label, keeping only the
entries whose bind mount is really there, and takes those binds out of the
user's ``mounts``; so a container compares equal to its spec and a missing bind
is a difference. :func:`sources` reads the copies a listed container uses from
its labels alone (the controller removes copies no container uses). Neighbours:
``runtime.types`` (``FileMount``, ``MountSpec``), ``runtime.docker.convert``,
``runtime.native.driver``; pure.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable

from runtime.types import ContainerConfig, FileMount, MountSpec, Pairs, pairs

LABEL_FILE_MOUNTS = "io.dockwright.file-mounts"
_FIELDS = tuple(f.name for f in dataclasses.fields(FileMount))


def encode(files: Iterable[FileMount]) -> str:
    """The label's value: a compact JSON list of the mounts' fields."""
    return json.dumps([[getattr(f, name) for name in _FIELDS] for f in files],
                      separators=(",", ":"))


def decode(text: str | None) -> tuple[FileMount, ...]:
    """The mounts a label names; () for a missing or damaged label."""
    try:
        rows = json.loads(text) if text else []
        return tuple(sorted((FileMount(*row) for row in rows), key=lambda f: f.target))
    except (ValueError, TypeError):
        return ()


def bind(file: FileMount) -> MountSpec:
    """The read-only bind mount that places ``file``."""
    return MountSpec("bind", file.target, file.source, read_only=True)


def labelled(config: ContainerConfig) -> ContainerConfig:
    """``config`` with its file mounts recorded in the label (and none when it has none)."""
    labels = {k: v for k, v in config.labels if k != LABEL_FILE_MOUNTS}
    if config.files:
        labels[LABEL_FILE_MOUNTS] = encode(config.files)
    return dataclasses.replace(config, labels=pairs(labels))


def split(labels: Pairs, mounts: Iterable[MountSpec]
          ) -> tuple[tuple[FileMount, ...], tuple[MountSpec, ...]]:
    """(the file mounts the label names whose bind is present, the other mounts)."""
    present = {(m.source, m.target) for m in mounts if m.type == "bind" and m.read_only}
    files = tuple(f for f in decode(dict(labels).get(LABEL_FILE_MOUNTS))
                  if (f.source, f.target) in present)
    placed = {(f.source, f.target) for f in files}
    rest = tuple(m for m in mounts if m.type != "bind" or (m.source, m.target) not in placed
                 or not m.read_only)
    return files, rest


def sources(labels: Pairs) -> set[str]:
    """The copies a container uses, from its labels alone."""
    return {f.source for f in decode(dict(labels).get(LABEL_FILE_MOUNTS))}
