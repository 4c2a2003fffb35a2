"""Atomic file writes with one fsync policy.

Role: every file dockwright keeps (the update ledger, the spec cache, the recipe
snapshot, native container records, native image and network state) is written
through :func:`write_atomic`: a temporary file in the same folder (so the rename
never crosses a file system), created with the caller's mode, written and
fsynced; then ``os.replace`` onto the target and an fsync of the folder, so after
a crash or a power loss the target is either the old file or the new one, whole.
A failure removes the temporary file, leaves the old file untouched and raises
:class:`WriteError` (an ``OSError``) naming the file, chained to its cause.
Neighbours: :mod:`dwutil.lock` (read-modify-write cycles hold a lock around it).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


class WriteError(OSError):
    """A file could not be written; the old content (if any) is intact."""


def write_atomic(path: Path, data: bytes | str, *, mode: int) -> None:
    """Replace ``path`` by ``data`` (str: UTF-8) atomically and durably; the file gets
    ``mode`` (before the umask). The folder must exist."""
    payload = data.encode() if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    except OSError as exc:
        raise WriteError(exc.errno, f"cannot write {path}: {exc.strerror}", str(path)) from exc
    try:
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as exc:
        try:  # noqa: SIM105 - the original failure is what the caller must see
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise WriteError(exc.errno, f"cannot write {path}: {exc.strerror}",
                             str(path)) from exc
        raise
    fsync_folder(path.parent)


def fsync_folder(folder: Path) -> None:
    """Make a rename or creation in ``folder`` durable."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise WriteError(exc.errno, f"cannot sync folder {folder}: {exc.strerror}",
                         str(folder)) from exc
    try:
        os.fsync(fd)
    except OSError as exc:
        raise WriteError(exc.errno, f"cannot sync folder {folder}: {exc.strerror}",
                         str(folder)) from exc
    finally:
        os.close(fd)
