"""An exclusive (or shared) inter-process lock on a file: ``flock``.

Role: the one lock helper of dockwright. :func:`locked` opens (creating, with the
caller's mode) the lock file, takes an ``flock`` on it and yields the open
descriptor (a holder may write a note into it); the lock goes with the
descriptor when the block ends, also when the process dies. ``blocking=False``
raises :class:`LockBusy` at once when another descriptor holds it; ``reentrant``
lets a thread that already holds the path enter again (other threads and
processes still wait). Failures other than a busy lock raise :class:`LockError`
naming the file, chained to their cause. Users: the update ledger, the project
lock of the controller, native container records, image store and network
state. Neighbours: :mod:`dwutil.atomic`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path

_held = threading.local()


class LockError(OSError):
    """The lock file could not be opened or locked."""


class LockBusy(LockError):
    """Another holder has the lock (only with ``blocking=False``)."""


@contextlib.contextmanager
def locked(path: Path, *, mode: int = 0o600, blocking: bool = True, shared: bool = False,
           reentrant: bool = False) -> Iterator[int]:
    """Hold an ``flock`` on ``path`` for the block; yields the lock file's descriptor
    (-1 when re-entered). The folder is created when missing."""
    held: set[str] = _held.__dict__.setdefault("paths", set())
    key = str(path)
    if reentrant and key in held:
        yield -1
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, mode)
    except OSError as exc:
        raise LockError(exc.errno, f"cannot open lock file {path}: {exc.strerror}",
                        str(path)) from exc
    try:
        flags = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | (0 if blocking else fcntl.LOCK_NB)
        try:
            fcntl.flock(fd, flags)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES) and not blocking:
                raise LockBusy(exc.errno, f"{path} is locked by another holder",
                               str(path)) from exc
            raise LockError(exc.errno, f"cannot lock {path}: {exc.strerror}",
                            str(path)) from exc
        if reentrant:
            held.add(key)
        try:
            yield fd
        finally:
            if reentrant:
                held.discard(key)
    finally:
        os.close(fd)  # releases the lock
