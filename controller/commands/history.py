"""``dockwright history [DIR] [NAME]`` and ``dockwright why [DIR] NAME``: the journal, read.

Role: ``history`` prints the journal's entries newest first, one line per action
(when, project, resource, action, cause, reason, revision, outcome), filtered by
project (``--project`` or DIR's), by resource or runtime name, by ``--since``
(``2h``, ``3d``, an ISO time) and ``--limit``; ``--output json`` gives the
entries as the read API returns them. ``why`` explains one name
(``controller.execution.explain``): where it is declared, the commit that last
changed that file, the last action with its field-level reason and result, its
state now, and who owns a container dockwright leaves alone. Exit codes as the
other commands: 0 answered, 1 error (an unknown name, an unreadable journal, a
bad option). Neighbours: ``controller.execution.journal.query``,
``controller.commands._common``. Heavy modules load inside the handlers.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from controller.execution.explain import Explanation
    from controller.execution.journal.records import Entry

EXIT_OK, EXIT_ERROR = 0, 1
REASON_WIDTH = 60


def since_arg(text: str) -> float:
    """``2h``, ``90m``, ``3d``, ``1h30m`` (ago) or an ISO time (UTC when no zone) -> epoch."""
    value = text.strip()
    days = re.fullmatch(r"(\d+(?:\.\d+)?)d", value)
    if days:
        return time.time() - float(days.group(1)) * 86400
    from specs.units import parse_duration

    try:
        return time.time() - parse_duration(value)
    except ValueError:
        pass
    from datetime import UTC, datetime

    try:
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"invalid --since {text!r}: give an age (2h, 30m, 3d) or a time "
            "(2026-12-04T10:00)") from exc
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def register(sub: Any) -> None:
    """Add ``history`` and ``why`` to the CLI's subparsers."""
    from controller.commands._common import positive_int

    h = sub.add_parser("history", help="what dockwright did, newest first (the journal)")
    h.add_argument("args", nargs="*", metavar="[DIR] [NAME]",
                   help="a spec directory (its project) and/or a resource or container name")
    h.add_argument("--since", type=since_arg, default=None, metavar="AGE|TIME",
                   help="only entries since then: 2h, 30m, 3d or 2026-12-04T10:00")
    h.add_argument("--limit", "-n", type=positive_int, default=50,
                   help="at most this many entries (default 50)")
    h.add_argument("--output", "-o", choices=("text", "json"), default="text")
    h.set_defaults(func=run_history)

    w = sub.add_parser("why", help="why a container is as it is: declaration, commit, last "
                                   "action, state, owner")
    w.add_argument("args", nargs="+", metavar="[DIR] NAME",
                   help="the name (container or declared), optionally after its spec directory")
    w.add_argument("--output", "-o", choices=("text", "json"), default="text")
    w.set_defaults(func=run_why)


def _split(args: argparse.Namespace, *, name_required: bool) -> tuple[Path | None, str | None]:
    from controller.errors import ControllerError

    given: list[str] = list(args.args)
    if len(given) > 2:
        raise ControllerError(f"too many arguments: {' '.join(given)}",
                              hint="give at most a spec directory and a name")
    if len(given) == 2:
        root = Path(given[0])
        if not root.is_dir():
            hint = "pass the folder that holds the *.toml files"
            if Path(given[1]).is_dir():
                hint = f"the folder comes first: dockwright {args.command} {given[1]} {given[0]}"
            raise ControllerError(f"the spec directory {root} does not exist", hint=hint)
        return root.resolve(), given[1]
    if len(given) == 1 and (not name_required and Path(given[0]).is_dir()):
        return Path(given[0]).resolve(), None
    return None, (given[0] if given else None)


def _project(root: Path | None, override: str | None) -> str | None:
    if root is None:
        from controller.desired.naming import sanitise_project

        return sanitise_project(override) if override else None
    from controller.desired.naming import project_name
    from controller.desired.specload import load

    return project_name(root, None if override else load(root), override)


def _when(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at))


def _outcome(entry: Entry) -> str:
    if entry.error and not entry.ok:
        return f"{entry.outcome.value}: {entry.error}"
    return entry.outcome.value


def render_history(entries: tuple[Entry, ...], *, verbose: bool = False) -> str:
    """The text table of ``history`` (newest first)."""
    header = ("WHEN (UTC)", "PROJECT", "RESOURCE", "ACTION", "CAUSE", "REASON", "REVISION",
              "OUTCOME")
    rows = []
    for e in entries:
        reason = e.reason if verbose or len(e.reason) <= REASON_WIDTH else (
            e.reason[:REASON_WIDTH - 1] + "…")
        rows.append((_when(e.at), e.project, e.name if e.name != e.resource else e.resource,
                     e.action, e.cause, reason, e.revision.short if e.revision else "-",
                     _outcome(e)))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True))
                     + "  " + r[-1] for r in [header, *rows])


def run_history(args: argparse.Namespace) -> int:
    from controller.commands._common import journal_file
    from controller.execution.journal.query import Filter, Reader

    root, name = _split(args, name_required=False)
    project = _project(root, args.project)
    path = journal_file(args)
    with Reader(path) as reader:
        found = reader.entries(Filter(project=project, resource=name, since=args.since,
                                      limit=args.limit))
    if args.output == "json":
        json.dump({"journal": str(path), "project": project, "resource": name,
                   "entries": [e.to_json() for e in found]}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif found:
        print(render_history(found, verbose=args.verbose))
    else:
        print(f"no entries{f' for {name}' if name else ''}"
              f"{f' in project {project}' if project else ''} in the journal {path}")
    return EXIT_OK


def render_why(x: Explanation) -> str:
    """The text of ``why``."""
    lines = []
    who = f"project {x.project}" if x.project else "no project"
    title = f"{x.kind} {x.name}"
    if x.container is not None and x.container.name != x.name:
        title += f" ({x.container.name})"
    lines.append(f"{title} — {who}, runtime {x.runtime}")

    def row(label: str, text: str) -> None:
        lines.append(f"  {label:<14}{text}")

    if x.container is not None:
        health = f", {x.container.health}" if x.container.health else ""
        row(x.kind, f"{x.container.id[:12]} {x.container.state}{health}")
    elif x.kind in ("container", "service"):
        row(x.kind, "none on this runtime")
    if x.ownership.value not in ("owned", "absent"):
        owner = {"compose": f"docker-compose project {x.owner}",
                 "stack": f"docker stack {x.owner} (docker stack deploy)",
                 "adopted": f"project {x.owner}, adopted from docker-compose project "
                            f"{x.adopted_from} (it keeps compose's labels)",
                 "other-project": f"dockwright project {x.owner}",
                 "foreign": "foreign (not created by dockwright)",
                 "absent": "-"}[x.ownership.value]
        row("owner", owner)
        if x.left_alone:
            row("left alone", x.left_alone)
    d = x.declaration
    if d is not None:
        frozen = "  (INVALID FILE: frozen)" if d.frozen else ""
        row("declared", f"{d.file}:{d.line or '?'} {d.key} in {d.root}{frozen}")
        for error in d.errors[:5]:
            lines.append(f"{'':16}  {error}")
    elif x.ownership.value in ("owned", "adopted", "absent"):
        row("declared", "not in the spec folder" if x.state.kind.value != "unknown" else
            "unknown (no spec folder)")
    c = x.spec_change
    if c is not None:
        dirty = " (the file has uncommitted changes)" if c.uncommitted else ""
        row("spec changed", f"{c.commit[:12]} {c.date} {c.author}: {c.subject}{dirty}")
    a = x.last_action
    if a is not None:
        rev = f", revision {a.revision.short}" if a.revision else ""
        took = f" [{a.duration:.2f}s]" if a.duration is not None else ""
        row("last action", f"{_when(a.at)}Z {a.action} (cause {a.cause}, by {a.source}): "
            f"{a.reason} — {_outcome(a)}{took}{rev}")
        for change in a.changes:
            lines.append(f"{'':18}{change.render()}")
    else:
        row("last action", "none recorded in the journal")
    row("state", x.state.summary)
    for change in x.state.changes:
        lines.append(f"{'':18}{change.render()}")
    return "\n".join(lines)


def run_why(args: argparse.Namespace) -> int:
    from controller.commands._common import journal_file, open_runtime
    from controller.errors import ControllerError
    from controller.execution.explain import explain
    from controller.execution.journal.query import Reader

    root, name = _split(args, name_required=True)
    assert name is not None
    project = _project(root, args.project)
    if args.runtime == "swarm":
        from controller.execution.swarmexplain import explain_service
        from runtime.registry import open_swarm

        swarm = open_swarm()
        try:
            with Reader(journal_file(args)) as reader:
                answer = explain_service(name, swarm, root=root, project=project,
                                         reader=reader)
        finally:
            swarm.close()
    else:
        driver = open_runtime(args)
        try:
            with Reader(journal_file(args)) as reader:
                answer = explain(name, driver, root=root, project=project, reader=reader)
        finally:
            driver.close()
    if not answer.found:
        raise ControllerError(
            f"nothing is known about {name!r} on runtime {answer.runtime}: no container, no "
            "declaration" + (f" in {root}" if root else "") + ", no journal entry",
            hint="check the name (dockwright ps lists the containers), or pass the spec "
                 "directory: dockwright why DIR NAME")
    if args.output == "json":
        json.dump(answer.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(render_why(answer))
    return EXIT_OK
