"""``dockwright diff | apply | status``: the converge commands.

Role: the CLI face of one reconcile pass. ``diff`` prints the plan (text or
JSON) and exits 0 (no changes), 2 (changes) or 1 (errors); ``apply``
executes the same plan, printing one progress line per action, and exits 1
when a spec file is invalid or an action failed (after converging the rest);
``apply --dry-run`` behaves like ``diff``; ``status`` shows desired vs actual
per resource. The stop notices' lines (:func:`say_stop`) and the CLI's journal
(:func:`cli_journal`) serve ``controller.commands.down`` too. Neighbours:
``controller.execution.reconcile``, ``controller.execution.status``,
``controller.commands.render``, ``controller.commands._common``,
``controller.commands.down`` (``dockwright down``).
Heavy modules (the Docker SDK) load inside the handlers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: the handlers import what they run
    pass

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


def register(sub: Any) -> None:
    """Add ``diff``, ``apply`` and ``status`` to the CLI's subparsers."""
    diff = sub.add_parser("diff", help="show what apply would change (exit 2 if anything)")
    diff.add_argument("dir", type=Path, help="the spec directory")
    diff.add_argument("--output", "-o", choices=("text", "json"), default="text")
    diff.add_argument("--no-prune", dest="prune", action="store_false",
                      help="do not plan removals of undeclared objects")
    diff.add_argument("--prune-volumes", action="store_true")
    diff.add_argument("--allow-mass-delete", action="store_true")
    diff.add_argument("--adopt-compose", metavar="PROJECT", default=None,
                      help="show how the running docker-compose project PROJECT would be "
                           "taken over")
    diff.set_defaults(func=run_diff, dry_run=True, concurrency=16)

    apply = sub.add_parser("apply", help="make the runtime equal to the spec directory")
    apply.add_argument("dir", type=Path, help="the spec directory")
    apply.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    apply.add_argument("--no-prune", dest="prune", action="store_false",
                       help="keep owned objects that are no longer declared")
    apply.add_argument("--prune-volumes", action="store_true",
                       help="also remove owned named volumes that are no longer declared")
    apply.add_argument("--allow-mass-delete", action="store_true",
                       help="allow removing all or more than half of the owned containers")
    apply.add_argument("--adopt-compose", metavar="PROJECT", default=None,
                       help="take over the containers, networks and volumes docker-compose "
                            "made for PROJECT: equal ones keep running (no restart), others "
                            "are recreated; volumes keep their data")
    apply.add_argument("--concurrency", "-j", type=int, default=16,
                       help="actions run in parallel (default 16)")
    apply.add_argument("--output", "-o", choices=("text", "json"), default="text")
    apply.add_argument("--wait-lock", action="store_true",
                       help="wait for a running `watch` (or apply) of the project to finish "
                            "instead of failing")
    from controller.commands._common import add_journal_options

    add_journal_options(apply)
    apply.set_defaults(func=run_apply)

    status = sub.add_parser("status", help="desired vs actual state of every resource")
    status.add_argument("dir", type=Path, help="the spec directory")
    status.add_argument("--output", "-o", choices=("text", "json"), default="text")
    status.set_defaults(func=run_status)


def _options(args: argparse.Namespace) -> Any:
    from controller.execution.reconcile import Options

    if args.adopt_compose and args.runtime != "docker":
        from controller.errors import ControllerError

        raise ControllerError(f"--adopt-compose takes over Docker containers, not "
                              f"{args.runtime} ones",
                              hint="run it with --runtime docker (the default)")

    return Options(prune=args.prune, prune_volumes=args.prune_volumes,
                   allow_mass_delete=args.allow_mass_delete, concurrency=args.concurrency,
                   dry_run=args.dry_run, adopt_compose=args.adopt_compose)


def run_diff(args: argparse.Namespace) -> int:
    if args.runtime == "swarm":
        from controller.commands import swarmcmd

        return swarmcmd.run_diff(args, _options(args))
    from controller.commands._common import (
        check_spec_dir,
        open_runtime,
        print_spec_errors,
        print_spec_warnings,
    )
    from controller.planning.prefetch import Listing

    check_spec_dir(args.dir)
    driver = open_runtime(args)
    listing = Listing(driver)  # the daemon answers while the specs load
    from controller.commands.render import render_plan
    from controller.execution.reconcile import prepare

    try:
        prepared = prepare(args.dir, driver, project=args.project, options=_options(args),
                           listing=listing)
    finally:
        driver.close()
    plan = prepared.plan
    errors = prepared.specs.all_errors()
    if args.output == "json":
        out = plan.to_json()
        out["spec_errors"] = [e.as_json() for e in errors]
        out["spec_warnings"] = [e.as_json() for e in prepared.specs.warnings]
        json.dump(out, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_spec_warnings(prepared.specs.warnings)
        print_spec_errors(errors)
        print(render_plan(plan, verbose=args.verbose))
    if errors or plan.errors or plan.refused is not None:
        return EXIT_ERROR
    return EXIT_CHANGES if plan.has_changes else EXIT_OK


def run_apply(args: argparse.Namespace) -> int:
    if args.dry_run:
        return run_diff(args)
    from controller.commands._common import (
        check_concurrency,
        check_spec_dir,
        open_runtime,
        print_spec_warnings,
    )
    from controller.commands.render import SYMBOL
    from controller.desired.specload import recipe_of
    from controller.execution.reconcile import reconcile
    from controller.service.lock import project_lock

    # Structured logs only when asked for (--log-format, -v): the progress lines (failures
    # included) are the one-shot output, and importing structlog costs start-up time.
    structured = bool(args.log_format or args.verbose)
    loggers: list[Any] = []

    def log() -> Any:
        if not loggers:
            from controller import logging as dwlog  # stdlib logging: only when asked for

            dwlog.setup(args.log_format, verbose=args.verbose)
            loggers.append(dwlog.get_logger())
        return loggers[0]

    def on_event(event: dict[str, Any]) -> None:
        if event["event"] == "pass":
            if structured:
                log().info("pass", **{k: v for k, v in event.items() if k != "event"})
            return
        if event["event"] in STOP_EVENTS:  # logged already (``lifecycle``) when structured
            if not structured and args.output != "json":
                say_stop(event)
            return
        if event["event"] == "plan":  # problems first, before any progress line
            for line in event["spec_errors"]:
                print(line, file=sys.stderr)
            for line in event["errors"]:
                print(f"error: {line}", file=sys.stderr)
            if event["refused"]:
                print(f"refused: {event['refused']}", file=sys.stderr)
            sys.stderr.flush()
            return
        if event.get("phase") != "done":
            return
        if structured:
            bound = log().bind(reconcile_id=event["reconcile_id"], project=event["project"],
                               resource=event["resource"], action=event["action"])
            fields = {k: event[k] for k in ("name", "reason", "duration", "detail", "error")}
            (bound.debug if event["ok"] else bound.warning)("action", ok=event["ok"], **fields)
        if args.output == "json":
            return
        from controller.planning.plan import Kind

        kind = Kind(event["action"])
        if kind in (Kind.NOOP,) and not event.get("detail"):
            return
        error = event["error"] or ""
        prefix = f"{event['action']} {event['object']} {event['name']}: "  # shown already
        status = "ok" if event["ok"] else f"FAILED: {error.removeprefix(prefix)}"
        detail = f" ({event['detail']})" if event.get("detail") else ""
        print(f"{SYMBOL[kind]} {kind.value:<14} {event['object']} {event['name']}: "
              f"{event['reason']} — {status}{detail} [{event['duration']:.2f}s]", flush=True)

    check_spec_dir(args.dir)
    check_concurrency(args.concurrency)
    if structured:  # before the pass: the executor logs stop notices only once configured
        log()
    journal = cli_journal(args)
    # loaded once: for the lock's project name and for the pass; the pass observes the
    # runtime only once the lock is held
    specs, recipe = recipe_of(args.dir, args.project, runtime=args.runtime)
    if args.output != "json":
        print_spec_warnings(specs.warnings)
    swarm = args.runtime == "swarm"
    driver = None if swarm else open_runtime(args)
    try:
        with project_lock(recipe.project, wait=args.wait_lock, purpose="apply"):
            if driver is None:
                from controller.commands.swarmcmd import apply_pass

                result = apply_pass(args, _options(args), on_event)
            else:
                result = reconcile(args.dir, driver, project=args.project,
                                   options=_options(args), on_event=on_event, specs=specs,
                                   recipe=recipe)
            if journal is not None:  # never raises: a journal problem is a warning
                journal.record(result, runtime=args.runtime, source="apply",
                               root=args.dir.resolve())
    finally:
        if driver is not None:
            driver.close()
        if journal is not None:
            journal.close()
    if args.output == "json":
        json.dump(result.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    if result.spec_errors:
        files = len({e.file for e in result.spec_errors})
        print(f"{len(result.spec_errors)} problem(s) in {files} spec file(s): their resources "
              "are frozen (left as they run)", file=sys.stderr)
    if result.plan.refused is not None:
        return EXIT_ERROR
    done = sum(1 for o in result.outcomes if o.changed)
    failed = [o for o in result.outcomes if not o.ok]
    if args.output != "json":
        summary = f"{done} action{'' if done == 1 else 's'} done" if done else "no changes"
        if failed:
            summary += f", {len(failed)} failed"
        print(f"project {result.project}: {summary} in {result.duration:.2f}s", flush=True)
    return EXIT_ERROR if (failed or result.spec_errors or result.plan.errors) else EXIT_OK


STOP_EVENTS = ("stop_waiting", "stop_killed")


def say_stop(event: dict[str, Any]) -> None:
    """The human line of a stop notice (``controller.execution.lifecycle``) on stderr: a
    wait only on a terminal, a kill at the end of the grace period always (with its fix)."""
    if event["event"] == "stop_waiting" and not sys.stderr.isatty():
        return
    hint = f" — {event['hint']}" if event.get("hint") else ""
    print(f"{'warning: ' if event['event'] == 'stop_killed' else ''}{event['message']}{hint}",
          file=sys.stderr, flush=True)


def cli_journal(args: argparse.Namespace) -> Any:
    """The journal ``apply`` records its pass in (None with ``--no-journal``); its problems
    are one warning line each on stderr (the pass goes on)."""
    if not args.journal:
        return None
    from controller.commands._common import journal_file, journal_limits
    from controller.execution.journal.writer import Journal

    max_age, max_bytes = journal_limits(args)

    def report(event: str, fields: dict[str, Any]) -> None:
        if event == "journal_moved_aside":
            text = (f"the journal {fields['path']} was damaged ({fields['error']}): moved to "
                    f"{fields['moved_to']}; a new journal was started")
        elif event == "journal_problem":
            text = f"{fields['error']} — {fields['hint']}"
        else:
            return
        print(f"dockwright: warning: {text}", file=sys.stderr, flush=True)

    return Journal(journal_file(args), max_age=max_age, max_bytes=max_bytes, report=report)


def run_status(args: argparse.Namespace) -> int:
    if args.runtime == "swarm":
        from controller.commands import swarmcmd

        return swarmcmd.run_status(args)
    from controller.commands._common import check_spec_dir, open_runtime
    from controller.planning.prefetch import Listing

    check_spec_dir(args.dir)
    driver = open_runtime(args)
    listing = Listing(driver)  # the daemon answers while the specs load
    from controller.execution.status import status

    try:
        report = status(args.dir, driver, project=args.project, listing=listing)
    finally:
        driver.close()
    from controller.commands._common import journal_file
    from controller.execution.journal.values import probe

    journal = probe(journal_file(args))  # no sqlite3: the file and its folder only
    if args.output == "json":
        json.dump({**report, "journal": journal.to_json()}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        rev = f" at {report['revision']}" if report["revision"] else ""
        print(f"project {report['project']}{rev}: "
              f"{'in sync' if report['in_sync'] else 'NOT in sync'}")
        for r in report["resources"]:
            mark = "ok " if r["in_sync"] else "!! "
            health = f"/{r['health']}" if r.get("health") not in (None, "none") else ""
            adopted = f" (adopted from docker-compose project {r['adopted_from']})" \
                if r.get("adopted_from") else ""
            print(f"  {mark}{r['kind']:<9} {r['name']:<24} desired {r['desired']:<8} "
                  f"actual {r['actual']}{health}" + ("" if r["in_sync"] else f": {r['reason']}")
                  + adopted)
        for path in report["invalid_files"]:
            print(f"  !! invalid file {path}: its resources are frozen")
        if journal.problem is not None:
            print(f"  !! journal: {journal.problem.message} — {journal.problem.hint}")
        if journal.moved_aside:
            print(f"  !! journal: {len(journal.moved_aside)} damaged journal(s) moved aside, "
                  f"the last to {journal.moved_aside[-1]}")
    return EXIT_OK if report["in_sync"] else EXIT_CHANGES
