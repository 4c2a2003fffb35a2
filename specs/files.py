"""Which files make up a spec directory, and the variables its specs may use.

Role: the parts of loading that need no models (so no pydantic): the list of
spec files below a root and the ``.env`` file that, with the environment,
feeds ``${VAR}`` interpolation. ``specs.loader`` builds on them; the
controller's snapshot (``controller.desired.snapshot``) uses them to decide, without
loading anything, whether a directory is still what an earlier run loaded.
:func:`present` is the one test of whether a file the specs refer to exists: the
cross-file checks record each answer (``SpecSet.checked``) and the snapshot asks
the same questions again. Neighbours: ``specs.loader``, ``specs.validate``,
``specs.result`` (errors), ``specs.cache``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from specs.confine import Bounds
from specs.result import SpecError

_DOTENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


def spec_files(root: Path) -> list[Path]:
    """Every ``*.toml`` below ``root``, sorted, skipping hidden folders and files."""
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        out.extend(Path(dirpath) / f for f in filenames
                   if f.endswith(".toml") and not f.startswith("."))
    return sorted(out)


def declared_runtime(root: Path) -> str | None:
    """``[project] runtime`` of a spec directory, read without validating the rest (the CLI
    picks the runtime before it loads the specs for it); None when not declared."""
    for path in spec_files(root) if Path(root).is_dir() else ():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if re.search(r"^[ \t]*\[[ \t]*project[ \t]*\]", text, re.MULTILINE) is None:
            continue
        import tomllib

        try:
            project = tomllib.loads(text).get("project")
        except tomllib.TOMLDecodeError:
            continue  # the load reports it
        value = project.get("runtime") if isinstance(project, dict) else None
        if value in ("docker", "native", "swarm"):
            return str(value)
    return None


def read_dotenv(path: Path) -> tuple[dict[str, str], list[SpecError]]:
    """``KEY=value`` lines (``#`` comments, optional quotes and ``export``) of a .env file."""
    values: dict[str, str] = {}
    errors: list[SpecError] = []
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return values, errors
    except (OSError, UnicodeDecodeError) as exc:
        return values, [SpecError(".env", None, "", f"cannot read .env: {exc}")]
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _DOTENV_LINE.match(line)
        if not match:
            errors.append(SpecError(".env", number, "", f"cannot parse line {line.strip()!r}",
                                    "write NAME=value, one per line"))
            continue
        name, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[name] = value
    return values, errors


def variables(root: Path, environ: Mapping[str, str] | None = None
              ) -> tuple[dict[str, str], list[SpecError]]:
    """What ``${VAR}`` sees: ``<root>/.env`` overridden by the environment; .env's errors."""
    dotenv, errors = read_dotenv(root / ".env")
    return {**dotenv, **(os.environ if environ is None else environ)}, errors


def present(kind: str, path: str) -> bool:
    """Whether a path the specs refer to is there: a folder for ``"dir"``, a file for
    ``"file"``; for a ``specs.confine.Bounds`` kind, whether it lies within them."""
    bounds = Bounds.from_kind(kind)
    if bounds is not None:
        return bounds.inside(path)
    return os.path.isdir(path) if kind == "dir" else os.path.isfile(path)
