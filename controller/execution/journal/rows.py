"""A typed pass result turned into journal rows (pure).

Role: what of a ``controller.execution.result.PassResult`` becomes an entry:
every action that did something (and adoptions), with its kind as performed,
cause, field changes (secret values masked as ``diff`` masks them), duration,
outcome and error; routine work that changed nothing (a ``pull = "always"``
that found the same image) and no-ops are left out. Problems of the pass
(quarantined files and the resources they freeze, a refused plan, plan errors)
become entries when they start and when they end, compared with the problems
the previous pass of the project recorded (so a watch that resyncs every minute
does not repeat them). Neighbours: ``controller.execution.journal.writer``
writes the rows; ``controller.execution.journal.values`` (``Note``, ``Outcome``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from controller.execution.journal.values import EventKind, Note, Outcome
from controller.execution.result import ActionResult, ErrorKind, PassResult
from controller.planning.actions import Cause

_OUTCOME = {ErrorKind.TRANSIENT: Outcome.TRANSIENT, ErrorKind.PERMANENT: Outcome.FAILED,
            ErrorKind.BLOCKED: Outcome.BLOCKED}

# a problem of a pass: (action, object, resource) -> message
Problems = dict[tuple[str, str, str], str]


@dataclass(frozen=True)
class Row:
    """The columns of one ``entries`` row besides the pass's own."""

    resource: str
    object: str
    name: str
    action: str
    cause: str
    reason: str
    changes: str  # JSON list of {field, old, new, in_place}
    duration: float | None
    outcome: Outcome
    error: str | None
    detail: str = ""
    retry_after: float | None = None


def recorded(outcome: ActionResult) -> bool:
    """An outcome worth a line of history."""
    if outcome.passive:
        return outcome.cause is Cause.ADOPT
    return not (outcome.ok and outcome.action.refresh and not outcome.changed)


def action_rows(result: PassResult) -> list[Row]:
    rows = []
    for o in result.outcomes:
        if not recorded(o):
            continue
        changes = json.dumps([{"field": c.field, "old": c.to_json()["old"],
                               "new": c.to_json()["new"], "in_place": c.in_place}
                              for c in o.changes])
        failure = o.failure
        rows.append(Row(o.resource, o.action.object, o.action.name, o.kind.value,
                        o.cause.value, o.action.reason, changes, o.duration,
                        Outcome.OK if failure is None else _OUTCOME[failure.kind],
                        failure.message if failure else None, o.detail,
                        failure.retry_after if failure else None))
    return rows


def problems(result: PassResult) -> Problems:
    """The problems of a pass, keyed so that the next pass can tell new from known."""
    found: Problems = {}
    by_file: dict[str, list[str]] = {}
    for error in result.spec_errors:
        by_file.setdefault(error.file, []).append(error.format())
    invalid = sorted(by_file)
    for file, lines in by_file.items():
        more = f" (+{len(lines) - 1} more)" if len(lines) > 1 else ""
        found[(EventKind.QUARANTINE.value, "file", file)] = sorted(lines)[0] + more
    for kind, name in sorted(result.frozen):
        found[(EventKind.QUARANTINE.value, kind, name)] = (
            f"declared in an invalid spec file ({', '.join(invalid) or 'unreadable'}): "
            "left as it runs")
    plan = result.plan
    if plan.refused is not None:
        hint = f" — {plan.refused.hint}" if plan.refused.hint else ""
        found[(EventKind.REFUSED.value, "plan", "(plan)")] = plan.refused.message + hint
    for plan_error in plan.errors:
        hint = f" — {plan_error.hint}" if plan_error.hint else ""
        found[(EventKind.PLAN_ERROR.value, "container", plan_error.resource)] = (
            plan_error.message + hint)
    return found


def encode(found: Problems) -> str:
    return json.dumps(sorted([*key, message] for key, message in found.items()))


def decode(text: str | None) -> Problems:
    try:
        items = json.loads(text or "[]")
    except ValueError:
        return {}
    return {(str(a), str(o), str(r)): str(m) for a, o, r, m in items}


_OPEN = {EventKind.QUARANTINE.value: Outcome.FROZEN, EventKind.REFUSED.value: Outcome.REFUSED,
         EventKind.PLAN_ERROR.value: Outcome.ERROR}


def problem_rows(now: Problems, before: Problems) -> list[Row]:
    """Entries for problems that began (or changed) and for those that ended."""
    rows = []
    for (action, obj, resource), message in sorted(now.items()):
        if before.get((action, obj, resource)) == message:
            continue
        rows.append(Row(resource, obj, resource, action, Cause.NONE.value, message, "[]", None,
                        _OPEN.get(action, Outcome.ERROR), None))
    for (action, obj, resource), message in sorted(before.items()):
        if (action, obj, resource) in now:
            continue
        if action == EventKind.QUARANTINE.value:
            reason = (f"{resource} is valid again" if obj == "file"
                      else "no longer frozen: its spec file is valid again")
        else:
            reason = ("the plan is accepted again" if obj == "plan"
                      else f"resolved: {message}")
        rows.append(Row(resource, obj, resource, action, Cause.NONE.value, reason, "[]", None,
                        Outcome.RESOLVED, None))
    return rows


def note_rows(notes: Iterable[Note]) -> list[Row]:
    return [Row(n.resource, n.object, n.name or n.resource, n.action, Cause.NONE.value,
                n.reason, "[]", None, n.outcome, n.error, "", n.retry_after) for n in notes]


def all_rows(result: PassResult, before: Problems, notes: Sequence[Note]) -> list[Row]:
    return [*action_rows(result), *problem_rows(problems(result), before), *note_rows(notes)]
