"""Load results: what the loader and the validator hand to the controller.

Role: plain frozen values describing a spec directory *per file*: each file's
valid resources, the resource names it declared (even when invalid), and its
located errors. The controller freezes the resources of a file with errors
(principle 5) and converges the rest. Neighbours: produced by
``specs.loader.load_dir`` (per-file parsing) and ``specs.validate``
(cross-file checks, whose errors are attached to the files involved);
consumed by ``controller.desired.state`` and the CLI's ``validate`` command.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pydantic loads only where models are built: a snapshot hit never does
    from specs.models import Container, Network, Project, Volume

    Spec = Container | Volume | Network


@dataclass(frozen=True)
class SpecError:
    """One problem, located: ``FILE:LINE: KEY.PATH: message (hint)``."""

    file: str  # path as given to the user: relative to the spec directory
    line: int | None
    key_path: str  # e.g. "container.web.ports[1]"; "" for file-level problems
    message: str
    hint: str | None = None
    warning: bool = False  # a warning freezes nothing and fails no command

    def format(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.key_path}: " if self.key_path else f"{where}: "
        text += f"warning: {self.message}" if self.warning else self.message
        return f"{text} — {self.hint}" if self.hint else text

    def as_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "key": self.key_path,
                "message": self.message, "hint": self.hint,
                "severity": "warning" if self.warning else "error"}


@dataclass(frozen=True)
class Resource:
    """A validated resource and where it was declared."""

    kind: str  # "container" | "volume" | "network"
    name: str
    spec: Spec
    file: str  # relative to the spec directory
    line: int | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.name)


@dataclass(frozen=True)
class FileResult:
    """One spec file: its valid resources, every name it declared, its errors."""

    path: str  # relative to the spec directory, POSIX separators
    resources: tuple[Resource, ...] = ()
    declared: frozenset[tuple[str, str]] = frozenset()  # (kind, name), valid or not
    errors: tuple[SpecError, ...] = ()
    digest: str = ""  # sha256 of the file's bytes
    project: Project | None = None  # the [project] table, if this file has it
    # what the outcome depended on outside the file (``specs.cache``): the value of every
    # variable interpolation looked up, and every path resolved (base_dir, value, result)
    variables: tuple[tuple[str, str | None], ...] = ()
    resolved: tuple[tuple[str, str, str], ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class SpecSet:
    """A whole spec directory after loading (and, when validated, cross-checked)."""

    root: Path
    files: tuple[FileResult, ...] = ()
    project: Project | None = None  # the [project] table; the loader always sets it
    errors: tuple[SpecError, ...] = ()  # directory-level problems (e.g. two [project] tables)
    # files without their resources (a snapshot hit, controller.desired.snapshot)
    summary: bool = False
    # (kind, path, present) of every file the cross-file checks looked for (specs.files)
    checked: tuple[tuple[str, str, bool], ...] = ()
    # located warnings (a bind mount of /etc ...): shown, never freezing anything
    warnings: tuple[SpecError, ...] = ()
    bounds: str = ""  # where the specs may read the host (a ``specs.confine.Bounds`` kind)

    @property
    def ok(self) -> bool:
        return not self.errors and all(f.ok for f in self.files)

    def all_errors(self) -> list[SpecError]:
        out = list(self.errors)
        for f in self.files:
            out.extend(f.errors)
        return out

    def resources(self, kind: str | None = None) -> list[Resource]:
        """Resources of files without errors (the ones safe to converge)."""
        if self.summary:  # an empty list here would read as "prune everything"
            raise ValueError("a summary SpecSet has no resources: load the directory")
        return [r for f in self.files if f.ok for r in f.resources if kind in (None, r.kind)]

    def frozen(self) -> frozenset[tuple[str, str]]:
        """(kind, name) declared by files with errors: keep them exactly as they run."""
        out: set[tuple[str, str]] = set()
        for f in self.files:
            if not f.ok:
                out |= f.declared
        return frozenset(out)

    def invalid_files(self) -> list[str]:
        return [f.path for f in self.files if not f.ok]
