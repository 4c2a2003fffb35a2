"""Write passes to the journal; a journal problem never stops a pass.

Role: :class:`Journal` records one ``controller.execution.result.PassResult`` per
call (``apply`` and every ``watch`` pass): the pass (time, project, runtime,
source, triggers, spec folder, revision with the commit's author, date and
subject), its rows (``controller.execution.journal.rows``) and the service's
notes (crash loops, backoffs), in one short transaction. It opens the file on
first use (``sqlite3`` loads then), prunes it by age and size on the first write
and every ``prune_every`` seconds after, and turns every failure into a
``JournalProblem``: reported once through ``report`` (and again only when the
kind changes, or as ``journal_recovered`` once writes work again), kept for
``health()``; a corrupt file is moved aside (``store.move_aside``) and the pass
is written to a new journal. ``record`` never raises. Neighbours:
``controller.commands.converge`` (``apply``), ``controller.service.journalfeed``
(``watch``), ``controller.execution.journal.store``.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from controller.desired.gitrev import CommitInfo, commit_info
from controller.execution.journal import rows as rowsmod
from controller.execution.journal.values import (
    JournalHealth,
    JournalProblem,
    Note,
    ProblemKind,
    moved_aside,
)
from controller.execution.result import PassResult

if TYPE_CHECKING:
    import sqlite3

DEFAULT_MAX_AGE = 90 * 86400.0
DEFAULT_MAX_BYTES = 200 * 1024 * 1024
PRUNE_EVERY = 600.0
Report = Callable[[str, dict[str, Any]], None]  # (event, fields): journal_problem ...


def _hint(kind: ProblemKind, path: Path) -> str:
    return {
        ProblemKind.READ_ONLY: f"passes go on unrecorded: make {path.parent} writable or pass "
                               "--state-dir",
        ProblemKind.FULL: f"passes go on unrecorded: free space on the file system of "
                          f"{path.parent} (the journal itself is bounded by --journal-max-mb)",
        ProblemKind.LOCKED: "another process held the journal too long; this pass goes "
                            "unrecorded, the next one is written as usual",
        ProblemKind.CORRUPT: "the damaged file was moved aside; a new journal was started",
        ProblemKind.NEWER: "a newer dockwright wrote it: upgrade, or pass another --state-dir",
        ProblemKind.UNAVAILABLE: "passes go on unrecorded; check the journal file and its folder",
    }[kind]


class Journal:
    """The journal of one process (thread-safe); see the module doc."""

    def __init__(self, path: Path, *, max_age: float = DEFAULT_MAX_AGE,
                 max_bytes: int = DEFAULT_MAX_BYTES, report: Report | None = None,
                 prune_every: float = PRUNE_EVERY) -> None:
        self.path = path
        self.max_age, self.max_bytes, self.prune_every = max_age, max_bytes, prune_every
        self.report = report
        self._conn: sqlite3.Connection | None = None
        self._identity: tuple[int, int] | None = None
        self._lock = threading.Lock()
        self._problem: JournalProblem | None = None
        self._moved: list[str] = []
        self._known: set[str] = set()  # commits whose author and subject are written
        self._pruned_at: float | None = None
        self.written = 0  # passes written by this process

    # the write path --------------------------------------------------------------------
    def record(self, result: PassResult, *, runtime: str, source: str,
               root: Path | None = None, notes: Sequence[Note] = ()) -> int | None:
        """Write one pass; its id, or None when the journal could not take it."""
        finished = time.time()
        with self._lock:
            for attempt in (1, 2):
                try:
                    conn = self._open()
                    info = self._revision(conn, root, result.revision)
                    pass_id = self._write(conn, result, runtime, source, root, notes, info,
                                          finished)
                except Exception as exc:  # nothing here may stop a pass
                    from controller.execution.journal.store import classify

                    kind = classify(exc)
                    if kind is ProblemKind.CORRUPT and attempt == 1 and self._move_aside(exc):
                        continue
                    self._close()
                    self._fail(kind, exc)
                    return None
                self.written += 1
                self._recovered()
                self._maybe_prune(conn, finished)
                return pass_id
        return None

    def _write(self, conn: sqlite3.Connection, result: PassResult, runtime: str, source: str,
               root: Path | None, notes: Sequence[Note], info: CommitInfo | None,
               finished: float) -> int:
        from controller.execution.journal.store import rollback

        commit, dirty = None, False
        if result.revision:
            commit, dirty = result.revision.removesuffix("-dirty"), result.revision.endswith(
                "-dirty")
        now_problems = rowsmod.problems(result)
        conn.execute("BEGIN IMMEDIATE")
        try:
            prev = conn.execute("SELECT problems FROM passes WHERE project = ? AND runtime = ? "
                                "ORDER BY id DESC LIMIT 1", (result.project, runtime)).fetchone()
            rows = rowsmod.all_rows(result, rowsmod.decode(prev[0] if prev else None), notes)
            cur = conn.execute(
                "INSERT INTO passes (reconcile_id, started, finished, project, runtime, source, "
                "triggers, root, commit_id, dirty, ok, changed, acted, failed, problems, pid) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (result.reconcile_id, finished - result.duration, finished, result.project,
                 runtime, source, ",".join(sorted(t.value for t in result.triggers)),
                 str(root) if root is not None else None, commit, int(dirty), int(result.ok),
                 int(result.changed), len(result.acted), len(result.failures),
                 rowsmod.encode(now_problems), os.getpid()))
            pass_id = int(cur.lastrowid or 0)
            if rows:
                conn.executemany(
                    "INSERT INTO entries (pass_id, at, project, runtime, resource, object, name, "
                    "action, cause, reason, changes, duration, outcome, error, detail, "
                    "retry_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(pass_id, finished, result.project, runtime, r.resource, r.object, r.name,
                      r.action, r.cause, r.reason, r.changes, r.duration, r.outcome.value,
                      r.error, r.detail, r.retry_after) for r in rows])
            if info is not None:
                conn.execute("INSERT OR IGNORE INTO revisions VALUES (?, ?, ?, ?)",
                             (info.commit, info.author, info.date, info.subject))
            conn.execute("COMMIT")
            if info is not None:
                self._known.add(info.commit)
        except BaseException:
            rollback(conn)
            raise
        return pass_id

    def _revision(self, conn: sqlite3.Connection, root: Path | None,
                  revision: str | None) -> CommitInfo | None:
        """The commit's author, date and subject when the journal does not have them yet:
        from git, once per commit (a known commit costs one indexed lookup, no git)."""
        if not revision or root is None:
            return None
        commit = revision.removesuffix("-dirty")
        if commit in self._known:
            return None  # in the journal already
        if conn.execute("SELECT 1 FROM revisions WHERE commit_id = ?", (commit,)).fetchone():
            self._known.add(commit)
            return None
        try:
            return commit_info(root, commit)
        except Exception:  # git is optional: the commit id alone is still recorded
            return None

    # opening, damage, retention ----------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        if self._conn is None:
            from controller.execution.journal.store import connect, identity

            self._identity = identity(self.path)
            self._conn = connect(self.path)
            self._identity = identity(self.path)
        return self._conn

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # a broken connection may fail to close
                conn.close()

    def _move_aside(self, exc: BaseException) -> bool:
        from controller.execution.journal.store import move_aside

        self._close()
        try:
            moved = move_aside(self.path, self._identity)
        except OSError:
            return False
        if moved is not None:
            self._moved.append(moved)
            self._emit("journal_moved_aside", path=str(self.path), moved_to=moved,
                       error=str(exc), hint=_hint(ProblemKind.CORRUPT, self.path))
            self._problem = JournalProblem(ProblemKind.CORRUPT,
                                           f"{self.path} was damaged ({exc}): moved to {moved}",
                                           _hint(ProblemKind.CORRUPT, self.path), time.time())
        self._identity = None
        return True

    def _maybe_prune(self, conn: sqlite3.Connection, now: float) -> None:
        if self._pruned_at is not None and now - self._pruned_at < self.prune_every:
            return
        self._pruned_at = now
        from controller.execution.journal.store import prune

        try:
            prune(conn, max_age=self.max_age, max_bytes=self.max_bytes, now=now)
        except Exception as exc:  # retention is retried at the next interval
            from controller.execution.journal.store import classify

            self._fail(classify(exc), exc, what="prune")

    # problems ----------------------------------------------------------------------------
    def _emit(self, event: str, **fields: Any) -> None:
        if self.report is not None:
            with contextlib.suppress(Exception):  # reporting must not fail the pass either
                self.report(event, fields)

    def _fail(self, kind: ProblemKind, exc: BaseException, what: str = "write") -> None:
        message = f"cannot {what} the journal {self.path}: {exc}"
        problem = JournalProblem(kind, message, _hint(kind, self.path), time.time())
        known = self._problem
        self._problem = problem
        if known is None or known.kind is not kind:
            self._emit("journal_problem", kind=kind.value, path=str(self.path),
                       error=message, hint=problem.hint)

    def _recovered(self) -> None:
        """A write worked: a problem reported before is over (a moved-aside file stays
        listed in ``health().moved_aside``)."""
        if self._problem is None:
            return
        if self._problem.kind is not ProblemKind.CORRUPT:
            self._emit("journal_recovered", path=str(self.path))
        self._problem = None

    def health(self) -> JournalHealth:
        """Safe from any thread, never waits for a write in progress (``/status``)."""
        problem = self._problem  # one attribute read: atomic
        aside = tuple(dict.fromkeys([*moved_aside(self.path), *self._moved]))
        return JournalHealth(str(self.path), True, problem is None, problem, aside)

    def close(self) -> None:
        with self._lock:
            self._close()
