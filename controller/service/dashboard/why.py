"""The ``why`` view of one resource on the dashboard, as rows like ``dockwright why``.

Role: two ways to the same rows, a state badge, the current diff (masked field
changes from the live object to the spec) and what the next pass does about it:
- :func:`pass_view` (the default page): from what the service already holds, the
  last pass's plan and outcomes, the live container list of
  ``controller.service.dashboard.feed``, the journal's last entry, the declaring
  file's header line and its last commit; the state is the project page's
  (``controller.service.dashboard.rows``), so both pages agree;
- :func:`explain_view` (``?check=1``, and names the last pass did not plan): runs
  the runtime's ``why`` (``controller.service.runtimeview.RuntimeView.explain``), a
  read-only pass against the runtime, as the CLI does.
Neighbours: ``controller.service.dashboard.views`` (caches both until the next pass).
"""

from __future__ import annotations

from pathlib import Path

from controller.desired.gitrev import last_change, uncommitted
from controller.execution.explain import Explanation, Ownership, StateKind
from controller.execution.journal.query import Reader
from controller.execution.journal.records import Entry
from controller.execution.journal.values import iso
from controller.execution.result import PassResult
from controller.planning.actions import Action
from controller.service.dashboard import rows as r
from controller.service.dashboard.feed import Feed
from controller.service.dashboard.models import Badge, ChangeRow, WhyView
from controller.service.runtimeview import Listing, RuntimeView
from controller.service.watched import Watched
from specs.loader import header_lines

Why = tuple[WhyView | None, tuple[ChangeRow, ...], str | None]

TONES = {StateKind.IN_SYNC: r.OK, StateKind.DRIFTED: r.WARN, StateKind.PENDING: r.WARN,
         StateKind.FROZEN: r.WARN, StateKind.CRASH_LOOP: r.BAD, StateKind.BACKOFF: r.BAD,
         StateKind.FAILED: r.BAD, StateKind.ERROR: r.BAD, StateKind.NOT_DECLARED: r.IDLE,
         StateKind.UNKNOWN: r.IDLE}
OWNERS = {Ownership.COMPOSE: "docker-compose project {}", Ownership.OTHER_PROJECT:
          "dockwright project {}", Ownership.FOREIGN: "foreign (not created by dockwright)"}
ADOPTED = "project {}, adopted from docker-compose project {} (it keeps compose's labels)"


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
    elif x.ownership is Ownership.ADOPTED:
        out.append(("owner", ADOPTED.format(x.owner, x.adopted_from)))
    d = x.declaration
    if d is not None:
        frozen = " (INVALID FILE: frozen)" if d.frozen else ""
        out.append(("declared", f"{d.file}:{d.line or '?'} {d.key} in {d.root}{frozen}"))
        out.extend(("file error", error) for error in d.errors[:5])
    elif x.ownership in (Ownership.OWNED, Ownership.ADOPTED, Ownership.ABSENT):
        out.append(("declared", "not in the spec folder"))
    c = x.spec_change
    if c is not None:
        dirty = " (the file has uncommitted changes)" if c.uncommitted else ""
        out.append(("spec changed", f"{c.commit[:12]} {c.date} {c.author}: {c.subject}{dirty}"))
    out.append(_last_action(x.last_action))
    out.append(("state", x.state.summary))
    return tuple(out)


def _last_action(a: Entry | None) -> tuple[str, str]:
    if a is None:
        return "last action", "none recorded in the journal"
    took = f" [{a.duration:.2f}s]" if a.duration is not None else ""
    rev = f", revision {a.revision.short}" if a.revision else ""
    error = f": {a.error}" if a.error and not a.ok else ""
    return "last action", (f"{iso(a.at)} {a.action} (cause {a.cause}, by {a.source}): "
                           f"{a.reason} — {a.outcome.value}{error}{took}{rev}")


def _planned(result: PassResult, name: str) -> Action | None:
    """The last pass's action about ``name`` (a runtime or declared name)."""
    actions = [a for a in result.plan.actions
               if a.object in ("container", "service", "volume", "network")]
    return next((a for a in actions if a.name == name), None) or next(
        (a for a in actions if a.resource == name), None)


def _declared(root: Path, file: str, kind: str, resource: str) -> tuple[str, str]:
    try:
        line = header_lines((root / file).read_text()).get((kind, resource))
    except (OSError, UnicodeDecodeError):
        line = None
    return "declared", f"{file}:{line or '?'} {kind}.{resource} in {root}"


def _listing_of(view: RuntimeView, resource: str) -> Listing:
    """The live objects of one resource (filtered by its labels)."""
    try:
        return view.listing(resource)
    except Exception as exc:  # the runtime is down: the page says so
        return Listing({}, error=f"{type(exc).__name__}: {exc}")


def pass_view(name: str, service: Watched, feed: Feed, reader: Reader | None) -> Why | None:
    """The rows of ``name`` from the last pass (None: that pass did not plan it)."""
    result = service.last_result
    action = _planned(result, name) if result is not None else None
    if result is None or action is None:
        return None
    listing = feed.fresh() or _listing_of(feed.view, action.resource)
    last = reader.last_entry(service.project, action.resource) if reader is not None else None
    row = next(x for x in r.resource_rows(
        result, listing, feed.in_flight(), service.crash_loops.looping(),
        service.backoff.snapshot(), {action.resource: last} if last else {})
        if x.kind == action.object and x.name == action.name)
    out: list[tuple[str, str]] = [
        ("name", f"{action.object} {action.resource}" + (
            f" ({action.name})" if action.name != action.resource else "")),
        ("project", f"{service.project} (runtime {feed.runtime()})")]
    live = listing.containers.get(action.name)
    if action.object == "container":
        health = f", {row.health}" if row.health else ""
        out.append(("container", f"{live.id[:12]} {live.state.value}{health}" if live
                    else "none on this runtime"))
    elif action.object == "service":
        have = listing.services.get(action.name)
        update = f", update {have.update_state}" if have is not None and have.update_state else ""
        out.append(("service", f"{have.id[:12]} {have.running}/{have.desired} running{update}"
                    if have is not None else "none on this cluster"))
    file = action.container.file if action.container is not None else (
        action.service.file if action.service is not None else None)
    if file is not None:
        out.append(_declared(service.root, file, "container", action.resource))
        change = last_change(service.root, file)
        if change is not None:
            dirty = (" (the file has uncommitted changes)"
                     if uncommitted(service.root, file) else "")
            out.append(("spec changed", f"{change.commit[:12]} {change.date} {change.author}: "
                                        f"{change.subject}{dirty}"))
    out.append(_last_action(last))
    actual = f" ({row.actual})" if action.object in ("container", "service") else ""
    reason = "" if row.reason in ("in sync", "") else f": {row.reason}"
    out.append(("state", f"{row.state.text}{actual}{reason}"))
    done = next((o for o in result.outcomes if o.action.id == action.id), None)
    diff: tuple[ChangeRow, ...] = ()
    if action.changing and (done is None or not done.ok):
        diff = tuple(r.change_row(ch) for ch in action.changes)
    todo = f"the next pass will {action.kind.value} it ({action.reason})" if diff else None
    return WhyView(row.state, tuple(out)), diff, todo


def explain_view(name: str, runtime: RuntimeView, reader: Reader | None) -> Why:
    """(the why rows, the current diff, what the next pass does) of ``name``; None when
    nothing is known about it."""
    try:
        answer = runtime.explain(name, reader)
    except Exception as exc:  # the runtime is down or the folder unreadable: say so
        view = WhyView(Badge("unknown", r.IDLE), (("error", f"{type(exc).__name__}: {exc}"),))
        return view, (), None
    if not answer.found:
        return None, (), None
    badge = Badge(answer.state.kind.value, TONES.get(answer.state.kind, r.IDLE))
    diff = tuple(r.change_row(c) for c in answer.state.changes)
    action = answer.state.summary if diff else None
    return WhyView(badge, lines(answer)), diff, action
