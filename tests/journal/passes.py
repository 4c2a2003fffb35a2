"""Typed pass results for the journal's tests, and a writer process for the concurrency test.

Role: build ``controller.execution.result.PassResult`` values the way
``controller.execution.reconcile`` does (plans, actions with causes and field
changes, classified failures, spec errors), without a runtime: the journal only
reads these values. ``python -m tests.journal.passes PATH PROJECT N`` writes N
passes to the journal at PATH (one real process of the concurrency test) and
prints every journal problem it met. Neighbours: ``tests/journal/test_journal.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from controller.execution.journal.writer import Journal
from controller.execution.result import ActionResult, ErrorKind, Failure, PassResult, Trigger
from controller.planning.actions import Action, Cause, Kind, Plan, PlanError
from controller.planning.diff import FieldChange
from specs.result import SpecError


def action(resource: str, kind: Kind = Kind.CREATE, cause: Cause = Cause.NEW, *,
           reason: str = "not found", changes: tuple[FieldChange, ...] = (),
           obj: str = "container", refresh: bool = False) -> Action:
    return Action(f"{obj}:{resource}", kind, obj, resource, resource, reason, changes,
                  cause=cause, refresh=refresh)


def done(a: Action, failure: Failure | None = None, duration: float = 0.25) -> ActionResult:
    return ActionResult(a, a.kind, a.cause, a.changes, failure, duration)


def passed(project: str, *outcomes: ActionResult, revision: str | None = None,
           spec_errors: tuple[SpecError, ...] = (), frozen: frozenset[tuple[str, str]] = (
               frozenset()), refused: PlanError | None = None, errors: tuple[PlanError, ...] = (),
           triggers: frozenset[Trigger] = frozenset({Trigger.CLI}), rid: str = "r1") -> PassResult:
    plan = Plan(project, revision, tuple(o.action for o in outcomes), errors, refused, frozen,
                frozenset(e.file for e in spec_errors))
    return PassResult(rid, project, revision, plan, triggers=triggers, outcomes=outcomes,
                      spec_errors=spec_errors, frozen=frozen, duration=0.5)


def failure(kind: ErrorKind, message: str = "boom") -> Failure:
    return Failure(kind, message, retry_after=2.0 if kind is ErrorKind.TRANSIENT else None)


def write_many(path: Path, project: str, count: int) -> int:
    """Write ``count`` passes of two actions each; print problems; return passes written."""
    problems: list[str] = []
    journal = Journal(path, report=lambda event, fields: problems.append(f"{event} {fields}"))
    written = 0
    for i in range(count):
        web = action(f"web-{i % 3}", Kind.RECREATE, Cause.SPEC, reason="env.N changed",
                     changes=(FieldChange("env.N", str(i), str(i + 1)),))
        db = action("db", Kind.START, Cause.DRIFT, reason="stopped")
        if journal.record(passed(project, done(web), done(db), rid=f"{project}-{i}"),
                          runtime="docker", source="apply") is not None:
            written += 1
    journal.close()
    for line in problems:
        print(line, file=sys.stderr)
    return written


if __name__ == "__main__":
    print(write_many(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])))
