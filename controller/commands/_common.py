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


def print_spec_errors(errors: list[SpecError]) -> None:
    for error in sorted(errors, key=lambda e: (e.file, e.line or 0, e.key_path)):
        print(error.format(), file=sys.stderr)
    if errors:
        files = len({e.file for e in errors})
        print(f"{len(errors)} problem{'' if len(errors) == 1 else 's'} in {files} "
              f"file{'' if files == 1 else 's'}: resources of invalid files are frozen (left as "
              "they run) and nothing is pruned", file=sys.stderr)
