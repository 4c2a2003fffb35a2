"""Taking over a running docker-compose project: which of its objects a project owns.

Role: ``apply --adopt-compose NAME`` (and ``diff``) treat the containers,
networks and volumes that docker-compose made for project NAME
(``com.docker.compose.project``, ``controller.compose.labels``) as the
project's own when the specs declare them: a container whose service or name
is declared, a network or volume of a declared name. Such a container is
compared field by field like any other (compose's labels are compose's
bookkeeping, ``controller.planning.compare`` skips them): equal, it is
adopted as it runs (``Cause.ADOPT``: its hashes go to the ledger); different,
it is recreated with the reasons. Their labels cannot change, so what was
adopted is recorded here, per runtime and project, and every later pass
(``watch``, ``down``) owns it without the flag: ``down`` removes the adopted
containers and networks and keeps the volumes, as for any owned object.
The record also keeps what each adopted container's spec asked where the daemon
has defaults of its own (``controller.desired.naming.LABEL_ASKED``, a label it
cannot carry), so that taking such a setting out of the spec later is a change;
a recorded container that is gone (removed, or replaced by a recreate) leaves it.
Location: ``<state folder>/adopted/<runtime>-<project>.json``; a lost record
costs the ownership of what was kept as it ran (the containers then show as
foreign names, never deleted). Neighbours: ``controller.planning.observe``
(reads), ``controller.execution.reconcile`` (records after a pass),
``controller.service.triggers`` (follows the events of the recorded containers:
:class:`RecordedIds`).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from controller.compose import labels as compose
from controller.desired.hostkey import state_dir
from dwutil.atomic import write_atomic
from dwutil.lock import locked
from runtime.types import ContainerSummary, Pairs


@dataclass(frozen=True)
class Adoption:
    """What a project owns besides what carries its labels."""

    compose_project: str | None = None  # taken over in this pass (--adopt-compose)
    resources: frozenset[str] = frozenset()  # declared container resources (services)
    names: frozenset[str] = frozenset()  # declared container, volume and network names
    containers: frozenset[str] = frozenset()  # ids adopted by earlier passes
    volumes: frozenset[str] = frozenset()
    networks: frozenset[str] = frozenset()
    # (id, what its spec asked where the daemon has defaults: LABEL_ASKED's value) of the
    # containers adopted; a container of another tool cannot carry the label
    asked: tuple[tuple[str, str], ...] = ()

    def claims(self, summary: ContainerSummary) -> bool:
        if summary.id in self.containers:
            return True
        if self.compose_project is None:
            return False
        found = dict(summary.labels)
        return found.get(compose.PROJECT) == self.compose_project and \
            found.get(compose.ONEOFF) != "True" and (  # `docker-compose run`: left alone
                found.get(compose.SERVICE) in self.resources
                or summary.name.lstrip("/") in self.names)

    def claims_object(self, name: str, labels: Pairs, recorded: frozenset[str]) -> bool:
        if name in recorded:
            return True
        return self.compose_project is not None and name in self.names and \
            dict(labels).get(compose.PROJECT) == self.compose_project


def _path(runtime: str, project: str) -> Path:
    return state_dir() / "adopted" / f"{runtime}-{project}.json"


def read(runtime: str, project: str) -> Adoption:
    """The record of earlier adoptions (empty when none)."""
    try:
        data = json.loads(_path(runtime, project).read_text())
    except (OSError, ValueError):
        return Adoption()
    if not isinstance(data, dict):
        return Adoption()

    def names(key: str) -> frozenset[str]:
        value = data.get(key)
        return frozenset(str(v) for v in value) if isinstance(value, list) else frozenset()

    asked = data.get("asked")
    return Adoption(containers=names("containers"), volumes=names("volumes"),
                    networks=names("networks"),
                    asked=tuple(sorted((str(k), str(v)) for k, v in asked.items()))
                    if isinstance(asked, dict) else ())


def adopter(runtime: str, container_id: str) -> str | None:
    """The project whose record holds ``container_id`` (None: no record does)."""
    prefix = f"{runtime}-"
    try:
        paths = sorted((state_dir() / "adopted").glob(f"{prefix}*.json"))
    except OSError:
        return None
    for path in paths:
        project = path.stem[len(prefix):]
        if container_id in read(runtime, project).containers:
            return project
    return None


def record(runtime: str, project: str, containers: Mapping[str, str], volumes: Iterable[str],
           networks: Iterable[str], gone: Iterable[str] = ()) -> None:
    """Add to the record: ``containers`` maps each adopted id to what its spec asked
    (``Adoption.asked``); ``gone``: recorded container ids that no longer exist (removed or
    replaced), dropped. A failure is ignored (see the module doc)."""
    path = _path(runtime, project)
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with locked(path.with_suffix(".lock")):
            known = read(runtime, project)
            dropped = set(gone) - set(containers)
            asked = {k: v for k, v in known.asked if k not in dropped} | dict(containers)
            data = {"containers": sorted((known.containers - dropped) | set(containers)),
                    "volumes": sorted(known.volumes | set(volumes)),
                    "networks": sorted(known.networks | set(networks)),
                    "asked": dict(sorted(asked.items()))}
            write_atomic(path, json.dumps(data), mode=0o600)


class RecordedIds:
    """The recorded container ids of a project, read again whenever the record changes.

    Called at each runtime event that carries no project label (one ``stat``); a
    record written by a later ``apply --adopt-compose`` is seen at the next event."""

    def __init__(self, runtime: str, project: str) -> None:
        self.runtime, self.project = runtime, project
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int] | None = None
        self._ids: frozenset[str] = frozenset()

    def __call__(self) -> frozenset[str]:
        try:
            st = _path(self.runtime, self.project).stat()
            now: tuple[int, int, int] | None = (st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError:
            now = None
        with self._lock:
            if now != self._seen:
                self._ids = read(self.runtime, self.project).containers if now else frozenset()
                self._seen = now
            return self._ids
