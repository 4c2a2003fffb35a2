"""Tiny persistence helpers for the native network state under ``<state_dir>/net``.

Role: atomic JSON files and an exclusive, per-thread reentrant ``flock``
(both through ``dwutil``) so that several dockwright processes (a CLI apply beside
a `watch` service) never interleave read-modify-write cycles. Neighbours:
``ipam`` (allocations), ``manager`` (network and endpoint records), ``ports``
(proxy records).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dwutil.atomic import write_atomic
from dwutil.lock import locked
from runtime.errors import Permanent

# Host-wide lock for what several state folders share: the choice of subnets
# (host routes are the common truth) and our nft table.
HOST_LOCK = Path("/run/dockwright/net.lock")


@contextlib.contextmanager
def flock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the block.

    Reentrant within one thread; other threads and processes wait.
    """
    with locked(path, reentrant=True):
        yield


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
    """Write ``data`` to ``path`` atomically (``dwutil.atomic``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(data, indent=1, sort_keys=True), mode=0o644)


def remove(path: Path) -> None:
    path.unlink(missing_ok=True)
