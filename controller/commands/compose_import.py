"""``dockwright import``: a docker-compose project -> a spec folder, in one command.

Role: the CLI face of ``controller.compose.importer``: parses the options,
prints each located problem (``docker-compose.yml:14: services.web.KEY: not
supported — what to do instead``) and exits 1 with nothing written, or prints
every file written and the next step (``dockwright apply DIR --adopt-compose
PROJECT``). Neighbours: ``controller.cli`` (dispatch); the importer is
imported inside the handler (start-up stays lean).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    """Add ``import`` to the CLI's subparsers."""
    parser = sub.add_parser("import", help="convert docker-compose files into a spec folder")
    parser.add_argument("-f", "--file", dest="files", action="append", type=Path, default=[],
                        help="compose file (repeat to merge several, in order; default: "
                        "docker-compose.yml or compose.yaml in the current folder)")
    parser.add_argument("--out", type=Path, default=Path("dockwright"),
                        help="the spec folder to write (default: ./dockwright)")
    parser.add_argument("--project", "-p", default=None,
                        help="compose project name (default: COMPOSE_PROJECT_NAME, the "
                        "file's name:, else the compose file's folder)")
    parser.add_argument("--profile", dest="profiles", action="append", default=[],
                        help="activate a compose profile (repeatable)")
    parser.add_argument("--partial", action="store_true",
                        help="write what converts; keys that do not are left as comments")
    parser.add_argument("--force", action="store_true", help="overwrite existing spec files")
    parser.add_argument("--names", choices=("compose", "short"), default="compose",
                        help="compose: keep docker-compose's container names "
                        "(<project>_<service>_1), so that --adopt-compose finds them; "
                        "short: the service name")
    parser.set_defaults(func=run_import)


def run_import(args: argparse.Namespace) -> int:
    from controller.compose.importer import ImportFailed, Options, run
    from controller.compose.source import ComposeError

    opts = Options(files=tuple(args.files), out=args.out, project=args.project,
                   profiles=tuple(args.profiles), partial=args.partial, force=args.force,
                   short_names=args.names == "short")
    try:
        result = run(opts)
    except ImportFailed as exc:
        for problem in exc.problems:
            print(problem.format(), file=sys.stderr)
        print(f"nothing written: {len(exc.problems)} problem"
              f"{'' if len(exc.problems) == 1 else 's'} (--partial writes the rest, with "
              "these keys left as comments)", file=sys.stderr)
        return 1
    except ComposeError as exc:
        print(f"{exc}", file=sys.stderr)
        print("nothing written", file=sys.stderr)
        return 1
    for path in result.written:
        print(f"wrote {path}")
    for problem in result.left:
        print(f"left as a comment: {problem.format()}", file=sys.stderr)
    print(f"{len(result.services)} service{'' if len(result.services) == 1 else 's'} of "
          f"compose project {result.project!r} imported; next: dockwright diff {result.out} "
          f"--adopt-compose {result.project}", file=sys.stderr)
    return 0
