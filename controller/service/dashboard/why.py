"""The ``why`` view of one resource on the dashboard: ``explain``'s answer as rows.

Role: runs ``controller.execution.explain.explain`` for a name of the watched project
(its spec folder, its runtime through the service's handle, the journal) and lays
the answer out as (label, text) rows like ``dockwright why`` prints them, with a
state badge, plus the current diff (the masked field changes from the live object
to the spec) and what the next pass does about it. Neighbours:
``controller.service.dashboard.views`` (caches the answer until the next pass).
"""

from __future__ import annotations

from controller.execution.explain import Explanation, Ownership, StateKind, explain
from controller.execution.journal.query import Reader
from controller.execution.journal.values import iso
from controller.service.dashboard import rows as r
from controller.service.dashboard.models import Badge, ChangeRow, WhyView
from controller.service.loop import WatchService

TONES = {StateKind.IN_SYNC: r.OK, StateKind.DRIFTED: r.WARN, StateKind.PENDING: r.WARN,
         StateKind.FROZEN: r.WARN, StateKind.CRASH_LOOP: r.BAD, StateKind.BACKOFF: r.BAD,
         StateKind.FAILED: r.BAD, StateKind.ERROR: r.BAD, StateKind.NOT_DECLARED: r.IDLE,
         StateKind.UNKNOWN: r.IDLE}
OWNERS = {Ownership.COMPOSE: "docker-compose project {}", Ownership.OTHER_PROJECT:
          "dockwright project {}", Ownership.FOREIGN: "foreign (not created by dockwright)"}


def lines(x: Explanation) -> tuple[tuple[str, str], ...]:
    """The rows of ``dockwright why``."""
    out: list[tuple[str, str]] = [
        ("name", f"{x.kind} {x.name}" + (f" ({x.container.name})" if x.container is not None
                                         and x.container.name != x.name else "")),
        ("project", f"{x.project or '-'} (runtime {x.runtime})")]
    if x.container is not None:
        health = f", {x.container.health}" if x.container.health else ""
        out.append(("container", f"{x.container.id[:12]} {x.container.state}{health}"))
    elif x.kind == "container":
        out.append(("container", "none on this runtime"))
    if x.ownership in OWNERS:
        out.append(("owner", OWNERS[x.ownership].format(x.owner)))
        if x.left_alone:
            out.append(("left alone", x.left_alone))
    d = x.declaration
    if d is not None:
        frozen = " (INVALID FILE: frozen)" if d.frozen else ""
        out.append(("declared", f"{d.file}:{d.line or '?'} {d.key} in {d.root}{frozen}"))
        out.extend(("file error", error) for error in d.errors[:5])
    elif x.ownership in (Ownership.OWNED, Ownership.ABSENT):
        out.append(("declared", "not in the spec folder"))
    c = x.spec_change
    if c is not None:
        dirty = " (the file has uncommitted changes)" if c.uncommitted else ""
        out.append(("spec changed", f"{c.commit[:12]} {c.date} {c.author}: {c.subject}{dirty}"))
    a = x.last_action
    if a is not None:
        took = f" [{a.duration:.2f}s]" if a.duration is not None else ""
        rev = f", revision {a.revision.short}" if a.revision else ""
        error = f": {a.error}" if a.error and not a.ok else ""
        out.append(("last action", f"{iso(a.at)} {a.action} (cause {a.cause}, by {a.source}): "
                                   f"{a.reason} — {a.outcome.value}{error}{took}{rev}"))
    else:
        out.append(("last action", "none recorded in the journal"))
    out.append(("state", x.state.summary))
    return tuple(out)


def explain_view(name: str, service: WatchService, reader: Reader | None
                 ) -> tuple[WhyView | None, tuple[ChangeRow, ...], str | None]:
    """(the why rows, the current diff, what the next pass does) of ``name``; None when
    nothing is known about it."""
    try:
        answer = explain(name, service.handle.get(), root=service.root,
                         project=service.project, reader=reader)
    except Exception as exc:  # the runtime is down or the folder unreadable: say so
        view = WhyView(Badge("unknown", r.IDLE), (("error", f"{type(exc).__name__}: {exc}"),))
        return view, (), None
    if not answer.found:
        return None, (), None
    badge = Badge(answer.state.kind.value, TONES.get(answer.state.kind, r.IDLE))
    diff = tuple(r.change_row(c) for c in answer.state.changes)
    action = answer.state.summary if diff else None
    return WhyView(badge, lines(answer)), diff, action
