"""Helpers shared by the converge and inspect commands.

Role: open the runtime driver chosen by the global ``--runtime`` option and
print spec errors the same way ``validate`` does. Neighbours:
``controller.commands.converge``, ``controller.commands.inspect``,
``runtime.registry`` (imported lazily, so the Docker SDK loads only here).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: importing this module must stay cheap
    from runtime.driver import Driver
    from specs.result import SpecError


def check_spec_dir(path: Path) -> None:
    """A spec directory that is missing or is a file: one clear error (exit 1)."""
    from controller.errors import ControllerError

    if path.is_file():
        raise ControllerError(f"{path} is a file, not a spec directory",
                              hint=f"pass the folder that holds the *.toml files: {path.parent}")
    if not path.is_dir():
        raise ControllerError(f"the spec directory {path} does not exist",
                              hint="pass the folder that holds the *.toml files")


def check_concurrency(value: int) -> None:
    from controller.errors import ControllerError

    if value < 1:
        raise ControllerError(f"--concurrency {value} is not allowed",
                              hint="give a number of parallel actions of 1 or more")


def open_runtime(args: argparse.Namespace) -> Driver:
    from runtime.registry import open_driver

    options: dict[str, Any] = {}
    if getattr(args, "state_dir", None):
        options["state_dir"] = args.state_dir
    return open_driver(args.runtime, **options)


def print_spec_warnings(warnings: tuple[SpecError, ...]) -> None:
    """Located warnings (a bind mount of /etc ...): shown, changing nothing."""
    for warning in sorted(warnings, key=lambda e: (e.file, e.line or 0, e.key_path)):
        print(warning.format(), file=sys.stderr)


def print_spec_errors(errors: list[SpecError]) -> None:
    for error in sorted(errors, key=lambda e: (e.file, e.line or 0, e.key_path)):
        print(error.format(), file=sys.stderr)
    if errors:
        files = len({e.file for e in errors})
        print(f"{len(errors)} problem{'' if len(errors) == 1 else 's'} in {files} "
              f"file{'' if files == 1 else 's'}: resources of invalid files are frozen (left as "
              "they run) and nothing is pruned", file=sys.stderr)


def add_journal_options(parser: argparse.ArgumentParser) -> None:
    """``--no-journal``, ``--journal-days``, ``--journal-max-mb`` (apply and watch)."""
    group = parser.add_argument_group("journal (<state folder>/journal.db)")
    group.add_argument("--no-journal", dest="journal", action="store_false",
                       help="do not record passes in the journal")
    group.add_argument("--journal-days", type=float, default=90.0, metavar="DAYS",
                       help="keep journal entries this many days (default 90)")
    group.add_argument("--journal-max-mb", type=float, default=200.0, metavar="MB",
                       help="keep the journal under this many megabytes (default 200)")


def journal_file(args: argparse.Namespace) -> Path:
    """The journal of the state folder: ``--state-dir``, else the default one."""
    from controller.execution.journal.values import journal_path

    return journal_path(getattr(args, "state_dir", None))


def journal_limits(args: argparse.Namespace) -> tuple[float, int]:
    """(max age in seconds, max bytes) from the journal options, checked."""
    from controller.errors import ControllerError

    if args.journal_days <= 0 or args.journal_max_mb <= 0:
        raise ControllerError("--journal-days and --journal-max-mb must be greater than 0",
                              hint="use --no-journal to record nothing")
    return args.journal_days * 86400.0, int(args.journal_max_mb * 1024 * 1024)


def positive_int(text: str) -> int:
    """argparse type: an integer of 1 or more."""
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is too small: give 1 or more")
    return value
