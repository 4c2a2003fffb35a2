"""The watch service's side of the journal: each pass, plus its backoffs and crash loops.

Role: ``controller.service.loop.WatchService`` hands every finished pass to
:meth:`ServiceJournal.record` with the backoff and crash-loop state it holds
after the pass (``controller.service.backoff`` snapshots). This module compares
that state with what it saw after the previous pass and adds notes for what
changed: a resource that started backing off or failed again (``backoff``, with
the delay), one that started crash-looping (``crash-loop``), and the end of
either (``resolved``); then the execution room's
``controller.execution.journal.writer.Journal`` writes the pass, its actions
and the notes in one transaction. Other threads may add notes for the next pass
(:meth:`ServiceJournal.note`: a refused webhook call, ``webhook-rejected``).
Journal problems are logged once as structlog events (``journal_problem``, ``journal_moved_aside``,
``journal_recovered``) and shown by ``health()`` in ``/status``.
Neighbours: ``controller.commands.watch`` builds it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import structlog

from controller.execution.journal.values import EventKind, JournalHealth, Note, Outcome
from controller.execution.journal.writer import Journal
from controller.execution.result import PassResult

log = structlog.get_logger("dockwright.watch")

Snapshot = Mapping[str, Mapping[str, Any]]
MAX_PENDING = 100


def _report(event: str, fields: dict[str, Any]) -> None:
    (log.info if event == "journal_recovered" else log.warning)(event, **fields)


def _target(key: str) -> tuple[str, str]:
    """A backoff key as (object, resource): ``project:NAME`` is the whole pass."""
    if key.startswith("project:"):
        return "project", key.removeprefix("project:")
    return "container", key


def notes(backoffs: Snapshot, crash_loops: Snapshot, before_backoffs: Snapshot,
          before_loops: Snapshot) -> list[Note]:
    """Notes for what changed between two snapshots (pure)."""
    out = []
    for resource, now in crash_loops.items():
        if resource not in before_loops:
            out.append(Note(resource, "container", EventKind.CRASH_LOOP.value,
                            Outcome.CRASH_LOOP,
                            f"crash-looping: restarted {now.get('restarts_in_window')} times "
                            f"in the window ({now.get('restarts_total')} in all)"))
    for resource in before_loops:
        if resource not in crash_loops:
            out.append(Note(resource, "container", EventKind.CRASH_LOOP.value, Outcome.RESOLVED,
                            "ran without a restart long enough: no longer crash-looping"))
    for key, now in backoffs.items():
        was = before_backoffs.get(key)
        if was is not None and was.get("failures") == now.get("failures"):
            continue
        obj, resource = _target(key)
        delay = float(now.get("delay") or 0.0)
        out.append(Note(resource, obj, EventKind.BACKOFF.value, Outcome.BACKOFF,
                        f"failed {now.get('failures')} time(s) in a row: left alone for "
                        f"{delay:g}s", error=str(now.get("reason") or "") or None,
                        retry_after=delay))
    for key in before_backoffs:
        if key not in backoffs:
            obj, resource = _target(key)
            out.append(Note(resource, obj, EventKind.BACKOFF.value, Outcome.RESOLVED,
                            "succeeded: backoff reset"))
    return out


class ServiceJournal:
    """The journal of one watch service (its worker thread records; ``health`` is safe to
    call from the HTTP thread)."""

    def __init__(self, path: Path, runtime: str, *, max_age: float, max_bytes: int) -> None:
        self.runtime = runtime
        self.journal = Journal(path, max_age=max_age, max_bytes=max_bytes, report=_report)
        self._backoffs: dict[str, dict[str, Any]] = {}
        self._loops: dict[str, dict[str, Any]] = {}
        self._pending: list[Note] = []  # from other threads, written with the next pass
        self._pending_lock = threading.Lock()

    def note(self, note: Note) -> None:
        """An entry to write with the next pass (safe from any thread: the HTTP endpoint
        notes a refused webhook call here); at most ``MAX_PENDING`` wait."""
        with self._pending_lock:
            if len(self._pending) < MAX_PENDING:
                self._pending.append(note)

    def record(self, result: PassResult, root: Path | None, backoffs: Snapshot,
               crash_loops: Snapshot) -> int | None:
        found = notes(backoffs, crash_loops, self._backoffs, self._loops)
        self._backoffs = {k: dict(v) for k, v in backoffs.items()}
        self._loops = {k: dict(v) for k, v in crash_loops.items()}
        with self._pending_lock:
            pending, self._pending = self._pending, []
        return self.journal.record(result, runtime=self.runtime, source="watch", root=root,
                                   notes=[*found, *pending])

    def health(self) -> JournalHealth:
        return self.journal.health()

    def close(self) -> None:
        self.journal.close()
