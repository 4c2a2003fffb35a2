"""Tiny persistence helpers for the native network state under ``<state_dir>/net``.

Role: atomic JSON files (write to a temp file, fsync, rename) and an
exclusive ``flock`` so that several dockwright processes (a CLI apply beside
a `watch` service) never interleave read-modify-write cycles. Neighbours:
``ipam`` (allocations), ``manager`` (network and endpoint records), ``ports``
(proxy records).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from runtime.errors import Permanent

# Host-wide lock for what several state folders share: the choice of subnets
# (host routes are the common truth) and our nft table.
HOST_LOCK = Path("/run/dockwright/net.lock")


_held = threading.local()


@contextlib.contextmanager
def flock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the block.

    Reentrant within one thread; other threads and processes wait.
    """
    held: set[str] = _held.__dict__.setdefault("paths", set())
    key = str(path)
    if key in held:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        held.add(key)
        try:
            yield
        finally:
            held.discard(key)
    finally:
        os.close(fd)


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``, or None when the file is missing."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise Permanent(
            f"corrupt network state file {path}: {exc}",
            hint="inspect or remove the file; dockwright rebuilds it from the kernel",
        ) from exc
    if not isinstance(data, dict):
        raise Permanent(f"network state file {path} is not a JSON object",
                        hint="remove the file")
    return data


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` atomically (rename; no fsync: the kernel objects these
    files describe do not survive a power loss either, and a process crash keeps the
    old or the new file whole)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "w") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
    os.replace(tmp, path)


def remove(path: Path) -> None:
    path.unlink(missing_ok=True)
