"""Secrets and configs of a desired container: content read, keyed digest, the copy's path.

Role: turns a container recipe's ``FileStep`` values (``controller.desired.recipe``)
into ``runtime.types.FileMount`` values. Each file is read once (through the
caller's confined reader); its digest is an HMAC with the host key
(``controller.desired.hostkey``), never a plain hash and never the content; its
``source`` is the read-only copy the runtime bind-mounts:
``<state folder>/files/<runtime>/<project>/<digest>-<mode>-<uid>-<gid>``, named by
what the file is, so the same content with the same owner is one copy, and a
content change is a new copy (and a recreate: the digest is compared). The
content travels with the desired container (``Placed.contents``, never printed)
to ``controller.execution.copies``, which writes the copies before a create and
removes those no container uses. Neighbours: ``controller.desired.state`` (calls
:func:`place`), ``controller.desired.hostkey``. Pure apart from the reads the
caller does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from controller.desired.hostkey import KEYED_PREFIX, keyed_digest, state_dir
from controller.desired.recipe import FileStep
from runtime.types import FileMount

FILES_FOLDER = "files"


def copies_dir(runtime: str, project: str) -> Path:
    """The folder of one project's copies on one runtime."""
    return state_dir() / FILES_FOLDER / runtime / project


def copy_name(digest: str, mode: int, uid: int, gid: int) -> str:
    """A copy's file name: what it holds (the keyed digest) and how it is owned."""
    return f"{digest.removeprefix(KEYED_PREFIX)}-{mode:04o}-{uid}-{gid}"


@dataclass(frozen=True)
class Placed:
    """A container's secrets and configs, and the content of each copy (by its path)."""

    mounts: tuple[FileMount, ...] = ()
    contents: tuple[tuple[str, bytes], ...] = ()


def place(steps: Sequence[FileStep], runtime: str, project: str,
          read: Callable[[str, str], bytes]) -> Placed:
    """The file mounts of ``steps``; ``read(path, what)`` gives a file's bytes."""
    if not steps:
        return Placed()
    folder = copies_dir(runtime, project)
    mounts: list[FileMount] = []
    contents: dict[str, bytes] = {}
    for step in steps:
        data = read(step.path, f"{step.kind} file")
        digest = keyed_digest(data)
        source = str(folder / copy_name(digest, step.mode, step.uid, step.gid))
        contents[source] = data
        mounts.append(FileMount(step.kind, step.name, step.target, digest, step.mode,
                                step.uid, step.gid, source))
    return Placed(tuple(mounts), tuple(sorted(contents.items())))
