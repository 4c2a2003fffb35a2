"""Build the dashboard's view models from the watch service, the journal and ``explain``.

Role: :class:`Views` answers one question per page: the overview (the watched project
live, plus every other project the journal knows), a project (its resources from the
last pass's plan, the live objects of ``controller.service.dashboard.feed`` (Swarm:
services with their tasks and nodes)
and the actions under way, its spec errors, its recent history), a resource (the
``controller.execution.explain`` answer of ``dockwright why``, cached until the next
pass; its current diff; its history) and the journal timeline with its filters.
Only the resource page runs a read-only pass; the others read what the service
already holds plus one journal query and at most one container list per pass.
Neighbours: ``controller.service.dashboard.rows`` (the rows), ``routes`` (the caller).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from urllib.parse import urlencode

from controller.execution.journal.query import Filter, JournalUnreadable, Reader
from controller.execution.journal.records import Entry, PassRecord
from controller.execution.journal.values import Outcome, iso
from controller.service.dashboard import rows as r
from controller.service.dashboard.feed import Feed
from controller.service.dashboard.models import (
    BackoffRow,
    Badge,
    ChangeRow,
    Overview,
    ProjectCard,
    ProjectPage,
    ResourcePage,
    TimelineFilter,
    TimelinePage,
    WhyView,
)
from controller.service.dashboard.why import Why, explain_view, pass_view
from controller.service.watched import Watched
from specs.units import parse_duration

RECENT = 300  # journal entries read for a project page's "last action" column
CACHE = 64  # explanations kept per feed version


def parse_since(text: str, now: float | None = None) -> float:
    """``2h``, ``30m``, ``3d`` (ago) or an ISO time (UTC without a zone) -> epoch seconds."""
    value = text.strip()
    now = time.time() if now is None else now
    days = re.fullmatch(r"(\d+(?:\.\d+)?)d", value)
    if days:
        return now - float(days.group(1)) * 86400
    try:
        return now - parse_duration(value)
    except ValueError:
        pass
    from datetime import UTC, datetime

    try:
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"since {text!r} is neither an age (2h, 30m, 3d) nor a time "
                         "(2026-12-04T10:00)") from exc
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


class Views:
    """The view models of one watch service (thread-safe; one instance per server)."""

    def __init__(self, service: Watched, feed: Feed, journal: Path | None) -> None:
        self.service, self.feed, self.journal = service, feed, journal
        self._why: dict[str, Why] = {}
        self._why_version = -1
        self._lock = threading.Lock()

    @property
    def runtime(self) -> str:
        return self.feed.runtime()

    def _reader(self) -> AbstractContextManager[Reader | None]:
        return Reader(self.journal) if self.journal is not None else nullcontext(None)

    # the overview --------------------------------------------------------------------
    def overview(self) -> Overview:
        cards = [self.card()]
        problem: str | None = None
        recent: tuple[Entry, ...] = ()
        with self._reader() as reader:
            if reader is not None:
                try:
                    for summary in reader.projects():
                        if (summary.project, summary.runtime) == (self.service.project,
                                                                  self.runtime):
                            cards[0] = self.card(summary.last_pass)
                            continue
                        cards.append(_journal_card(summary.project, summary.runtime,
                                                   summary.last_pass, summary.passes))
                    recent = reader.entries(Filter(limit=20))
                except JournalUnreadable as exc:
                    problem = str(exc)
        if problem is not None:
            cards[0] = _with_problem(cards[0], problem)
        return Overview(tuple(cards), tuple(r.entry_row(e) for e in recent),
                        self.journal is not None)

    def card(self, last_pass: PassRecord | None = None) -> ProjectCard:
        """The watched project, live."""
        s = self.service
        with s.lock:
            result, error, runtime_error = s.last_result, s.last_error, s.runtime_error
            passes, at, missing = s.passes, s.last_pass_at, s.spec_dir_missing
            spec_errors = tuple(r.spec_error_row(e) for e in s.spec_errors)
        loops = tuple(sorted(s.crash_loops.snapshot()))
        backoffs = tuple(BackoffRow(k, int(v.get("failures") or 0), float(v.get("delay") or 0),
                                    float(v.get("retry_in") or 0), str(v.get("reason") or ""))
                         for k, v in s.backoff.snapshot().items())
        flights = self.feed.in_flight()
        if runtime_error is not None:
            badge, detail = Badge("runtime unreachable", r.BAD), runtime_error
        elif missing:
            badge, detail = Badge("spec folder missing", r.BAD), error or str(s.root)
        elif result is None:
            badge, detail = ((Badge("error", r.BAD), error) if error else
                             (Badge("starting", r.IDLE), "no pass has finished yet"))
        elif flights:
            badge, detail = Badge("converging", r.BUSY), f"{len(flights)} action(s) under way"
        elif error is not None:
            badge, detail = Badge("error", r.BAD), error
        elif loops:
            badge, detail = Badge("crash-looping", r.BAD), ", ".join(loops)
        elif result.failures or backoffs:
            first = result.failures[0] if result.failures else None
            badge = Badge("failing", r.BAD)
            detail = (f"{first.resource}: {first.failure.message}" if first is not None
                      else f"{backoffs[0].resource}: {backoffs[0].reason}")
        elif spec_errors:
            files = sorted({e.file for e in spec_errors})
            badge = Badge("quarantined", r.WARN)
            detail = (f"{len(files)} invalid spec file(s): {', '.join(files)}; their resources "
                      "are left as they run")
        else:
            acted = len(result.acted)
            badge = Badge("in sync", r.OK)
            detail = f"last pass: {acted} action(s) done" if acted else "nothing to change"
        journal = s.journal.health() if s.journal is not None else None
        problem = journal.problem.message if journal is not None and journal.problem else None
        return ProjectCard(
            s.project, self.runtime, True, badge, detail,
            result.revision if result is not None else None,
            last_pass.revision.subject if last_pass is not None and last_pass.revision
            else None, iso(at) if at else None,
            round(result.duration, 4) if result is not None else None,
            tuple(sorted(t.value for t in result.triggers)) if result is not None else (),
            passes, spec_errors, loops, backoffs, problem)

    # a project -----------------------------------------------------------------------
    def project(self, name: str) -> ProjectPage | None:
        recent: tuple[Entry, ...] = ()
        last_pass: PassRecord | None = None
        problem: str | None = None
        with self._reader() as reader:
            if reader is not None:
                try:
                    if name != self.service.project:
                        return self._journal_project(reader, name)
                    recent = reader.entries(Filter(project=name, runtime=self.runtime,
                                                   limit=RECENT))
                    last_pass = reader.last_pass(name, self.runtime)
                except JournalUnreadable as exc:
                    problem = str(exc)
            elif name != self.service.project:
                return None
        card = self.card(last_pass)
        if problem is not None:
            card = _with_problem(card, problem)
        result = self.service.last_result
        if result is None:
            return ProjectPage(card, (), card.quarantined, (), self.journal is not None)
        listing = self.feed.listing()
        last: dict[str, Entry] = {}
        for e in recent:
            last.setdefault(e.resource, e)
        resources = r.resource_rows(result, listing, self.feed.in_flight(),
                                    card.crash_loops, self.service.backoff.snapshot(), last)
        if listing.error is not None:
            card = _with_problem(card, f"the runtime did not list the containers: "
                                       f"{listing.error}")
        return ProjectPage(card, resources, card.quarantined,
                           tuple(r.entry_row(e) for e in recent[:15]), self.journal is not None)

    def _journal_project(self, reader: Reader, name: str) -> ProjectPage | None:
        summary = next((p for p in reader.projects() if p.project == name), None)
        if summary is None:
            return None
        recent = reader.entries(Filter(project=name, runtime=summary.runtime, limit=15))
        card = _journal_card(name, summary.runtime, summary.last_pass, summary.passes)
        return ProjectPage(card, (), (), tuple(r.entry_row(e) for e in recent), True)

    # a resource ----------------------------------------------------------------------
    def resource(self, project: str, name: str, *, check: bool = False
                 ) -> ResourcePage | None:
        history: tuple[Entry, ...] = ()
        with self._reader() as reader:
            if reader is not None:
                history = reader.entries(Filter(project=project, resource=name, limit=50))
            view: WhyView | None = None
            diff: tuple[ChangeRow, ...] = ()
            action: str | None = None
            if project == self.service.project:
                view, diff, action = self._explained(name, reader, check)
        rows = tuple(r.entry_row(e) for e in history)
        if view is not None:
            return ResourcePage(project, name, view, diff, action, rows, self.journal is not None,
                                check)
        if not history:
            return None
        last = history[0]
        watched = project == self.service.project
        why = WhyView(Badge("journal only", r.IDLE), (
            ("project", f"{project} (runtime {last.runtime})" + (
                "" if watched else ": not the project this service watches; only its journal "
                                   "is shown")),
            ("last entry", f"{iso(last.at)} {last.action} ({last.cause}): {last.reason} — "
                           f"{last.outcome.value}")))
        return ResourcePage(project, name, why, (), None, rows, True)

    def _explained(self, name: str, reader: Reader | None, check: bool) -> Why:
        """The why rows of ``name``: from the last pass, or (``check``, or a name it did not
        plan) from a read-only pass; kept until the next pass."""
        version = self.feed.version
        key = f"{'check' if check else 'pass'}:{name}"
        with self._lock:
            if self._why_version != version:
                self._why, self._why_version = {}, version
            hit = self._why.get(key)
        if hit is not None:
            return hit
        answer = None if check else pass_view(name, self.service, self.feed, reader)
        if answer is None:
            answer = explain_view(name, self.feed.view, reader)
        with self._lock:
            if self._why_version == version and len(self._why) < CACHE:
                self._why[key] = answer
        return answer

    # the journal ---------------------------------------------------------------------
    def timeline(self, query: Mapping[str, str]) -> TimelinePage:
        f, error = _filter(query)
        outcomes = tuple(o.value for o in Outcome)
        if self.journal is None:
            return TimelinePage(f, (), (self.service.project,), outcomes,
                                "the journal is off (--no-journal)", None, False)
        since: float | None = None
        if f.since and error is None:
            try:
                since = parse_since(f.since)
            except ValueError as exc:
                error = str(exc)
        entries: tuple[Entry, ...] = ()
        projects: tuple[str, ...] = (self.service.project,)
        with self._reader() as reader:
            if reader is not None:
                try:
                    projects = tuple(sorted({p.project for p in reader.projects()}
                                            | {self.service.project}))
                    entries = reader.entries(Filter(
                        project=f.project or None, resource=f.resource or None, since=since,
                        outcomes=frozenset({f.outcome}) if f.outcome else frozenset(),
                        causes=frozenset({f.cause}) if f.cause else frozenset(),
                        before_id=f.before, limit=f.limit))
                except JournalUnreadable as exc:
                    error = str(exc)
        older = None
        if len(entries) == f.limit and entries:
            keep = {k: v for k, v in (("project", f.project), ("resource", f.resource),
                                      ("outcome", f.outcome), ("cause", f.cause),
                                      ("since", f.since)) if v}
            older = urlencode({**keep, "before": entries[-1].id, "limit": f.limit})
        return TimelinePage(f, tuple(r.entry_row(e) for e in entries), projects, outcomes,
                            error, older, True)


def _filter(query: Mapping[str, str]) -> tuple[TimelineFilter, str | None]:
    error = None
    before: int | None = None
    limit = 100
    try:
        if query.get("before"):
            before = int(query["before"])
        if query.get("limit"):
            limit = max(1, min(1000, int(query["limit"])))
    except ValueError:
        error = "before and limit are whole numbers"
    outcome = query.get("outcome", "").strip()
    if outcome and outcome not in {o.value for o in Outcome}:
        error, outcome = f"unknown outcome {outcome!r}", ""
    return TimelineFilter(query.get("project", "").strip(), query.get("resource", "").strip(),
                          outcome, query.get("cause", "").strip(),
                          query.get("since", "").strip(), before, limit), error


def _journal_card(project: str, runtime: str, last: PassRecord, passes: int) -> ProjectCard:
    badge = Badge("in sync at its last pass", r.OK) if last.ok else Badge("failed last pass",
                                                                          r.BAD)
    return ProjectCard(project, runtime, False, badge,
                       f"known from the journal: last {last.source} pass "
                       f"{'changed' if last.changed else 'changed nothing'}"
                       + (f", {last.failed} failed" if last.failed else ""),
                       last.revision.short if last.revision else None,
                       last.revision.subject if last.revision else None, iso(last.finished),
                       round(last.duration, 4), last.triggers, passes)


def _with_problem(card: ProjectCard, problem: str) -> ProjectCard:
    from dataclasses import replace

    return replace(card, journal_problem=problem)
