"""The services a Swarm project has put on the cluster: so a missing one is drift, not new.

Role: a service removed by hand (``docker service rm``) is gone from the
cluster without a trace in it, so the plan alone would call its re-creation
``new``. After each applied pass, ``controller.execution.swarmpass`` records
here the names of the project's services that were there (seen, created,
updated) and that are still declared; ``down`` and a removal by dockwright
forget them. ``controller.planning.services`` reads the record: a declared
service that is missing but recorded is re-created with ``Cause.DRIFT``
("removed outside dockwright"). Location:
``<state folder>/ledger/swarm-<project>-services.json``
(``controller.planning.ledger.ledger_dir``). Failures to read or write are
ignored: a lost record only turns that cause back into ``new``.
Neighbours: ``controller.planning.rollbacks`` (the same kind of record).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from pathlib import Path

from controller.planning.ledger import ledger_dir
from dwutil.atomic import write_atomic
from dwutil.lock import locked


def _path(project: str) -> Path:
    return ledger_dir() / f"swarm-{project}-services.json"


def read(project: str) -> frozenset[str]:
    """The service names recorded for ``project`` (empty when none)."""
    try:
        data = json.loads(_path(project).read_text())
    except (OSError, ValueError):
        return frozenset()
    names = data.get("services") if isinstance(data, dict) else None
    return frozenset(str(n) for n in names) if isinstance(names, list) else frozenset()


def write(project: str, names: Iterable[str]) -> None:
    """Replace the record (an empty one removes the file)."""
    path = _path(project)
    wanted = sorted(set(names))
    with contextlib.suppress(OSError):
        if not wanted:
            path.unlink(missing_ok=True)
            return
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with locked(path.with_suffix(".lock")):
            if read(project) != frozenset(wanted):
                write_atomic(path, json.dumps({"services": wanted}), mode=0o600)
