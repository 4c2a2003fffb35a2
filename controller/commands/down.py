"""``dockwright down``: remove a project's containers and networks.

Role: the CLI face of ``controller.planning.down.plan_down``. It observes the
project, plans the removal of its owned containers and networks (named volumes
and the containers' anonymous volumes only with ``--volumes``,
``controller.planning.anonymous``), executes the plan under the project lock (a
running ``watch`` would recreate what it removes: it fails fast), prints one line
per action and records what it did in the journal like a pass (trigger ``cli``,
source ``down``). A Swarm project goes to ``controller.commands.swarmcmd``.
Exits 1 when an action failed. Neighbours: ``controller.commands.converge`` (the
stop notices' lines and the journal it shares), ``controller.commands.render``,
``controller.commands._common``, ``controller.execution.apply``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from controller.commands.converge import EXIT_ERROR, EXIT_OK, cli_journal, say_stop


def register(sub: Any) -> None:
    """Add ``down`` to the CLI's subparsers."""
    from controller.commands._common import add_journal_options

    down = sub.add_parser("down", help="remove the project's containers and networks")
    down.add_argument("dir", type=Path, help="the spec directory")
    down.add_argument("--volumes", action="store_true",
                      help="also remove its named volumes and its containers' anonymous volumes")
    add_journal_options(down)
    down.set_defaults(func=run_down)


def run_down(args: argparse.Namespace) -> int:
    if args.runtime == "swarm":
        from controller.commands import swarmcmd

        return swarmcmd.run_down(args, cli_journal(args))

    import os
    import time

    from controller.commands._common import open_runtime
    from controller.commands.render import action_line
    from controller.desired import naming
    from controller.desired.gitrev import revision
    from controller.desired.specload import load
    from controller.desired.state import DesiredState
    from controller.execution.apply import execute
    from controller.execution.result import down_result
    from controller.planning.down import plan_down
    from controller.planning.observe import observe

    start = time.monotonic()
    specs = load(args.dir)
    project = naming.project_name(args.dir, specs, args.project)
    from controller.service.lock import project_lock

    journal = cli_journal(args)
    driver = open_runtime(args)
    try:
        # a running `watch` of this project would recreate what down removes: fail fast
        with project_lock(project, wait=False, purpose="down"):
            observed = observe(driver, DesiredState(project, None))
            anonymous = None
            if args.volumes:  # like `docker-compose down -v`: the containers' own volumes too
                from controller.planning.anonymous import of_containers

                anonymous = of_containers(driver, [s.id for s in observed.containers.values()])
            plan = plan_down(observed, volumes=args.volumes, anonymous=anonymous)
            outcomes = execute(driver, plan,
                               notify=lambda n: say_stop({"event": n.event.value,
                                                          **n.fields()}))
            if journal is not None:  # never raises: a journal problem is a warning
                journal.record(down_result(plan, outcomes, revision(args.dir),
                                            time.monotonic() - start, os.urandom(6).hex()),
                               runtime=driver.name, source="down", root=args.dir.resolve())
    finally:
        driver.close()
        if journal is not None:
            journal.close()
    failed = 0
    for o in outcomes:
        status = "ok" if o.ok else f"FAILED: {o.error}"
        detail = f" ({o.detail})" if o.detail else ""
        print(f"{action_line(o.action)} — {status}{detail}")
        failed += not o.ok
    print(f"project {project}: down, {len(outcomes) - failed} done, {failed} failed")
    return EXIT_ERROR if failed else EXIT_OK
