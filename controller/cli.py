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
import atexit
import contextlib
import gc
import importlib
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any

COMMAND_MODULES = (
    "controller.commands.validate",  # validate, schema
    "controller.commands.converge",  # diff, apply, status
    "controller.commands.down",  # down
    "controller.commands.inspect",  # ps, logs, exec
    "controller.commands.watch",  # watch
    "controller.commands.history",  # history, why
    "controller.commands.compose_import",  # import
)

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2
_service = False  # the command is `watch` (a service: a normal interpreter exit)


def _add_global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Global options, also accepted after the command (``apply DIR --runtime native``)."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    taken = set(parser._option_string_actions)

    def add(*names: str, **kwargs: Any) -> None:
        if not taken & set(names):  # a command may define its own variant of an option
            parser.add_argument(*names, **kwargs)

    add("--project", "-p", default=default(None),
                        help="project name (default: [project].name, else the folder's name)")
    add(
        "--runtime",
        default=default(None),
        choices=("docker", "native", "swarm"),
        help="container runtime: docker (Docker Engine), native (crun/runc, no daemon) or "
        "swarm (a Docker Swarm cluster through a manager, DOCKER_HOST); default: "
        "$DOCKWRIGHT_RUNTIME, else [project] runtime, else docker",
    )
    add(
        "--state-dir",
        default=default(os.environ.get("DOCKWRIGHT_STATE_DIR")),
        help="state folder: ledger, journal, digest key, secret copies and the native "
        "runtime's data (default: $DOCKWRIGHT_STATE_DIR, else /var/lib/dockwright as root, "
        "else ~/.local/state/dockwright)",
    )
    add("--log-format", choices=("console", "json"), default=default(None),
                        help="log format (default: console on a TTY, json otherwise)")
    add("-v", "--verbose", action="store_true", default=default(False),
                        help="debug logging")


def resolve_runtime(args: argparse.Namespace) -> str:
    """``--runtime``, else ``$DOCKWRIGHT_RUNTIME``, else the spec directory's ``[project]
    runtime``, else docker."""
    given = getattr(args, "runtime", None) or os.environ.get("DOCKWRIGHT_RUNTIME")
    if given:
        return str(given)
    folder = getattr(args, "dir", None)
    if folder is not None:
        from specs.files import declared_runtime

        return declared_runtime(folder) or "docker"
    return "docker"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dockwright",
        description="Keep a host's containers equal to a directory of TOML spec files.",
    )
    _add_global_options(parser, suppress=False)
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
    for command in sub.choices.values():
        _add_global_options(command, suppress=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # A one-shot command allocates little and exits soon: the cyclic garbage collector
    # would only cost start-up time (a tenth of the imports). The service turns it back
    # on (``controller.commands.watch``); an in-process caller gets its state back.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _main(argv)
    finally:
        if enabled:
            gc.enable()


def _main(argv: Sequence[str] | None) -> int:
    global _service
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # a usage error is an error (1), never "changes" (2)
        return EXIT_ERROR if exc.code == 2 else (exc.code if isinstance(exc.code, int) else 0)
    _service = args.command == "watch"
    args.runtime = resolve_runtime(args)
    with _state_dir(getattr(args, "state_dir", None)):
        return _run(args)


@contextlib.contextmanager
def _state_dir(folder: str | None) -> Iterator[None]:
    """``--state-dir`` names the one state folder of this process: every part that keeps
    state (ledger, digest key, journal, copies, native runtime) reads it from
    ``$DOCKWRIGHT_STATE_DIR``; an in-process caller gets its environment back."""
    if not folder:
        yield
        return
    old = os.environ.get("DOCKWRIGHT_STATE_DIR")
    os.environ["DOCKWRIGHT_STATE_DIR"] = os.path.abspath(folder)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("DOCKWRIGHT_STATE_DIR", None)
        else:
            os.environ["DOCKWRIGHT_STATE_DIR"] = old


def _run(args: argparse.Namespace) -> int:
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


def entry() -> None:
    """The ``dockwright`` console script. A one-shot command exits at once when done: its
    threads finished and its child reaped, it runs the exit handlers and flushes its
    output, and skips the interpreter's tear-down (a last garbage collection and the
    freeing of every module), which would only add to its run time."""
    code = main()
    if _service:
        sys.exit(code)
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):  # a closed pipe: nothing left to say
        pass
    os._exit(code)


if __name__ == "__main__":
    entry()
