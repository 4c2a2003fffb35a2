"""``dockwright ps | logs | exec``: look at the containers dockwright manages.

Role: ``ps`` lists every container on the runtime that carries dockwright's
managed-by label (one list call; with ``--project``, also the containers
adopted from docker-compose, ``controller.planning.adoption``: one more), with
project, resource, state, health and published ports; ``logs NAME`` prints
(``-f`` follows) a container's output; ``exec NAME -- CMD...`` runs a command
in it and exits with its exit code.
Neighbours: ``runtime.driver`` (through ``controller.commands._common``),
``controller.cli`` (dispatch). Heavy modules load inside the handlers.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(sub: Any) -> None:
    """Add ``ps``, ``logs`` and ``exec`` to the CLI's subparsers."""
    ps = sub.add_parser("ps", help="list the containers dockwright manages")
    ps.add_argument("--all", "-a", action="store_true",
                    help="every project (default: the --project given, else all projects)")
    ps.add_argument("--output", "-o", choices=("text", "json"), default="text")
    ps.set_defaults(func=run_ps)
    logs = sub.add_parser("logs", help="print a managed container's output")
    logs.add_argument("name", help="container name")
    logs.add_argument("--follow", "-f", action="store_true")
    logs.add_argument("--tail", type=int, default=None, help="only the last N lines")
    logs.set_defaults(func=run_logs)
    exe = sub.add_parser("exec", help="run a command in a container: exec NAME -- CMD...")
    exe.add_argument("name", help="container name")
    exe.add_argument("cmd", nargs=argparse.REMAINDER, help="the command (after --)")
    exe.add_argument("--tty", "-t", action="store_true")
    exe.set_defaults(func=run_exec)


def _ports(info: Any) -> str:
    out = []
    for p in info.host_ports:
        host = f"{p.host_ip or '0.0.0.0'}:{p.host_port}->" if p.host_port else ""
        out.append(f"{host}{p.container_port}/{p.protocol}")
    return ",".join(out)


def run_ps(args: argparse.Namespace) -> int:
    if args.runtime == "swarm":
        from controller.commands import swarminspect

        return swarminspect.run_ps(args)
    from concurrent.futures import ThreadPoolExecutor

    from controller.commands._common import open_runtime
    from controller.compose.labels import SERVICE as COMPOSE_SERVICE
    from runtime.errors import NotFound
    from runtime.types import (
        LABEL_MANAGED_BY,
        LABEL_PROJECT,
        LABEL_RESOURCE,
        LABEL_REVISION,
        MANAGED_BY,
    )

    driver = open_runtime(args)
    try:
        labels = {LABEL_MANAGED_BY: MANAGED_BY}
        if args.project and not args.all:
            labels[LABEL_PROJECT] = args.project
        rows = driver.list_containers(labels)
        if args.project and not args.all:  # adopted from docker-compose: compose's labels
            from controller.planning import adoption

            adopted = adoption.read(driver.name, args.project).containers
            if adopted:
                rows += [s for s in driver.list_containers(None) if s.id in adopted]
        rows = sorted(rows, key=lambda s: (s.label(LABEL_PROJECT) or "", s.name))

        def ports(summary: Any) -> str:
            if summary.state.value != "running":
                return ""
            try:
                return _ports(driver.inspect_container(summary.id))
            except NotFound:
                return ""

        with ThreadPoolExecutor(max_workers=8) as pool:
            published = list(pool.map(ports, rows))
    finally:
        driver.close()
    items: list[dict[str, Any]] = [
        {"name": s.name.lstrip("/"), "id": s.id[:12],
         "project": s.label(LABEL_PROJECT) or args.project,
              "resource": s.label(LABEL_RESOURCE) or s.label(COMPOSE_SERVICE),
              "state": s.state.value,
              "health": s.health.value, "exit_code": s.exit_code, "ports": p,
              "revision": s.label(LABEL_REVISION)} for s, p in zip(rows, published, strict=True)]
    if args.output == "json":
        json.dump(items, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    table = [("NAME", "PROJECT", "RESOURCE", "STATE", "HEALTH", "PORTS")]
    for i in items:
        state = i["state"] + (f"({i['exit_code']})" if i["state"] == "exited" else "")
        table.append((i["name"], i["project"] or "", i["resource"] or "", state, i["health"],
                      i["ports"]))
    widths = [max(len(row[c]) for row in table) for c in range(5)]  # columns line up
    for row in table:
        cells = "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False))
        print(f"{cells}  {row[5]}".rstrip())
    return 0


def _no_such_container(name: str) -> Exception:
    from controller.errors import ControllerError

    return ControllerError(f"no container named {name!r}",
                           hint="`dockwright ps` lists the containers dockwright manages")


def run_logs(args: argparse.Namespace) -> int:
    if args.runtime == "swarm":
        from controller.commands import swarminspect

        return swarminspect.run_logs(args)
    from controller.commands._common import open_runtime
    from runtime.errors import NotFound

    driver = open_runtime(args)
    try:
        out = sys.stdout.buffer
        for chunk in driver.logs(args.name, follow=args.follow, tail=args.tail):
            out.write(chunk)
            out.flush()
    except NotFound as exc:
        raise _no_such_container(args.name) from exc
    finally:
        driver.close()
    return 0


def run_exec(args: argparse.Namespace) -> int:
    from controller.commands._common import open_runtime

    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        print("dockwright: error: exec needs a command: dockwright exec NAME -- CMD...",
              file=sys.stderr)
        return 1
    if args.runtime == "swarm":
        from controller.commands import swarminspect

        return swarminspect.run_exec(args, cmd)
    from runtime.errors import NotFound

    driver = open_runtime(args)
    try:
        result = driver.exec_in(args.name, cmd, tty=args.tty)
    except NotFound as exc:
        raise _no_such_container(args.name) from exc
    finally:
        driver.close()
    sys.stdout.buffer.write(result.output)
    sys.stdout.flush()
    return result.exit_code
