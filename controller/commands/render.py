"""Printing plans and pass results for people (text) and programs (JSON).

Role: the CLI's formatting of a ``controller.planning.plan.Plan``: one line per
action with its reason, field-level changes indented below it (secret values
masked by ``controller.planning.diff``), plan errors and refusals, and a summary line.
The JSON form is ``Plan.to_json()`` itself. Neighbours: ``controller.planning.plan``,
``controller.commands.converge``. Pure.
"""

from __future__ import annotations

from collections import Counter

from controller.planning.actions import Cause
from controller.planning.plan import Action, Kind, Plan

SYMBOL = {
    Kind.PULL: "v", Kind.BUILD: "v", Kind.LOAD: "v",
    Kind.CREATE_NETWORK: "+", Kind.CREATE_VOLUME: "+", Kind.CREATE: "+",
    Kind.RECREATE: "~", Kind.RENAME: "*", Kind.UPDATE: "^", Kind.START: ">", Kind.STOP: "|",
    Kind.REMOVE: "-", Kind.REMOVE_VOLUME: "-", Kind.REMOVE_NETWORK: "-",
    Kind.KEEP_VOLUME: "=", Kind.NOOP: "=",
}


def action_line(action: Action) -> str:
    return (f"{SYMBOL[action.kind]} {action.kind.value:<14} {action.object} {action.name}: "
            f"{action.reason}")


def render_plan(plan: Plan, *, verbose: bool = False) -> str:
    rev = f" at revision {plan.revision}" if plan.revision else ""
    lines = [f"project {plan.project}{rev}"]
    for action in plan.actions:
        if not action.changing and not verbose and action.kind is not Kind.KEEP_VOLUME and \
                action.cause is not Cause.ADOPT:  # an adoption is recorded: shown
            continue
        lines.append("  " + action_line(action))
        lines.extend(f"      {change.render()}" for change in action.changes)
    for error in plan.errors:
        hint = f" — {error.hint}" if error.hint else ""
        lines.append(f"  ! error          {error.resource}: {error.message}{hint}")
    for path in sorted(plan.invalid_files):
        lines.append(f"  ! frozen         {path}: invalid file, its resources are left as they run")
    if plan.refused is not None:
        lines.append(f"  ! refused: {plan.refused.message} — {plan.refused.hint}")
    counts = Counter(a.kind.value for a in plan.changes)
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no changes"
    adopted = sum(1 for a in plan.actions if a.cause is Cause.ADOPT)
    if adopted:
        summary += f" ({adopted} container{'' if adopted == 1 else 's'} adopted as they run)"
    lines.append(f"plan: {summary}")
    return "\n".join(lines)
