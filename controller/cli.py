"""Command-line entry point: ``dockwright <command> ...``.

Role: parse global options, dispatch to a command module, and turn errors into
messages and exit codes (only the CLI does that; principle 6). Each command
lives in its own small module under ``controller/commands/`` exposing
``register(subparsers)``; they import heavy libraries (docker SDK, pyroute2)
inside their handlers so that start-up stays lean.

Exit codes (terraform ``-detailed-exitcode`` / ``kubectl diff``): 0 success and
nothing to change, 1 error, 2 success with changes (``diff``,
``apply --dry-run``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

COMMAND_MODULES = (
    "controller.commands.validate",  # validate, schema
    "controller.commands.converge",  # diff, apply, down, status
    "controller.commands.inspect",  # ps, logs, exec
    "controller.commands.watch",  # watch
)

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dockwright",
        description="Keep a host's containers equal to a directory of TOML spec files.",
    )
    parser.add_argument("--project", "-p", help="project name (default: [project].name, else the folder's name)")
    parser.add_argument(
        "--runtime",
        default=os.environ.get("DOCKWRIGHT_RUNTIME", "docker"),
        choices=("docker", "native", "swarm"),
        help="container runtime (default: docker, or $DOCKWRIGHT_RUNTIME)",
    )
    parser.add_argument(
        "--state-dir",
        default=os.environ.get("DOCKWRIGHT_STATE_DIR"),
        help="state folder of the native runtime (default: /var/lib/dockwright)",
    )
    parser.add_argument("--log-format", choices=("console", "json"), default=None,
                        help="log format (default: console on a TTY, json otherwise)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # the one place that turns errors into messages
        from controller.errors import describe

        print(f"dockwright: error: {describe(exc)}", file=sys.stderr)
        if args.verbose:
            raise
        return EXIT_ERROR
    return code


if __name__ == "__main__":
    sys.exit(main())
