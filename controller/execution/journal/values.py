"""Frozen values of the journal: what is written, what the read API returns, its health.

Role: the vocabulary shared by ``controller.execution.journal.writer`` (it builds
:class:`Note` values and reports :class:`JournalProblem`),
``controller.execution.journal.query`` (it returns :class:`Entry`,
:class:`PassRecord` and :class:`ProjectSummary`), the ``history`` and ``why``
commands and the dashboard. Also where the journal file lives
(:func:`journal_path`) and :func:`probe`, a check of the file that needs no
``sqlite3`` (for ``status``). Pure values; JSON with ``to_json``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

FILE_NAME = "journal.db"
MOVED_MARK = ".corrupt-"  # journal.db.corrupt-20261204T195501Z
SQLITE_MAGIC = b"SQLite format 3\x00"


class Outcome(StrEnum):
    """How an entry ended."""

    OK = "ok"
    TRANSIENT = "transient"  # failed, worth retrying (the watch service backs off)
    FAILED = "failed"  # failed, retrying the same request will not help
    BLOCKED = "blocked"  # not tried: an action it depends on failed
    ERROR = "error"  # the plan could not converge the resource (e.g. a foreign name)
    REFUSED = "refused"  # a safety rule refused the whole plan
    FROZEN = "frozen"  # declared in an invalid (quarantined) spec file
    BACKOFF = "backoff"  # left alone until its delay ends
    CRASH_LOOP = "crash-loop"  # keeps dying: restarted with backoff
    RESOLVED = "resolved"  # a problem recorded before is gone


class EventKind(StrEnum):
    """Entries that are not executed actions (their ``action`` column)."""

    QUARANTINE = "quarantine"  # a spec file is invalid: its resources are frozen
    REFUSED = "refused"  # the plan was refused (mass delete ...)
    PLAN_ERROR = "plan-error"  # one resource could not be planned (a foreign name ...)
    BACKOFF = "backoff"
    CRASH_LOOP = "crash-loop"


class ProblemKind(StrEnum):
    """Why the journal could not be written (the pass went on without it)."""

    READ_ONLY = "read-only"
    FULL = "full"
    LOCKED = "locked"
    CORRUPT = "corrupt"  # moved aside, a new journal started
    NEWER = "newer-schema"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class JournalProblem:
    kind: ProblemKind
    message: str
    hint: str
    at: float

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "message": self.message, "hint": self.hint,
                "at": iso(self.at)}


@dataclass(frozen=True)
class JournalHealth:
    """What ``status`` and ``/status`` show about the journal."""

    path: str
    enabled: bool
    ok: bool
    problem: JournalProblem | None = None
    moved_aside: tuple[str, ...] = ()  # corrupt journals kept next to it

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "enabled": self.enabled, "ok": self.ok,
                "problem": self.problem.to_json() if self.problem else None,
                "moved_aside": list(self.moved_aside)}


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
class Note:
    """An entry that is not an executed action: a crash loop, a backoff, a quarantined
    file, a refused plan, a plan error, or the end of one (``Outcome.RESOLVED``)."""

    resource: str
    object: str  # container | image | volume | network | file | plan | project
    action: str  # an EventKind value
    outcome: Outcome
    reason: str
    error: str | None = None
    retry_after: float | None = None
    name: str | None = None  # runtime name (default: the resource)


@dataclass(frozen=True)
class PassRecord:
    """One recorded pass."""

    id: int
    reconcile_id: str
    started: float
    finished: float
    project: str
    runtime: str
    source: str  # apply | watch
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


def iso(when: float) -> str:
    """Epoch seconds -> ``2026-12-04T19:58:01.123Z``."""
    text = datetime.fromtimestamp(when, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def _shown(value: str | None) -> str:
    return "(unset)" if value is None else value


def journal_path(state_dir: str | os.PathLike[str] | None = None) -> Path:
    """``<state folder>/journal.db`` (the state folder of ``controller.desired.hostkey``
    unless ``--state-dir`` names another)."""
    if state_dir:
        return Path(state_dir) / FILE_NAME
    from controller.desired.hostkey import state_dir as default_dir

    return default_dir() / FILE_NAME


def moved_aside(path: Path) -> tuple[str, ...]:
    """Corrupt journals moved aside next to ``path``, oldest first."""
    try:
        names = sorted(n for n in os.listdir(path.parent)
                       if n.startswith(path.name + MOVED_MARK) and not n.endswith(("-wal", "-shm")))
    except OSError:
        return ()
    return tuple(str(path.parent / n) for n in names)


def probe(path: Path) -> JournalHealth:
    """The journal's state without opening it with SQLite (cheap enough for ``status``):
    a folder that cannot be written, a file that is not a database, moved-aside files."""
    import time

    aside = moved_aside(path)
    now = time.time()
    folder = path.parent
    problem: JournalProblem | None = None
    if os.path.exists(path):
        try:
            with open(path, "rb") as f:
                head = f.read(16)
        except OSError as exc:
            problem = JournalProblem(ProblemKind.UNAVAILABLE, f"cannot read {path}: {exc}",
                                     "check the file's owner and mode", now)
        else:
            if head and head != SQLITE_MAGIC:
                problem = JournalProblem(
                    ProblemKind.CORRUPT, f"{path} is not an SQLite database",
                    "the next apply or watch moves it aside and starts a new journal", now)
        writable = os.access(path, os.W_OK) and os.access(folder, os.W_OK)
    else:
        writable = os.access(folder if folder.exists() else folder.parent, os.W_OK)
    if problem is None and not writable:
        problem = JournalProblem(ProblemKind.READ_ONLY, f"{folder} is not writable",
                                 "passes go on unrecorded: make the folder writable or pass "
                                 "--state-dir", now)
    if problem is None and folder.exists():
        try:
            stat = os.statvfs(folder)
            if stat.f_bavail * stat.f_frsize < 1024 * 1024 and not stat.f_flag & os.ST_RDONLY:
                problem = JournalProblem(ProblemKind.FULL, f"the file system of {folder} is full",
                                         "free some space; passes go on unrecorded", now)
            elif stat.f_flag & os.ST_RDONLY:
                problem = JournalProblem(ProblemKind.READ_ONLY,
                                         f"{folder} is on a read-only file system",
                                         "passes go on unrecorded: pass a writable --state-dir",
                                         now)
        except OSError:
            pass
    return JournalHealth(str(path), True, problem is None, problem, aside)
