"""View models of the dashboard: what each page shows, as frozen values (no HTML).

Role: the contract between ``controller.service.dashboard.views`` (builds them from
the watch service, the journal and ``explain``) and the templates rendered by
``controller.service.dashboard.render``. Everything here is already safe to show:
field changes carry masked values (``***`` for secrets), and no environment value
of a container appears. Times are ISO 8601 strings in UTC. Pure values.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Badge:
    """A short state word and its tone (ok | warn | bad | busy | idle), shown as a pill."""

    text: str
    tone: str


@dataclass(frozen=True)
class ChangeRow:
    """One field change, values masked as the plan and the journal mask them."""

    field: str
    old: str
    new: str
    in_place: bool = False


@dataclass(frozen=True)
class BackoffRow:
    resource: str
    failures: int
    delay: float
    retry_in: float
    reason: str


@dataclass(frozen=True)
class SpecErrorRow:
    file: str
    line: int | None
    key: str | None
    message: str
    hint: str | None


@dataclass(frozen=True)
class TaskRow:
    """One task of a Swarm service (the Swarm runtime fills these; empty elsewhere)."""

    id: str
    node: str
    state: str
    desired: str
    error: str | None = None
    slot: int | None = None  # a replicated service's slot (None: global)
    since: str | None = None  # when it entered its state (UTC)


@dataclass(frozen=True)
class EntryRow:
    """One journal entry as the timeline and the histories show it."""

    id: int
    at: str
    project: str
    runtime: str
    source: str
    triggers: tuple[str, ...]
    resource: str
    object: str
    name: str
    action: str
    cause: str
    reason: str
    outcome: str
    ok: bool
    error: str | None
    duration: float | None
    revision: str | None
    revision_subject: str | None
    changes: tuple[ChangeRow, ...]


@dataclass(frozen=True)
class ProjectCard:
    """A project on the overview (and at the top of its page)."""

    project: str
    runtime: str
    live: bool  # served by this watch service (else known from the journal only)
    sync: Badge
    detail: str  # one line: why the badge says what it says
    revision: str | None
    revision_subject: str | None
    last_pass_at: str | None
    last_pass_duration: float | None
    last_triggers: tuple[str, ...]
    passes: int
    quarantined: tuple[SpecErrorRow, ...] = ()
    crash_loops: tuple[str, ...] = ()
    backoffs: tuple[BackoffRow, ...] = ()
    journal_problem: str | None = None


@dataclass(frozen=True)
class ResourceRow:
    """One resource of a project: desired vs actual."""

    kind: str  # container | volume | network
    resource: str
    name: str
    state: Badge
    reason: str
    desired: str
    actual: str
    health: str | None
    image: str | None
    ports: tuple[str, ...]
    container_id: str | None
    last_action: str | None  # "start (drift) ok, 2026-12-04T20:07:18Z"
    tasks: tuple[TaskRow, ...] = ()  # per Swarm service; () on Docker and native


@dataclass(frozen=True)
class ProjectPage:
    card: ProjectCard
    resources: tuple[ResourceRow, ...]
    spec_errors: tuple[SpecErrorRow, ...]
    recent: tuple[EntryRow, ...]
    journal_on: bool


@dataclass(frozen=True)
class WhyView:
    """``dockwright why NAME`` as rows of (label, text)."""

    state: Badge
    lines: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ResourcePage:
    project: str
    resource: str
    why: WhyView
    diff: tuple[ChangeRow, ...]  # from live to spec, now (empty when in sync)
    diff_action: str | None  # what the next pass does about it
    history: tuple[EntryRow, ...]
    journal_on: bool
    checked: bool = False  # from a read-only pass now (else as of the last pass)


@dataclass(frozen=True)
class TimelineFilter:
    """The journal page's filters (GET query parameters)."""

    project: str = ""
    resource: str = ""
    outcome: str = ""
    cause: str = ""
    since: str = ""  # as typed: 2h, 3d or an ISO time
    before: int | None = None  # paging: entries older than this id
    limit: int = 100


@dataclass(frozen=True)
class TimelinePage:
    filter: TimelineFilter
    entries: tuple[EntryRow, ...]
    projects: tuple[str, ...]
    outcomes: tuple[str, ...]
    error: str | None = None  # a filter that could not be read (e.g. a bad --since)
    older: str | None = None  # the query string of the next page
    journal_on: bool = True


@dataclass(frozen=True)
class Overview:
    cards: tuple[ProjectCard, ...]
    recent: tuple[EntryRow, ...] = field(default=())
    journal_on: bool = True
