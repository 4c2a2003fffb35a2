"""Rows of the dashboard's pages, made from typed values (pure functions).

Role: turns a journal ``Entry`` into an :class:`EntryRow`, a plan's actions (the last
pass's ``controller.planning.actions.Plan``) with the live container list (Swarm:
the services with their tasks) and the actions under way into :class:`ResourceRow`
values, and a field change into a
:class:`ChangeRow` with the masked values the plan and the journal already carry
(``controller.planning.diff.FieldChange.to_json``, journal ``Change``): a secret is
``***`` before it gets here. Neighbours: ``controller.service.dashboard.views`` (calls
these), ``controller.service.dashboard.models`` (the values).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from controller.execution.journal.records import Change, Entry
from controller.execution.journal.values import iso
from controller.execution.result import ActionResult, PassResult
from controller.planning.actions import Action, Kind
from controller.planning.diff import FieldChange
from controller.service.dashboard.feed import InFlight
from controller.service.dashboard.models import (
    Badge,
    ChangeRow,
    EntryRow,
    ResourceRow,
    SpecErrorRow,
)
from controller.service.runtimeview import Listing, ServiceState
from runtime.types import ContainerSummary, PortBinding

OK, WARN, BAD, BUSY, IDLE = "ok", "warn", "bad", "busy", "idle"
HEALED_FOR = 600.0  # seconds a container put back after drift shows as "healed"
UNSET = "(unset)"


def shown(value: str | None) -> str:
    return UNSET if value is None else value


def change_row(change: Change | FieldChange) -> ChangeRow:
    """A change with its values as shown everywhere else (secrets masked)."""
    if isinstance(change, FieldChange):
        data = change.to_json()  # masks a secret's values
        return ChangeRow(change.field, shown(data["old"]), shown(data["new"]), change.in_place)
    return ChangeRow(change.field, shown(change.old), shown(change.new), change.in_place)


def entry_row(e: Entry) -> EntryRow:
    return EntryRow(e.id, iso(e.at), e.project, e.runtime, e.source, e.triggers, e.resource,
                    e.object, e.name, e.action, e.cause, e.reason, e.outcome.value, e.ok,
                    e.error, e.duration, e.revision.short if e.revision else None,
                    e.revision.subject if e.revision else None,
                    tuple(change_row(c) for c in e.changes))


def spec_error_row(error: Mapping[str, Any]) -> SpecErrorRow:
    line = error.get("line")
    return SpecErrorRow(str(error.get("file") or ""), int(line) if line else None,
                        str(error["key"]) if error.get("key") else None,
                        str(error.get("message") or ""),
                        str(error["hint"]) if error.get("hint") else None)


def port_text(p: PortBinding) -> str:
    host = f"{p.host_ip}:" if p.host_ip else ""
    host += str(p.host_port) if p.host_port is not None else "*"
    return f"{host}->{p.container_port}/{p.protocol}"


def last_action_text(e: Entry | None) -> str | None:
    if e is None:
        return None
    return f"{e.action} ({e.cause}) {e.outcome.value}, {iso(e.at)}"


def _under_way(flight: InFlight) -> tuple[Badge, str]:
    """An action of the pass running now: drifted (it puts back a change) or changing."""
    badge = Badge("drifted", WARN) if flight.drift else Badge("changing", BUSY)
    return badge, f"{flight.action} under way: {flight.reason}"


def _settled(action: Action, done: ActionResult | None, last: Entry | None
             ) -> tuple[Badge, str]:
    """A resource with nothing wrong now: healed (drift put back by the last pass, or
    lately), in sync, or pending (the plan has work for it)."""
    if done is not None and done.ok and done.drift:
        return Badge("healed", OK), (
            f"drift corrected in the last pass: {done.kind.value} ({action.reason})")
    if (not action.changing and last is not None and last.ok and last.cause == "drift"
            and time.time() - last.at < HEALED_FOR):
        return Badge("healed", OK), (
            f"drift corrected at {iso(last.at)}: {last.action} ({last.reason})")
    if (done is not None and done.ok) or not action.changing:
        return Badge("in sync", OK), action.reason if done is not None else "in sync"
    return Badge("pending", WARN), action.reason


def _container_row(action: Action, live: ContainerSummary | None, flight: InFlight | None,
                   result: PassResult, looping: bool, backoff: Mapping[str, Any] | None,
                   last: Entry | None) -> ResourceRow:
    c = action.container
    desired = c.state if c is not None else "absent"
    actual = live.state.value if live is not None else "absent"
    health = live.health.value if live is not None and live.health.value != "none" else None
    done = next((o for o in result.outcomes if o.action.id == action.id), None)
    failed = result.failed.get(action.resource)
    if flight is not None:
        state, reason = _under_way(flight)
    elif looping:
        state, reason = Badge("crash-looping", BAD), "keeps dying: restarted with backoff"
    elif backoff is not None:
        state = Badge("backoff", BAD)
        reason = (f"failed {backoff.get('failures')} time(s): left alone for "
                  f"{float(backoff.get('delay') or 0):g}s ({backoff.get('reason')})")
    elif failed is not None:
        state, reason = Badge("failed", BAD), failed
    elif desired == "running" and actual != "running":
        state, reason = Badge("drifted", WARN), f"not running ({actual}): the next pass heals it"
    elif desired == "absent" and live is not None:
        state, reason = Badge("pending", WARN), action.reason
    else:
        state, reason = _settled(action, done, last)
    image = c.config.image if c is not None else None
    ports = tuple(port_text(p) for p in c.config.ports) if c is not None else ()
    return ResourceRow("container", action.resource, action.name, state, reason, desired,
                       actual, health, image, ports, live.id[:12] if live else None,
                       last_action_text(last))


def _service_row(action: Action, live: ServiceState | None, flight: InFlight | None,
                 result: PassResult, last: Entry | None) -> ResourceRow:
    """A Swarm service: replicas running/desired, its last update, its tasks."""
    d = action.service
    spec = d.spec if d is not None else None
    desired = "absent" if d is None or d.state == "absent" else (
        "stopped (0 replicas)" if d.state == "stopped" else
        "global" if spec is not None and spec.mode == "global" else
        f"{spec.replicas if spec is not None else 1} replica(s)")
    actual = "absent"
    if live is not None:
        actual = f"{live.running}/{live.desired} running" + (
            f", update {live.update_state}" if live.update_state else "")
    done = next((o for o in result.outcomes if o.action.id == action.id), None)
    failed = result.failed.get(action.resource)
    errors = [t.error for t in (live.tasks if live is not None else ()) if t.error]
    if flight is not None:
        state, reason = _under_way(flight)
    elif failed is not None:
        state, reason = Badge("failed", BAD), failed
    elif live is not None and live.update_state.startswith("rollback"):
        state = Badge("rolled back", BAD)
        reason = f"Swarm rolled the update back: {live.update_message or 'tasks failed'}"
    elif live is not None and live.nodes_down:
        state = Badge("node down", WARN)
        reason = (f"tasks on {', '.join(live.nodes_down)}: Swarm reschedules them on the "
                  "nodes that are up")
    elif live is None and d is not None and d.state != "absent":
        state, reason = Badge("drifted", WARN), "removed outside dockwright: the next pass " \
                                                "creates it"
    elif live is not None and live.running < live.desired:
        state = Badge("degraded" if errors else "converging", BAD if errors else BUSY)
        reason = (f"{live.running} of {live.desired} tasks running"
                  + (f": {errors[0]}" if errors else ""))
    else:
        state, reason = _settled(action, done, last)
    ports = tuple(f"{p.published or '*'}->{p.target}/{p.protocol} ({p.mode})"
                  for p in spec.ports) if spec is not None else ()
    return ResourceRow("service", action.resource, action.name, state, reason, desired, actual,
                       None, spec.image if spec is not None else None, ports,
                       live.id[:12] if live is not None else None, last_action_text(last),
                       live.tasks if live is not None else ())


def resource_rows(result: PassResult, listing: Listing,
                  flights: Mapping[str, InFlight], looping: Iterable[str],
                  backoffs: Mapping[str, Mapping[str, Any]], last: Mapping[str, Entry]
                  ) -> tuple[ResourceRow, ...]:
    """Every resource of the last pass's plan, with its state now, and the project's
    volumes and networks the plan had nothing to do about."""
    loops = set(looping)
    live = listing.containers
    out: list[ResourceRow] = []
    for action in result.plan.actions:
        if action.object == "container":
            out.append(_container_row(
                action, live.get(action.name), flights.get(action.name), result,
                action.resource in loops, backoffs.get(action.resource) or backoffs.get(
                    action.name), last.get(action.resource)))
        elif action.object == "service":
            out.append(_service_row(action, listing.services.get(action.name),
                                    flights.get(action.name), result,
                                    last.get(action.resource)))
        elif action.object in ("volume", "network"):
            removing = action.kind in (Kind.REMOVE_NETWORK, Kind.REMOVE_VOLUME)
            making = action.kind in (Kind.CREATE_NETWORK, Kind.CREATE_VOLUME)
            done = next((o for o in result.outcomes if o.action.id == action.id), None)
            ok = not action.changing or (done is not None and done.ok)
            state = Badge("in sync", OK) if ok else Badge("pending", WARN)
            if done is not None and not done.ok:
                state = Badge("failed", BAD)
            actual = ("absent" if removing else "present") if ok else (
                "absent" if making else "present")
            out.append(ResourceRow(action.object, action.resource, action.name, state,
                                   action.reason, "absent" if removing else "present", actual,
                                   None, None, (), None, last_action_text(last.get(
                                       action.resource))))
    named = {(x.kind, x.name) for x in out}
    for kind, names in (("volume", listing.volumes), ("network", listing.networks)):
        out.extend(ResourceRow(kind, n, n, Badge("in sync", OK), "in sync", "present",
                               "present", None, None, (), None, last_action_text(last.get(n)))
                   for n in names if (kind, n) not in named)
    unit = "service" if any(a.object == "service" for a in result.plan.actions) or \
        listing.services else "container"
    for error in result.plan.errors:
        held = listing.services.get(error.resource)
        out.append(ResourceRow(unit, error.resource, error.resource, Badge("error", BAD),
                               f"{error.message} — {error.hint}" if error.hint else
                               error.message, "running",
                               f"{held.running}/{held.desired} running" if held else "unknown",
                               None, None, (), held.id[:12] if held else None,
                               last_action_text(last.get(error.resource)),
                               held.tasks if held else ()))
    for kind, name in sorted(result.plan.frozen):
        live_c = live.get(name)
        out.append(ResourceRow(kind, name, name, Badge("quarantined", WARN),
                               "declared in an invalid spec file: left as it runs until the "
                               "file is fixed", "frozen",
                               live_c.state.value if live_c else "unchanged",
                               None, None, (), live_c.id[:12] if live_c else None,
                               last_action_text(last.get(name))))
    return tuple(out)
