"""Ledger of in-place updates: the update hash a container has *now*.

Role: labels cannot change after a container is created, so after an in-place
update (restart policy, resources, network aliases) the container's
``LABEL_UPDATE_HASH`` still describes its creation. Without a record, a later
change back to the creation-time values would match the label and be missed.
``apply`` records the new update hash per container id here; ``observe``
prefers it over the label. Ids are never reused, so a stale entry is harmless;
a lost ledger only costs the fast path (the entry's container is compared as
its label says). Neighbours: ``controller.planning.observe`` (reads), ``controller.execution.apply``
(writes).

Location: ``$DOCKWRIGHT_STATE_DIR/ledger``, else ``/var/lib/dockwright/ledger``
as root, else ``$XDG_STATE_HOME/dockwright/ledger`` (``~/.local/state``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from pathlib import Path

MAX_ENTRIES = 5000


def ledger_dir() -> Path:
    base = os.environ.get("DOCKWRIGHT_STATE_DIR")
    if base:
        return Path(base) / "ledger"
    if os.geteuid() == 0:
        return Path("/var/lib/dockwright/ledger")
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "dockwright" / "ledger"


def _path(runtime: str, project: str) -> Path:
    return ledger_dir() / f"{runtime}-{project}.json"


def read(runtime: str, project: str) -> dict[str, str]:
    """Container id -> update hash after its last in-place update ({} when none)."""
    try:
        data = json.loads(_path(runtime, project).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): str(v) for k, v in data.items()}


def record(runtime: str, project: str, container_id: str, update_hash: str) -> None:
    """Remember ``update_hash`` for ``container_id``; failures are ignored (see module doc)."""
    path = _path(runtime, project)
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            entries = read(runtime, project)
            entries.pop(container_id, None)
            entries[container_id] = update_hash  # newest last: trimming keeps the newest
            if len(entries) > MAX_ENTRIES:
                entries = dict(list(entries.items())[-MAX_ENTRIES:])
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".ledger-")
            try:
                with os.fdopen(fd, "w") as f:
                    json.dump(entries, f)
                os.replace(tmp, path)
            finally:  # a failed write leaves no temp file behind
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
