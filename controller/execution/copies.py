"""The read-only copies of secrets and configs that Docker and native containers mount.

Role: :func:`write` puts the copies a desired container mounts
(``ContainerConfig.files``, named by ``controller.desired.files``) in the state
folder before the container is created: written atomically (``dwutil.atomic``),
owned and moded as the spec asks, then renamed into place, so a copy is either
whole or absent; a copy already there with the right size, mode and owner is
kept (its name is its content's keyed digest). :func:`prune` removes, after a
pass or a ``down``, the copies of a project that no container of it mounts any
more (read from the containers' ``io.dockwright.file-mounts`` labels in one list
call, frozen and renamed-aside containers included); it runs under the project
lock, like every create, so no copy being written is removed. Neither ever prints
or logs a file's content. Neighbours: ``controller.execution.apply`` (calls both),
``controller.desired.files`` (paths), ``runtime.filemounts`` (the label).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from controller.desired.files import copies_dir
from controller.desired.state import DesiredContainer
from dwutil.atomic import fsync_folder, write_atomic
from runtime import filemounts
from runtime.driver import Driver
from runtime.errors import RuntimeError_
from runtime.types import LABEL_PROJECT, FileMount


class CopyError(OSError):
    """A copy could not be written; the container that needs it is not created."""


def _current(path: Path, file: FileMount, size: int) -> bool:
    try:
        st = os.lstat(path)
    except OSError:  # missing, or a folder of the path is not one: written (or refused) next
        return False
    return (stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == file.mode
            and (st.st_uid, st.st_gid, st.st_size) == (file.uid, file.gid, size))


def write(container: DesiredContainer) -> None:
    """Make sure every copy ``container`` mounts is in place; ``CopyError`` naming the
    secret or config (never its content) when one cannot be written."""
    contents = dict(container.file_contents)
    for file in container.config.files:
        data = contents.get(file.source)
        if data is None or not file.source:
            continue  # not a copy of this runtime (a Swarm object name)
        path = Path(file.source)
        if _current(path, file, len(data)):
            continue
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.new")  # replicas race
        try:
            for folder in reversed(path.parents[:3]):  # files/<runtime>/<project>: 0700
                folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_atomic(tmp, data, mode=0o600)
            os.chown(tmp, file.uid, file.gid)
            os.chmod(tmp, file.mode)
            os.replace(tmp, path)
            fsync_folder(path.parent)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise CopyError(exc.errno, f"cannot write the copy of {file.kind} {file.name!r} "
                            f"to {path}: {exc.strerror or exc} (is the state folder "
                            f"{path.parents[3]} writable?)") from exc


def prune(driver: Driver, project: str) -> list[str]:
    """Remove the project's copies that no container of it mounts; the paths removed.
    Never raises: a copy left now is removed by a later pass."""
    folder = copies_dir(driver.name, project)
    try:
        names = os.listdir(folder)
    except OSError:
        return []  # no copies (most projects): not even a list call
    try:
        used: set[str] = set()
        for summary in driver.list_containers({LABEL_PROJECT: project}):
            used |= filemounts.sources(summary.labels)
    except RuntimeError_:
        return []
    removed = []
    for name in names:
        path = folder / name
        if str(path) in used:
            continue
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(str(path))
    if len(removed) == len(names):
        with contextlib.suppress(OSError):
            folder.rmdir()
    return removed
