"""``ps``, ``logs`` and ``exec`` on ``--runtime swarm``.

Role: ``ps`` lists the tasks of the services dockwright manages (one line per
task: service.slot, project, node, state, error); ``logs NAME [-f]`` reads the
service's logs, every task's, each line prefixed with ``NAME.SLOT.TASK@NODE``;
``exec NAME -- CMD`` runs the command in a task container on the node the
endpoint (``DOCKER_HOST``) is, and otherwise says which nodes run its tasks.
Called by ``controller.commands.inspect`` when the runtime is ``swarm``.
Neighbours: ``runtime.swarm.driver`` (``runtime.registry.open_swarm``).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

DETAIL_KEYS = ("com.docker.swarm.node.id", "com.docker.swarm.task.id")


def _open() -> Any:
    from runtime.registry import open_swarm

    return open_swarm()


def run_ps(args: argparse.Namespace) -> int:
    from runtime.types import LABEL_MANAGED_BY, LABEL_PROJECT, MANAGED_BY

    driver = _open()
    try:
        labels = {LABEL_MANAGED_BY: MANAGED_BY}
        if args.project and not args.all:
            labels[LABEL_PROJECT] = args.project
        services = {s.id: s for s in driver.list_services(labels)}
        nodes = {n.id: n for n in driver.nodes()}
        tasks = [t for t in driver.tasks(labels=labels) if t.service_id in services
                 and t.desired_state in ("running", "ready")] if services else []
    finally:
        driver.close()
    items = []
    for t in tasks:
        s = services[t.service_id]
        node = nodes.get(t.node_id)
        items.append({"name": f"{s.spec.name}.{t.slot or t.node_id[:12]}", "id": t.id[:12],
                      "project": s.label(LABEL_PROJECT), "service": s.spec.name,
                      "node": node.hostname if node else t.node_id[:12],
                      "node_id": t.node_id, "node_state": node.state if node else None,
                      "state": t.state, "error": t.error,
                      "replicas": f"{s.running}/{s.desired}"})
    items.sort(key=lambda i: (i["project"] or "", i["name"]))
    if args.output == "json":
        json.dump(items, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    table = [("NAME", "PROJECT", "NODE", "STATE", "REPLICAS", "ERROR")]
    for i in items:
        node = i["node"] + ("" if i["node_state"] in (None, "ready") else
                            f"({i['node_state']})")
        table.append((i["name"], i["project"] or "", node, i["state"], i["replicas"],
                      i["error"] or ""))
    widths = [max(len(row[c]) for row in table) for c in range(5)]
    for row in table:
        cells = "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False))
        print(f"{cells}  {row[5]}".rstrip())
    return 0


def _prefix(details: str, slots: dict[str, int], nodes: dict[str, str], name: str) -> str:
    found = dict(item.partition("=")[::2] for item in details.split(","))
    task = found.get("com.docker.swarm.task.id", "")
    node = found.get("com.docker.swarm.node.id", "")
    slot = slots.get(task)
    where = nodes.get(node, node[:12])
    return f"{name}.{slot if slot else ''}.{task[:12]}@{where}"


def run_logs(args: argparse.Namespace) -> int:
    from controller.errors import ControllerError
    from runtime.errors import NotFound

    driver = _open()
    out = sys.stdout.buffer
    try:
        try:
            slots = {t.id: t.slot for t in driver.tasks(args.name)}
        except NotFound as exc:
            raise ControllerError(f"no service named {args.name!r}", hint="`dockwright ps "
                                  "--runtime swarm` lists the services dockwright manages"
                                  ) from exc
        nodes = {n.id: n.hostname for n in driver.nodes()}
        pending = b""
        for chunk in driver.service_logs(args.name, follow=args.follow, tail=args.tail):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                details, _, message = line.partition(b" ")
                prefix = _prefix(details.decode(errors="replace"), slots, nodes, args.name)
                out.write(prefix.encode() + b" | " + message + b"\n")
            out.flush()
    finally:
        driver.close()
    return 0


def run_exec(args: argparse.Namespace, cmd: list[str]) -> int:
    from controller.errors import ControllerError

    driver = _open()
    try:
        local = driver.local_task_containers(args.name)
        if not local:
            me = driver.local_node()
            nodes = {n.id: n.hostname for n in driver.nodes()}
            where = sorted({f"{nodes.get(t.node_id, t.node_id[:12])} ({t.node_id[:12]})"
                            for t in driver.tasks(args.name)
                            if t.state == "running" and t.node_id != me})
            raise ControllerError(
                f"no task of service {args.name!r} runs on this node",
                hint=(f"its tasks run on {', '.join(where)}: point DOCKER_HOST at one of "
                      "those nodes' daemons" if where else
                      f"no task of {args.name!r} is running: see `dockwright status`"))
        result = driver.exec_in(local[0], cmd, tty=args.tty)
    finally:
        driver.close()
    sys.stdout.buffer.write(result.output)
    sys.stdout.flush()
    return int(result.exit_code)
