"""Load a spec directory: TOML files -> per-file validated resources and errors.

Role: the only place that parses spec TOML. :func:`load_dir` finds every
``*.toml`` below the root (hidden folders and files skipped), interpolates
``${VAR}`` / ``${VAR:-default}`` from the environment and ``<root>/.env``,
validates each table with the models (relative paths resolve against the
file's folder), then runs the cross-file checks and attaches their errors to
the files involved. It never raises on bad input: every problem becomes a
located :class:`~specs.result.SpecError`. Neighbours: ``specs.models`` (the
schema), ``specs.errors_format`` (friendly messages), ``specs.locate`` (lines),
``specs.validate`` (cross-file checks), ``specs.result`` (what it returns),
``specs.cache`` (per-file results of earlier runs), ``specs.runtimes`` (keys the
chosen runtime does not support);
called by the controller and the ``validate`` command.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from specs import cache, runtimes, validate
from specs.cache import RESOLVED
from specs.confine import Bounds
from specs.errors_format import Problem, hinted, problems, unknown_table
from specs.files import spec_files
from specs.files import variables as spec_variables
from specs.locate import MAX_DEPTH, KeyPath, Locator, format_path, syntax_error_line
from specs.models import KINDS, Project, default_project
from specs.names import check_name
from specs.result import FileResult, Resource, SpecError, SpecSet

TOP_LEVEL = ("container", "volume", "network", "project")
_VAR = re.compile(r"\$(\$|\{([^}]*)\}?)")
_VAR_BODY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])(.*))?$", re.DOTALL)
_HEADER = re.compile(r"^[ \t]*\[\[?([^\]\n]+)\]", re.MULTILINE)
_HEADER_KEY = re.compile(r"""[ \t]*("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)[ \t]*(\.|$)""")


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    """Compose's rules: ``${V}``, ``${V:-default}``, ``${V-default}``, ``${V:?message}``, ``$$``.

    Raises ``ValueError`` with the fix when a variable is unset or the syntax is wrong.
    """

    def replace(match: re.Match[str]) -> str:
        if match.group(1) == "$":
            return "$"
        whole, body = match.group(0), match.group(2)
        parsed = _VAR_BODY.match(body)
        if not whole.endswith("}") or parsed is None:
            raise ValueError(f"invalid interpolation {whole!r}: write ${{NAME}}, "
                             "${NAME:-default}, or $$ for a literal $")
        name, op, arg = parsed.groups()
        value = variables.get(name)
        empty = value is None or (value == "" and op is not None and op.startswith(":"))
        if op in (":-", "-"):
            return arg if empty else str(value)
        if op in (":?", "?") and empty:
            raise ValueError(f"variable {name} is required: {arg or 'it is not set'}")
        if value is None:
            raise ValueError(f"variable {name} is not set: set it in the environment or in "
                             f".env, or give a default: ${{{name}:-default}}")
        return value

    return _VAR.sub(replace, text) if "$" in text else text


@dataclass
class _File:
    """Work in progress for one file; becomes a FileResult."""

    root: Path
    path: Path
    rel: str
    text: str = ""
    digest: str = ""
    resources: list[Resource] = field(default_factory=list)
    salvaged: list[Resource] = field(default_factory=list)  # invalid tables, cross-checks only
    declared: set[tuple[str, str]] = field(default_factory=set)
    errors: list[SpecError] = field(default_factory=list)
    project: Project | None = None
    variables: tuple[tuple[str, str | None], ...] = ()  # what the outcome depended on
    resolved: tuple[tuple[str, str, str], ...] = ()
    _locator: Locator | None = None
    _headers: dict[KeyPath, int] | None = None

    @property
    def headers(self) -> dict[KeyPath, int]:
        if self._headers is None:
            self._headers = header_lines(self.text)
        return self._headers

    def line_of(self, path: KeyPath) -> int | None:
        """The line of a key path: headers first (cheap), then a full scan."""
        headers = self.headers
        if path in headers:
            return headers[path]
        if self._locator is None:
            self._locator = Locator(self.text)
        line = self._locator.line_of(path)
        while line is None and path:  # a broken file: the nearest table header
            line, path = headers.get(path), path[:-1]
        return line

    def error(self, problem: Problem) -> None:
        self.errors.append(SpecError(self.rel, self.line_of(problem.path),
                                     format_path(problem.path), problem.message, problem.hint))

    def result(self) -> FileResult:
        errors = sorted(set(self.errors), key=lambda e: (e.line or 0, e.key_path, e.message))
        return FileResult(self.rel, tuple(self.resources), frozenset(self.declared),
                          tuple(errors), self.digest, self.project, self.variables,
                          self.resolved)


def header_lines(text: str) -> dict[KeyPath, int]:
    """Table headers and their prefixes -> line, by a regex (works on broken files too)."""
    found: dict[KeyPath, int] = {}
    for match in _HEADER.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        key: KeyPath = ()
        for part in _HEADER_KEY.finditer(match.group(1)):
            key = (*key, part.group(1).strip("\"'"))
            found.setdefault(key, line)
    return found


def _prepare(value: Any, path: KeyPath, variables: Mapping[str, str],
             out: list[Problem]) -> Any:
    """Interpolate every string and turn lists into tuples (for strict validation); raise
    ``_TooDeep`` for tables and arrays nested more than ``MAX_DEPTH`` levels in a value."""
    if isinstance(value, dict | list) and len(path) > MAX_DEPTH + 2:  # [kind.name] key = [[
        raise _TooDeep(path)
    if isinstance(value, str):
        try:
            return interpolate(value, variables)
        except ValueError as exc:
            out.append(Problem(path, str(exc)))
            return value
    if isinstance(value, dict):
        return {k: _prepare(v, (*path, k), variables, out) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(_prepare(v, (*path, i), variables, out) for i, v in enumerate(value))
    return value


def _validate(file: _File, model: type[BaseModel], data: Any, prefix: KeyPath,
              reported: Sequence[KeyPath] = ()) -> Any:
    """The validated model, or None with every problem recorded (except those below a path
    in ``reported``: a value whose interpolation failed is reported once, not twice)."""
    try:
        return model.model_validate(data, strict=True, context={"base_dir": file.path.parent})
    except ValidationError as exc:
        for problem in problems(exc, data, prefix, model):
            if not any(problem.path[:len(p)] == p for p in reported):
                file.error(problem)
    except Exception as exc:  # a validator bug must not hide the other files' results
        file.error(Problem(prefix, f"internal error while validating: {type(exc).__name__}: "
                                   f"{exc}", "please report this with the spec file"))
    return None


def _salvage(file: _File, model: type[BaseModel], data: dict[str, Any],
             bad_keys: set[str]) -> Any:
    """The table without its invalid keys, validated for the cross-file checks only.

    So that an invalid container's references, files, ports and cycles are still
    reported in the same run ("every mistake at once"). A bad entry of a table-valued
    key (``depends_on.x``, ``env.X``) drops that entry only. None when that fails too.
    """
    context = {"base_dir": file.path.parent}
    bad_entries: dict[str, set[str]] = {}
    try:
        model.model_validate(data, strict=True, context=context)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            loc = err["loc"]
            if not loc:
                return None
            key = str(loc[0])
            value = data.get(key)
            if len(loc) > 1 and isinstance(value, dict) and loc[1] in value:
                bad_entries.setdefault(key, set()).add(str(loc[1]))
            else:
                bad_keys.add(key)
    except Exception:  # a validator bug: the table's own errors are reported already
        return None
    kept = {k: ({n: v for n, v in value.items() if n not in bad_entries[k]}
                if k in bad_entries else value)
            for k, value in data.items() if k not in bad_keys}
    if "image" in bad_keys or "image" in bad_entries or "image" not in kept:
        kept["image"] = "salvaged"
    try:
        return model.model_validate(kept, strict=True, context=context)
    except Exception:  # still invalid (e.g. a model-level rule): no cross-file checks
        return None


def _load_file(root: Path, path: Path, variables: Mapping[str, str]) -> _File:
    file = _File(root, path, path.relative_to(root).as_posix())
    try:
        raw = path.read_bytes()
    except OSError as exc:
        file.errors.append(SpecError(file.rel, None, "", f"cannot read the file: {exc.strerror}"))
        return file
    file.digest = hashlib.sha256(raw).hexdigest()
    try:
        file.text = raw.decode("utf-8-sig")  # tolerate a byte-order mark
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        file.errors.append(SpecError(file.rel, line, "", "the file is not valid UTF-8",
                                     "save it as UTF-8"))
        return file
    folder = cache.cache_dir()
    entry = cache.key(raw, path, file.rel) if folder is not None else ""
    cached = cache.lookup(folder, entry, variables)
    if cached is not None:  # same bytes, variables and resolved paths: same outcome
        resources, salvaged, declared, errors, file.project = cached.outcome
        file.variables, file.resolved = cached.variables, cached.resolved
        file.resources, file.salvaged = list(resources), list(salvaged)
        file.declared, file.errors = set(declared), list(errors)
        return file
    recorder = cache.Recorder(variables)
    resolved: list[tuple[str, str, str]] = []
    token = RESOLVED.set(resolved)
    try:
        _parse(file, recorder)
    finally:
        RESOLVED.reset(token)
    file.variables, file.resolved = tuple(sorted(recorder.used.items())), tuple(resolved)
    cache.store(folder, entry, recorder.used, resolved,
                (file.resources, file.salvaged, file.declared, file.errors, file.project))
    return file


def _parse(file: _File, variables: Mapping[str, str]) -> None:
    """Parse and validate one decoded file (what the cache saves), filling ``file``."""
    file.declared = {(str(p[0]), str(p[1])) for p in file.headers
                     if len(p) == 2 and p[0] in KINDS}
    try:
        data = tomllib.loads(file.text)
    except tomllib.TOMLDecodeError as exc:
        message = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(exc))
        file.errors.append(SpecError(file.rel, syntax_error_line(str(exc), file.text), "",
                                     f"TOML syntax error: {message}",
                                     "see https://toml.io for the syntax"))
        return
    except RecursionError:  # tomllib recurses once per level of nesting
        _too_deep(file, None)
        return
    file.declared = {(k, n) for k, v in data.items() if k in KINDS and isinstance(v, dict)
                     for n in v}
    try:
        for kind, tables in data.items():
            _load_kind(file, kind, tables, variables)
    except _TooDeep as exc:  # before validation and the checks, which recurse too
        file.resources, file.salvaged = [], []
        _too_deep(file, exc.path)


class _TooDeep(Exception):
    """A value nested deeper than any spec needs, at ``path`` (raised by ``_prepare``)."""

    def __init__(self, path: KeyPath) -> None:
        super().__init__(format_path(path))
        self.path = path


def _too_deep(file: _File, path: KeyPath | None) -> None:
    """A value nested beyond any spec's need: the whole file is refused (its resources
    frozen), located at the key where the nesting starts; the other files still load."""
    locator = Locator(file.text)
    if path is None:  # tomllib gave up: the scan that stopped at the same depth says where
        key, line = locator.too_deep or ((), None)
    else:
        key = path[:3] if path[0] in KINDS else path[:1]
        line = locator.line_of(key)
    file.errors.append(SpecError(
        file.rel, line, format_path(key),
        f"the value is nested more than {MAX_DEPTH} levels deep",
        "no spec needs this: write the value flat (a file generated by a broken tool?)"))


def _load_kind(file: _File, kind: str, tables: Any, variables: Mapping[str, str]) -> None:
    if kind == "project":
        prepared: list[Problem] = []
        data = _prepare(tables, ("project",), variables, prepared)
        for problem in prepared:
            file.error(problem)
        if not isinstance(data, dict):
            file.error(Problem(("project",), "[project] must be a table", 'e.g. name = "shop"'))
        else:
            project = _validate(file, Project, data, ("project",))
            file.project = None if prepared else project
        return
    if kind not in KINDS:
        names: list[str | None] = [n for n, v in tables.items() if isinstance(v, dict)] if (
            isinstance(tables, dict)) else []
        for name in names or [None]:
            file.error(unknown_table(kind, name, TOP_LEVEL))
        return
    if not isinstance(tables, dict):
        file.error(Problem((kind,), f"{kind} must be a table of [{kind}.NAME] tables",
                           f"e.g. [{kind}.web]"))
        return
    for name, table in tables.items():
        prefix: KeyPath = (kind, name)
        try:
            check_name(name, f"{kind} name", 2 if kind in ("container", "volume") else 1)
        except ValueError as exc:
            file.error(hinted(prefix, str(exc)))
            continue
        if not isinstance(table, dict):
            file.error(Problem(prefix, f"{kind} {name!r} must be a table, not a value",
                               f"write [{kind}.{name}] and its keys below it"))
            continue
        prepared = []
        data = _prepare(table, prefix, variables, prepared)
        for problem in prepared:
            file.error(problem)
        reported = [p.path for p in prepared]
        spec = _validate(file, KINDS[kind], data, prefix, reported)
        if spec is not None and not prepared:
            file.resources.append(Resource(kind, name, spec, file.rel, file.line_of(prefix)))
            continue
        bad_keys = {str(p[2]) for p in reported if len(p) > 2}
        salvaged = _salvage(file, KINDS[kind], data, bad_keys)
        if salvaged is not None:
            file.salvaged.append(Resource(kind, name, salvaged, file.rel, file.line_of(prefix)))


def _iter_project_errors(files: list[_File]) -> Iterator[tuple[_File, SpecError]]:
    declaring = [f for f in files if f.project is not None or _declares_project(f)]
    if len(declaring) < 2:
        return
    for file in declaring[:1]:  # one line, at the first [project] table, naming the others
        others = ", ".join(f"{o.rel}:{o.line_of(('project',))}" for o in declaring if o is not file)
        yield file, SpecError(file.rel, file.line_of(("project",)), "project",
                              f"[project] is declared more than once: also in {others}",
                              "keep one [project] table per spec directory")


def _declares_project(file: _File) -> bool:
    return re.search(r"^[ \t]*\[[ \t]*project[ \t]*\]", file.text, re.MULTILINE) is not None


def load_dir(root: Path, environ: Mapping[str, str] | None = None, *,
             checkout: Path | None = None, runtime: str | None = None) -> SpecSet:
    """Load and validate a spec directory; every problem is in the result, never raised.

    ``checkout``: the git work tree holding ``root`` in ``watch --git``; files the
    specs read must then lie inside it, and bind mounts of sensitive host places need
    ``[project] allow_host_paths`` (``specs.confine``). ``runtime``: the runtime the
    specs are for (default: their ``[project] runtime``); a key it does not support is a
    located error (``specs.runtimes``)."""
    root = Path(root)
    if root.is_file():
        return SpecSet(root, errors=(SpecError(str(root), None, "",
                                               "this is a file, not a spec directory",
                                               "pass the folder that holds the *.toml files: "
                                               f"{root.parent}"),))
    if not root.is_dir():
        return SpecSet(root, errors=(SpecError(str(root), None, "",
                                               "the spec directory does not exist",
                                               "pass the folder that holds the *.toml files"),))
    variables, env_errors = spec_variables(root, environ)
    files = [_load_file(root, path, variables) for path in spec_files(root)]
    for file, error in _iter_project_errors(files):
        file.errors.append(error)
    by_rel = {f.rel: f for f in files}
    results = [f.result() for f in files]
    salvaged = [r for f in files for r in f.salvaged]
    project = next((f.project for f in files if f.project is not None), None) or default_project()
    bounds = Bounds.of(str(checkout or root), project.allow_host_paths, checkout is not None)
    runtime = runtime or project.runtime  # the specs' own [project] runtime when none is given

    def line_of(rel: str, path: KeyPath) -> int | None:
        return by_rel[rel].line_of(path)

    errors, checked, warnings = validate.check(root, results, line_of, salvaged, bounds,
                                               runtime)
    declared = [r for f in results for r in f.resources]
    errors += runtimes.check([*declared, *salvaged], runtime, line_of,
                             registry=project.registry)
    for error in errors:
        by_rel[error.file].errors.append(error)
    return SpecSet(root, tuple(f.result() for f in files), project, tuple(env_errors),
                   checked=tuple(checked), warnings=tuple(warnings), bounds=bounds.kind())

