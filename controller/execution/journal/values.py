"""Values of the journal's write side: outcomes, notes, problems, health, its place.

Role: the vocabulary ``controller.execution.journal.writer`` and
``controller.execution.journal.rows`` write (:class:`Outcome`, :class:`EventKind`,
:class:`Note`) and report (:class:`JournalProblem`, :class:`JournalHealth`);
where the journal file lives (:func:`journal_path`) and :func:`probe`, a check of
the file that needs no ``sqlite3`` (for ``status``). The read side's values are in
``controller.execution.journal.records`` (kept apart: ``apply`` and ``status``
never load them). Pure values; JSON with ``to_json``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
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
    WEBHOOK_REJECTED = "webhook-rejected"  # an unsigned or badly signed POST /hooks/git


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


def iso(when: float) -> str:
    """Epoch seconds -> ``2026-12-04T19:58:01.123Z``."""
    from datetime import UTC, datetime  # readers only: the write path never formats times

    text = datetime.fromtimestamp(when, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


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
