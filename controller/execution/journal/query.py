"""The journal's read API: typed queries returning frozen values, newest first.

Role: what ``dockwright history``, ``dockwright why`` and the dashboard ask of the
journal. :class:`Reader` opens the file read-only (a missing journal reads as
empty) and answers :meth:`Reader.entries` and :meth:`Reader.passes` for a
:class:`Filter` (project, runtime, resource or runtime name, time window,
causes, outcomes, actions, sources; ``before_id`` pages back; ``limit``),
:meth:`Reader.last_entry`, :meth:`Reader.open_backoff` (a crash loop and a backoff
not resolved since), :meth:`Reader.last_pass` and :meth:`Reader.projects` (the
overview). Rows come back as ``controller.execution.journal.values`` values with
their pass's triggers and revision (commit, author, date, subject). A journal
that cannot be read raises ``JournalUnreadable`` with the fix. Neighbours:
``controller.execution.journal.store`` (the connection), ``controller.commands.history``,
``controller.execution.explain``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from controller.errors import ControllerError
from controller.execution.journal.records import (
    Change,
    Entry,
    PassRecord,
    ProjectSummary,
    RevisionInfo,
)
from controller.execution.journal.values import EventKind, Outcome

if TYPE_CHECKING:
    import sqlite3

MAX_LIMIT = 10_000


class JournalUnreadable(ControllerError):
    """The journal exists but cannot be read."""


@dataclass(frozen=True)
class Filter:
    """Which entries or passes to return (every field optional; ``limit`` caps the rows)."""

    project: str | None = None
    runtime: str | None = None
    resource: str | None = None  # a declared name or a runtime name (a replica's)
    since: float | None = None  # epoch seconds, inclusive
    until: float | None = None  # epoch seconds, exclusive
    causes: frozenset[str] = frozenset()
    outcomes: frozenset[str] = frozenset()
    actions: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()  # apply | watch | down
    before_id: int | None = None  # only rows older than this id (paging)
    limit: int = 100


_PASS_COLUMNS = ("p.id, p.reconcile_id, p.started, p.finished, p.project, p.runtime, p.source, "
                 "p.triggers, p.root, p.commit_id, p.dirty, p.ok, p.changed, p.acted, "
                 "p.failed, r.author, r.date, r.subject")
_ENTRY_COLUMNS = ("e.id, e.pass_id, e.at, e.project, e.runtime, p.source, p.triggers, "
                  "e.resource, e.object, e.name, e.action, e.cause, e.reason, e.changes, "
                  "e.duration, e.outcome, e.error, e.detail, e.retry_after, p.commit_id, "
                  "p.dirty, r.author, r.date, r.subject")
_JOIN = ("FROM entries e JOIN passes p ON p.id = e.pass_id "
         "LEFT JOIN revisions r ON r.commit_id = p.commit_id")


def _in(column: str, values: frozenset[str], where: list[str], args: list[Any]) -> None:
    if values:
        where.append(f"{column} IN ({', '.join('?' * len(values))})")
        args.extend(sorted(values))


def _scope(f: Filter, table: str, time_column: str, where: list[str], args: list[Any]) -> None:
    """The conditions entries and passes share: project, runtime, time window, paging."""
    for column, value in (("project", f.project), ("runtime", f.runtime)):
        if value is not None:
            where.append(f"{table}.{column} = ?")
            args.append(value)
    for op, bound in ((">=", f.since), ("<", f.until)):
        if bound is not None:
            where.append(f"{table}.{time_column} {op} ?")
            args.append(bound)
    if f.before_id is not None:
        where.append(f"{table}.id < ?")
        args.append(f.before_id)


def _revision(commit: str | None, dirty: int, author: str | None, date: str | None,
              subject: str | None) -> RevisionInfo | None:
    if not commit:
        return None
    return RevisionInfo(commit, bool(dirty), author, date, subject)


def _changes(text: str) -> tuple[Change, ...]:
    try:
        items = json.loads(text or "[]")
    except ValueError:
        return ()
    return tuple(Change(str(c.get("field")), c.get("old"), c.get("new"), bool(c.get("in_place")))
                 for c in items if isinstance(c, dict))


def _outcome(text: str) -> Outcome:
    try:
        return Outcome(text)
    except ValueError:  # a newer dockwright's outcome: shown as an error
        return Outcome.ERROR


def _entry(row: tuple[Any, ...]) -> Entry:
    (id_, pass_id, at, project, runtime, source, triggers, resource, obj, name, action, cause,
     reason, changes, duration, outcome, error, detail, retry_after, commit, dirty, author,
     date, subject) = row
    return Entry(int(id_), int(pass_id), float(at), project, runtime, source,
                 tuple(t for t in (triggers or "").split(",") if t), resource, obj, name, action,
                 cause, reason, _changes(changes), duration, _outcome(outcome), error,
                 detail or "", retry_after, _revision(commit, dirty, author, date, subject))


def _pass(row: tuple[Any, ...]) -> PassRecord:
    (id_, rid, started, finished, project, runtime, source, triggers, root, commit, dirty, ok,
     changed, acted, failed, author, date, subject) = row
    return PassRecord(int(id_), rid, float(started), float(finished), project, runtime, source,
                      tuple(t for t in (triggers or "").split(",") if t), root,
                      _revision(commit, dirty, author, date, subject), bool(ok), bool(changed),
                      int(acted), int(failed))


class Reader:
    """Read-only access to one journal file (a context manager)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._opened = False

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _query(self, sql: str, args: list[Any] | tuple[Any, ...]) -> list[tuple[Any, ...]]:
        import sqlite3

        try:
            if not self._opened:
                from controller.execution.journal.store import connect_read_only

                self._opened = True
                self._conn = connect_read_only(self.path)
            if self._conn is None:
                return []
            return list(self._conn.execute(sql, args).fetchall())
        except sqlite3.Error as exc:
            raise JournalUnreadable(
                f"cannot read the journal {self.path}: {exc}",
                hint="if it is damaged, the next apply or watch moves it aside and starts a "
                     "new one; --state-dir names another state folder") from exc

    def entries(self, f: Filter = Filter()) -> tuple[Entry, ...]:
        """Entries matching ``f``, newest first."""
        where: list[str] = []
        args: list[Any] = []
        _scope(f, "e", "at", where, args)
        if f.resource is not None:
            where.append("(e.resource = ? OR e.name = ?)")
            args += [f.resource, f.resource]
        _in("e.cause", f.causes, where, args)
        _in("e.outcome", f.outcomes, where, args)
        _in("e.action", f.actions, where, args)
        _in("p.source", f.sources, where, args)
        sql = (f"SELECT {_ENTRY_COLUMNS} {_JOIN}" + (f" WHERE {' AND '.join(where)}" if where
                                                     else "") + " ORDER BY e.id DESC LIMIT ?")
        args.append(max(0, min(f.limit, MAX_LIMIT)))
        return tuple(_entry(r) for r in self._query(sql, args))

    def passes(self, f: Filter = Filter()) -> tuple[PassRecord, ...]:
        """Passes matching ``f`` (project, runtime, time window, sources), newest first."""
        where: list[str] = []
        args: list[Any] = []
        _scope(f, "p", "finished", where, args)
        _in("p.source", f.sources, where, args)
        sql = (f"SELECT {_PASS_COLUMNS} FROM passes p LEFT JOIN revisions r ON "
               "r.commit_id = p.commit_id" + (f" WHERE {' AND '.join(where)}" if where else "")
               + " ORDER BY p.id DESC LIMIT ?")
        args.append(max(0, min(f.limit, MAX_LIMIT)))
        return tuple(_pass(r) for r in self._query(sql, args))

    def last_entry(self, project: str | None, resource: str, *, runtime: str | None = None,
                   actions: frozenset[str] = frozenset()) -> Entry | None:
        found = self.entries(Filter(project=project, runtime=runtime, resource=resource,
                                    actions=actions, limit=1))
        return found[0] if found else None

    def open_backoff(self, project: str, resource: str, *, runtime: str | None = None
                     ) -> tuple[Entry | None, Entry | None]:
        """(crash loop, backoff): the newest ``crash-loop`` and ``backoff`` entries of
        ``resource`` that no later entry ended (``resolved``, or a successful action other
        than the restarts a crash loop consists of)."""
        found: dict[str, Entry | None] = {}
        for entry in self.entries(Filter(project=project, runtime=runtime, resource=resource,
                                         limit=50)):
            if entry.action in (EventKind.CRASH_LOOP.value, EventKind.BACKOFF.value):
                found.setdefault(entry.action,
                                 None if entry.outcome is Outcome.RESOLVED else entry)
            elif entry.outcome is Outcome.OK and entry.action not in ("start", "create"):
                break
            if len(found) == 2:
                break
        return found.get(EventKind.CRASH_LOOP.value), found.get(EventKind.BACKOFF.value)

    def last_pass(self, project: str, runtime: str | None = None) -> PassRecord | None:
        found = self.passes(Filter(project=project, runtime=runtime, limit=1))
        return found[0] if found else None

    def projects(self) -> tuple[ProjectSummary, ...]:
        """Every (project, runtime) with its newest pass and number of passes, by name."""
        groups = self._query("SELECT project, runtime, max(id), count(*) FROM passes "
                             "GROUP BY project, runtime ORDER BY project, runtime", ())
        out = []
        for project, runtime, last_id, count in groups:
            rows = self._query(f"SELECT {_PASS_COLUMNS} FROM passes p LEFT JOIN revisions r ON "
                               "r.commit_id = p.commit_id WHERE p.id = ?", (last_id,))
            if rows:
                out.append(ProjectSummary(project, runtime, _pass(rows[0]), int(count)))
        return tuple(out)


def entries(path: Path, f: Filter = Filter()) -> tuple[Entry, ...]:
    """One query on a journal file (opens and closes it)."""
    with Reader(path) as reader:
        return reader.entries(f)


def passes(path: Path, f: Filter = Filter()) -> tuple[PassRecord, ...]:
    with Reader(path) as reader:
        return reader.passes(f)
