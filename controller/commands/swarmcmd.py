"""The converge and inspect commands on ``--runtime swarm``.

Role: ``diff``, ``apply``, ``status``, ``down``, ``ps``, ``logs`` and ``exec``
for a Swarm cluster, called by ``controller.commands.converge`` and
``controller.commands.inspect`` when the runtime is ``swarm``. ``apply`` prints
per service, on a terminal, a progress line that rewrites itself (``web 2/3
running``); a rollback by Swarm is a failed action ("rolled back: ..."), exit
1. ``status`` shows per service replicas running/desired, the last update's
state, a remembered rollback, every task's node and state, the nodes (a node
that is down), and that named volumes are per node. ``logs`` prefixes each line
with its task and node; ``exec`` runs in a task container on the local node,
else names the nodes the tasks run on. Neighbours:
``controller.execution.swarmpass``, ``controller.planning.services``,
``runtime.swarm.driver`` (opened with ``runtime.registry.open_swarm``).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


def open_swarm() -> Any:
    from runtime.registry import open_swarm as opener

    return opener()


def ticker() -> Any:
    """The TTY progress line of a converging service (None off a terminal)."""
    if not sys.stdout.isatty():
        return None
    last: dict[str, str] = {}

    def tick(name: str, running: int, desired: int, state: str) -> None:
        text = f"{name} {running}/{desired} running" + (f" ({state})" if state else "")
        if last.get(name) != text:
            last[name] = text
            print(f"\r\x1b[K  {text}", end="", flush=True)

    return tick


def run_diff(args: argparse.Namespace, options: Any) -> int:
    from controller.commands._common import print_spec_errors, print_spec_warnings
    from controller.commands.render import render_plan
    from controller.execution.swarmpass import prepare

    driver = open_swarm()
    try:
        prepared = prepare(args.dir, driver, project=args.project, options=options)
    finally:
        driver.close()
    plan, errors = prepared.plan, prepared.specs.all_errors()
    if args.output == "json":
        out = plan.to_json()
        out["spec_errors"] = [e.as_json() for e in errors]
        json.dump(out, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_spec_warnings(prepared.specs.warnings)
        print_spec_errors(errors)
        print(render_plan(plan, verbose=args.verbose))
    if errors or plan.errors or plan.refused is not None:
        return EXIT_ERROR
    return EXIT_CHANGES if plan.has_changes else EXIT_OK


def apply_pass(args: argparse.Namespace, options: Any, on_event: Any) -> Any:
    """One pass on the cluster (the caller holds the project lock); the PassResult."""
    from controller.execution.swarmpass import reconcile

    driver = open_swarm()
    tick = ticker() if args.output != "json" else None

    def said(event: dict[str, Any]) -> None:
        if tick is not None and event.get("phase") == "done":
            print("\r\x1b[K", end="", flush=True)  # the progress line gives way
        on_event(event)

    try:
        return reconcile(args.dir, driver, project=args.project, options=options,
                         on_event=said, tick=tick)
    finally:
        driver.close()
        if tick is not None:
            print("\r\x1b[K", end="", flush=True)


def status_report(args: argparse.Namespace) -> dict[str, Any]:
    from controller.execution.swarmstatus import status

    driver = open_swarm()
    try:
        return status(args.dir, driver, project=args.project)
    finally:
        driver.close()


def run_status(args: argparse.Namespace) -> int:
    report = status_report(args)
    if args.output == "json":
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK if report["in_sync"] else EXIT_CHANGES
    rev = f" at {report['revision']}" if report["revision"] else ""
    print(f"project {report['project']}{rev} on swarm: "
          f"{'in sync' if report['in_sync'] else 'NOT in sync'}")
    for r in report["resources"]:
        mark = "ok " if r["in_sync"] else "!! "
        update = f" update {r['update_state']}" if r.get("update_state") else ""
        print(f"  {mark}{r['kind']:<8} {r['name']:<24} desired {r['desired']:<8} "
              f"actual {r['actual']}{update}" + ("" if r["in_sync"] else f": {r['reason']}"))
        for t in r.get("tasks", ()):
            down = f" (node {t['node_state']})" if t.get("node_state") not in (None,
                                                                               "ready") else ""
            error = f": {t['error']}" if t["error"] else ""
            print(f"       task {t['id']} slot {t['slot']} on {t['node']}{down}: "
                  f"{t['state']}{error}")
    for n in report["nodes"]:
        mark = "ok " if n["state"] == "ready" else "!! "
        print(f"  {mark}node     {n['hostname']:<24} {n['id'][:12]} {n['role']} {n['state']} "
              f"({n['availability']})")
    for path in report["invalid_files"]:
        print(f"  !! invalid file {path}: its resources are frozen")
    print(f"  note: {report['note']}")
    return EXIT_OK if report["in_sync"] else EXIT_CHANGES


def run_down(args: argparse.Namespace, journal: Any = None) -> int:
    """``down --runtime swarm``; ``journal``: where the down is recorded (None: nowhere)."""
    import os
    import time

    from controller.commands.render import action_line
    from controller.desired import naming
    from controller.desired.gitrev import revision
    from controller.desired.service import DesiredServices
    from controller.desired.specload import load
    from controller.execution.result import down_result
    from controller.execution.swarmapply import execute
    from controller.planning import deployed
    from controller.planning.services import observe, plan_down
    from controller.service.lock import project_lock

    start = time.monotonic()
    specs = load(args.dir, runtime="swarm")
    project = naming.project_name(args.dir, specs, args.project)
    driver = open_swarm()
    try:
        with project_lock(project, wait=False, purpose="down"):
            driver.ping()
            plan = plan_down(observe(driver, DesiredServices(project, None)))
            outcomes = execute(driver, plan)
            deployed.write(project, (o.action.name for o in outcomes  # those still there
                                     if not o.ok and o.action.object == "service"))
            if journal is not None:  # never raises: a journal problem is a warning
                journal.record(down_result(plan, outcomes, revision(args.dir),
                                           time.monotonic() - start, os.urandom(6).hex()),
                               runtime="swarm", source="down", root=args.dir.resolve())
    finally:
        driver.close()
        if journal is not None:
            journal.close()
    failed = 0
    for o in outcomes:
        print(f"{action_line(o.action)} — {'ok' if o.ok else f'FAILED: {o.error}'}"
              + (f" ({o.detail})" if o.detail else ""))
        failed += not o.ok
    if args.volumes:
        print("named volumes are per node and are kept on Swarm: remove them on each node "
              "(docker volume rm)")
    print(f"project {project}: down, {len(outcomes) - failed} done, {failed} failed")
    return EXIT_ERROR if failed else EXIT_OK
