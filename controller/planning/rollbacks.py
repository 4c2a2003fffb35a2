"""Desired service hashes Swarm rolled back: remembered so they are not sent again.

Role: when Swarm rolls an update back (its ``FailureAction`` or a failing
health check), ``apply`` reports a failure and records here the desired hash
it had sent, with Swarm's message. The next pass (``apply`` or ``watch``)
finds the same desired hash and holds the service (a plan error: "rolled back
... change the spec to try again") instead of updating it again: no update
loop. A changed spec has another hash and is tried, and so is the same spec when
``pull = "always"`` finds another image under its tag (the digest sent is recorded
too: a fixed image pushed under the same tag is the user's fix); a converged service
forgets its record. Location: ``<state folder>/ledger/swarm-<project>-rollbacks.json``
(``controller.planning.ledger.ledger_dir``). Failures to read or write are
ignored: a lost record costs one more attempt, never a wrong change.
Neighbours: written by ``controller.execution.swarmapply``, read by
``controller.planning.services`` and ``status``.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

from controller.planning.ledger import ledger_dir
from dwutil.atomic import write_atomic
from dwutil.lock import locked


@dataclass(frozen=True)
class RolledBack:
    """The desired hash Swarm rolled back, its message, when (epoch seconds) and the image
    reference that was sent (with its digest when ``pull = "always"`` pinned one; "" in a
    record of an earlier release)."""

    hash: str
    message: str
    at: float
    image: str = ""

    def holds(self, desired_hash: str, image: str) -> bool:
        """Whether sending ``desired_hash`` with ``image`` now would repeat this attempt: the
        same spec, and not another image the registry serves under the same tag."""
        return self.hash == desired_hash and (not self.image or self.image == image)


def _path(project: str) -> Path:
    return ledger_dir() / f"swarm-{project}-rollbacks.json"


def read(project: str) -> dict[str, RolledBack]:
    """Service name -> the rollback recorded for it ({} when none)."""
    try:
        data = json.loads(_path(project).read_text())
    except (OSError, ValueError):
        return {}
    out = {}
    for name, raw in data.items() if isinstance(data, dict) else ():
        if isinstance(raw, dict) and isinstance(raw.get("hash"), str):
            out[str(name)] = RolledBack(raw["hash"], str(raw.get("message", "")),
                                        float(raw.get("at") or 0), str(raw.get("image") or ""))
    return out


def _change(project: str, service: str, entry: RolledBack | None) -> None:
    path = _path(project)
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with locked(path.with_suffix(".lock")):
            known = read(project)
            if entry is None:
                if known.pop(service, None) is None:
                    return
            else:
                known[service] = entry
            write_atomic(path, json.dumps({k: vars(v) for k, v in known.items()}), mode=0o600)


def record(project: str, service: str, desired_hash: str, message: str, image: str = "") -> None:
    _change(project, service, RolledBack(desired_hash, message, time.time(), image))


def forget(project: str, service: str) -> None:
    _change(project, service, None)
