"""One controller per project: an advisory file lock naming its holder.

Role: ``watch`` holds the lock of its project for its whole life and ``apply``
for one pass, so that two controllers never act on the same project at once.
The lock is an ``flock`` (``dwutil.lock``) on ``/run/dockwright/<project>.lock`` (a per-user temp
folder when ``/run`` is not writable, or ``$DOCKWRIGHT_LOCK_DIR``); the file
holds JSON describing the holder (pid, host, command, start time) so that the
refusal can name it. The kernel drops the lock when the holder dies, even on
``kill -9``. Neighbours: ``controller.commands.watch`` and
``controller.commands.converge`` enter :func:`project_lock`;
``controller.errors.LockHeld`` is what a refused caller sees.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from controller.errors import LockHeld
from dwutil.lock import LockBusy, LockError, locked

RUN_DIR = Path("/run/dockwright")
POLL = 0.1


def lock_dir() -> Path:
    """The folder of the lock files (created when missing)."""
    env = os.environ.get("DOCKWRIGHT_LOCK_DIR")
    candidates = [Path(env)] if env else []
    candidates += [RUN_DIR, Path(tempfile.gettempdir()) / f"dockwright-{os.getuid()}"]
    for folder in candidates:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(folder, os.W_OK):
            return folder
    raise LockHeld(
        "no writable folder for lock files",
        hint="make /run/dockwright writable or set DOCKWRIGHT_LOCK_DIR",
    )


def lock_path(project: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", project)
    return lock_dir() / f"{safe}.lock"


def read_holder(path: Path) -> dict[str, Any]:
    """The JSON a holder wrote into the lock file ({} when unreadable)."""
    try:
        data = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def describe_holder(holder: dict[str, Any]) -> str:
    if not holder:
        return "another dockwright process"
    started = holder.get("started")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)) if started else "?"
    return (
        f"pid {holder.get('pid')} on {holder.get('host')} ({holder.get('purpose')}: "
        f"{holder.get('command')}, since {when})"
    )


@contextmanager
def project_lock(
    project: str, *, wait: bool, purpose: str,
    on_wait: Callable[[dict[str, Any]], None] | None = None,
    cancel: threading.Event | None = None,
) -> Iterator[dict[str, Any]]:
    """Hold the lock of ``project`` for the ``with`` block; yield the holder record.

    Without ``wait`` a held lock raises :class:`LockHeld` at once, naming the
    holder; with ``wait`` it polls until the holder lets go (``on_wait`` is
    called once with the holder record, e.g. to log it; setting ``cancel`` gives
    up waiting with :class:`LockHeld`).
    """
    path = lock_path(project)
    waited = False
    holding = ExitStack()  # entered here, left after the yield: the body's errors pass by
    while True:
        try:
            fd = holding.enter_context(locked(path, mode=0o644, blocking=False))
            break
        except LockBusy as exc:
            holder = read_holder(path)
            if not wait:
                raise LockHeld(
                    f"project {project!r} is controlled by {describe_holder(holder)}",
                    hint=f"stop that process, or pass --wait-lock to wait for it (lock {path})",
                ) from exc
            if not waited and on_wait is not None:
                on_wait(holder)
            waited = True
            if cancel is not None and cancel.wait(POLL):
                raise LockHeld(f"stopped while waiting for the lock of {project!r}",
                               hint=f"held by {describe_holder(holder)}") from exc
            if cancel is None:
                time.sleep(POLL)
        except LockError as exc:
            raise LockHeld(f"cannot lock {path}: {exc.strerror}",
                           hint="check the folder's permissions") from exc
    with holding:
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": " ".join(sys.argv),
            "purpose": purpose,
            "project": project,
            "started": time.time(),
            "path": str(path),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        try:
            yield record
        finally:
            os.ftruncate(fd, 0)
