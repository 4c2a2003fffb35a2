"""Ledger of the hashes a container answers to *now*, recorded out of band.

Role: labels cannot change after a container is created, so after an in-place
update (restart policy, resources, networks) the container's hash labels still
describe its creation, and a container adopted under a newer hash scheme
(``controller.desired.hashing.HASH_SCHEME``: its fields equal its spec, its
labels were written by an older release) has labels of the old scheme.
``apply`` records the spec and update hashes per container id here; ``observe``
and ``plan`` prefer a record of the current scheme over the labels. Ids are
never reused, so a stale entry is harmless; a lost ledger costs nothing but
the drift/spec distinction of the next pass (fields still decide).
Neighbours: ``controller.planning.observe`` (reads), ``controller.execution.apply``
(writes); the folder is ``controller.desired.hostkey.state_dir``.

Location: ``<state folder>/ledger/<runtime>-<project>.json``, the state folder
being ``$DOCKWRIGHT_STATE_DIR``, else ``/var/lib/dockwright`` as root, else
``$XDG_STATE_HOME/dockwright`` (``~/.local/state``).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from controller.desired.hashing import HASH_SCHEME
from controller.desired.hostkey import state_dir
from dwutil.atomic import write_atomic
from dwutil.lock import locked

MAX_ENTRIES = 5000


@dataclass(frozen=True)
class Entry:
    """The hashes recorded for one container (``scheme``: the hash scheme they are of;
    entries written before schemes were versioned read as scheme "1")."""

    spec: str | None
    update: str | None
    scheme: str = HASH_SCHEME

    def to_json(self) -> dict[str, str | None]:
        return {"scheme": self.scheme, "spec": self.spec, "update": self.update}


def ledger_dir() -> Path:
    return state_dir() / "ledger"


def _path(runtime: str, project: str) -> Path:
    return ledger_dir() / f"{runtime}-{project}.json"


def _entry(raw: object) -> Entry | None:
    if isinstance(raw, str):  # an update hash of the unversioned first scheme
        return Entry(None, raw, "1")
    if isinstance(raw, dict):
        def text(key: str) -> str | None:
            value = raw.get(key)
            return value if isinstance(value, str) else None
        return Entry(text("spec"), text("update"), text("scheme") or "1")
    return None


def read(runtime: str, project: str) -> dict[str, Entry]:
    """Container id -> its recorded hashes ({} when none)."""
    try:
        data = json.loads(_path(runtime, project).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    out = {}
    for key, raw in data.items():
        entry = _entry(raw)
        if entry is not None:
            out[str(key)] = entry
    return out


def record(runtime: str, project: str, container_id: str, entry: Entry) -> None:
    """Remember ``entry`` for ``container_id``; failures are ignored (see module doc)."""
    record_many(runtime, project, [(container_id, entry)])


def record_many(runtime: str, project: str, entries: Iterable[tuple[str, Entry]]) -> None:
    """Remember several entries in one write; failures are ignored (see module doc)."""
    new = list(entries)
    if not new:
        return
    path = _path(runtime, project)
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with locked(path.with_suffix(".lock")):
            known = read(runtime, project)
            for container_id, entry in new:
                known.pop(container_id, None)
                known[container_id] = entry  # newest last: trimming keeps the newest
            if len(known) > MAX_ENTRIES:
                known = dict(list(known.items())[-MAX_ENTRIES:])
            write_atomic(path, json.dumps({k: e.to_json() for k, e in known.items()}),
                         mode=0o600)
