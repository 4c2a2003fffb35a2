"""Values of the journal's read side: what ``controller.execution.journal.query`` returns.

Role: :class:`Entry` (one line of history: an action or a note, with its pass's
triggers and revision), :class:`PassRecord`, :class:`RevisionInfo` (commit,
author, date, subject), :class:`Change` (a field change as recorded, secrets
masked) and :class:`ProjectSummary` (the dashboard's overview). Frozen, JSON
with ``to_json``. Neighbours: ``controller.execution.journal.query`` builds them,
``controller.commands.history`` and ``controller.execution.explain`` show them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from controller.execution.journal.values import Outcome, iso


@dataclass(frozen=True)
class Change:
    """One field change as recorded (secret values already masked as ``***``)."""

    field: str
    old: str | None
    new: str | None
    in_place: bool = False

    def render(self) -> str:
        return f"{self.field}: {_shown(self.old)} -> {_shown(self.new)}"

    def to_json(self) -> dict[str, Any]:
        return {"field": self.field, "old": self.old, "new": self.new, "in_place": self.in_place}


@dataclass(frozen=True)
class RevisionInfo:
    """A git commit of the spec directory (``dirty``: uncommitted changes were applied)."""

    commit: str
    dirty: bool = False
    author: str | None = None
    date: str | None = None  # ISO 8601, the author's date
    subject: str | None = None

    @property
    def short(self) -> str:
        return self.commit[:12] + ("-dirty" if self.dirty else "")

    def to_json(self) -> dict[str, Any]:
        return {"commit": self.commit, "dirty": self.dirty, "author": self.author,
                "date": self.date, "subject": self.subject}


@dataclass(frozen=True)
class PassRecord:
    """One recorded pass."""

    id: int
    reconcile_id: str
    started: float
    finished: float
    project: str
    runtime: str
    source: str  # apply | watch | down
    triggers: tuple[str, ...]
    root: str | None
    revision: RevisionInfo | None
    ok: bool
    changed: bool
    acted: int
    failed: int

    @property
    def duration(self) -> float:
        return self.finished - self.started

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "reconcile_id": self.reconcile_id, "started": iso(self.started),
                "finished": iso(self.finished), "duration": round(self.duration, 4),
                "project": self.project, "runtime": self.runtime, "source": self.source,
                "triggers": list(self.triggers), "root": self.root,
                "revision": self.revision.to_json() if self.revision else None,
                "ok": self.ok, "changed": self.changed, "acted": self.acted,
                "failed": self.failed}


@dataclass(frozen=True)
class Entry:
    """One line of history: an action and how it ended, or a :class:`Note`."""

    id: int
    pass_id: int
    at: float
    project: str
    runtime: str
    source: str
    triggers: tuple[str, ...]
    resource: str
    object: str
    name: str
    action: str  # a Kind value (create, recreate, ...) or an EventKind value
    cause: str  # a Cause value (new, spec, drift, ...); "none" for notes
    reason: str
    changes: tuple[Change, ...]
    duration: float | None
    outcome: Outcome
    error: str | None
    detail: str
    retry_after: float | None
    revision: RevisionInfo | None

    @property
    def ok(self) -> bool:
        return self.outcome in (Outcome.OK, Outcome.RESOLVED)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "pass_id": self.pass_id, "at": iso(self.at),
                "project": self.project, "runtime": self.runtime, "source": self.source,
                "triggers": list(self.triggers), "resource": self.resource,
                "object": self.object, "name": self.name, "action": self.action,
                "cause": self.cause, "reason": self.reason,
                "changes": [c.to_json() for c in self.changes],
                "duration": None if self.duration is None else round(self.duration, 3),
                "outcome": self.outcome.value, "error": self.error, "detail": self.detail,
                "retry_after": self.retry_after,
                "revision": self.revision.to_json() if self.revision else None}


@dataclass(frozen=True)
class ProjectSummary:
    """A project as the journal knows it (the dashboard's overview)."""

    project: str
    runtime: str
    last_pass: PassRecord
    passes: int

    def to_json(self) -> dict[str, Any]:
        return {"project": self.project, "runtime": self.runtime, "passes": self.passes,
                "last_pass": self.last_pass.to_json()}


def _shown(value: str | None) -> str:
    return "(unset)" if value is None else value
