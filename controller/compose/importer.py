"""``dockwright import``: compose files in, a validated spec folder out.

Role: the whole import as one function, :func:`run`: find and read the compose
files (``controller.compose.source``), merge them and resolve ``extends``
(``controller.compose.merge``), pick the project name as docker-compose 1.x
does (``-p``, ``COMPOSE_PROJECT_NAME``, the top-level ``name``, the folder:
lowercase ``[a-z0-9_-]``), keep the services of the active profiles, convert
(``controller.compose.convert``, ``storage``), write the TOML
(``controller.compose.emit``) into a scratch folder beside ``--out`` and load
it with the real loader; only when it is valid (and no file would be
overwritten without ``--force``) are the files moved into place. Nothing is
written when anything fails. Neighbours: ``controller.commands.compose_import``
(the CLI face); ``specs.loader`` (validation).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controller.compose import convert, emit, storage
from controller.compose.interpolate import environment
from controller.compose.merge import merge_files, resolve_extends
from controller.compose.source import ComposeError, Origins, discover, read
from controller.compose.tables import Problem, Table, supported


@dataclass(frozen=True)
class Options:
    """What the command line asked for."""

    files: tuple[Path, ...] = ()
    out: Path | None = None
    project: str | None = None
    profiles: tuple[str, ...] = ()
    partial: bool = False
    force: bool = False
    short_names: bool = False
    cwd: Path = field(default_factory=Path.cwd)


@dataclass(frozen=True)
class Imported:
    """What was written (or, on failure, what stopped it)."""

    project: str
    out: Path
    written: tuple[Path, ...] = ()
    left: tuple[Problem, ...] = ()  # keys left as comments (--partial)
    services: tuple[str, ...] = ()


class ImportFailed(Exception):
    """The compose files cannot be imported; ``problems`` says where and what to do."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(p.format() for p in problems))


def compose_project_name(name: str) -> str:
    """docker-compose 1.x's ``normalize_name``: lowercase, only ``[-_a-z0-9]`` kept."""
    return re.sub(r"[^-_a-z0-9]", "", name.lower())


def _schema_line(out: Path) -> str:
    import specs

    shipped = Path(specs.__file__).resolve().parent.parent / "schema" / "dockwright.schema.json"
    target = os.path.relpath(shipped, out.resolve()) if shipped.is_file() else \
        "dockwright.schema.json"
    return f"#:schema {target}"


def _load(opts: Options, environ: Mapping[str, str]
          ) -> tuple[dict[str, Any], Origins, Path, dict[str, str]]:
    paths = [p if p.is_absolute() else opts.cwd / p for p in opts.files] or \
        [discover(opts.cwd)]
    project_dir = paths[0].resolve().parent
    variables = environment(project_dir, environ)
    files = [read(p, variables, shown=os.path.relpath(p, opts.cwd)) for p in paths]
    merged, origins = merge_files(files, project_dir)
    resolve_extends(merged, origins, variables, files[0].shown)
    return merged, origins, project_dir, variables


def _active(body: dict[str, Any], profiles: set[str]) -> bool:
    wanted = body.get("profiles")
    return not wanted or bool(set(map(str, wanted)) & profiles)


def _secret_tables(svc: convert.Service, merged: dict[str, Any], kind: str) -> None:
    """Service ``secrets:`` / ``configs:`` with file sources -> the spec's tables."""
    tops: dict[str, Any] = merged.get(kind) or {}
    out: dict[str, Any] = {}
    for i, item in enumerate(svc.body.get(kind) or []):
        ref = {"source": item} if isinstance(item, str) else dict(item)
        name = str(ref.get("source"))
        top = tops.get(name) or {}
        if "file" not in top:
            svc.report(f"{kind}[{i}]", f"{kind[:-1]} {name!r} is not file-based",
                       f"give it file: ./path under the top-level {kind}:")
            continue
        path = top["file"]
        path = path if os.path.isabs(path) else os.path.normpath(
            Path(merged["_dir"]) / path)
        entry: dict[str, Any] = {"file": storage.host_path(path, svc.out_dir)}
        default = f"/run/secrets/{name}" if kind == "secrets" else f"/{name}"
        target = str(ref.get("target") or default)
        if kind == "secrets" and not target.startswith("/"):
            target = f"/run/secrets/{target}"
        for key in ("uid", "gid"):
            if ref.get(key) is not None:
                entry[key] = int(ref[key])
        if ref.get("mode") is not None:  # YAML 1.1 reads 0440 as octal: written so again
            mode = ref["mode"]
            entry["mode"] = f"0{mode:o}" if isinstance(mode, int) else str(mode)
        if kind == "secrets":
            if target != default:
                entry["target"] = target
            out[name] = entry
        else:
            out[target] = entry
    if out:
        svc.put(kind, out, kind)


def _convert(opts: Options, environ: Mapping[str, str], out: Path
             ) -> tuple[str, list[Table], dict[str, Table], list[Problem], list[str]]:
    merged, origins, project_dir, variables = _load(opts, environ)
    merged["_dir"] = str(project_dir)
    raw = opts.project or variables.get("COMPOSE_PROJECT_NAME") or merged.get("name") or \
        project_dir.name
    project = compose_project_name(str(raw))
    problems: list[Problem] = []
    if not re.match(r"^[a-z0-9][a-z0-9_-]*$", project):
        raise ImportFailed([Problem(origins.where(("name",)), "project",
                                    f"project name {raw!r} gives {project!r}, which is not a "
                                    "valid project name", "pass --project NAME")])

    def report(key: str, message: str, fix: str, _name: str = "") -> None:
        problems.append(Problem(origins.where(tuple(key.split("."))), key, message, fix))

    names = storage.Names(project)
    storage_tables = storage.volume_tables(project, merged.get("volumes") or {}, names, report)
    storage_tables += storage.network_tables(project, merged.get("networks") or {}, names,
                                             report)
    profiles = set(opts.profiles) or {p for p in variables.get("COMPOSE_PROFILES", "").split(",")
                                      if p}
    services: dict[str, Table] = {}
    skipped = []
    for name, body in merged["services"].items():
        if not _active(body, profiles):
            skipped.append(name)
            continue
        svc = convert.Service(name, body, origins, names, str(out), problems)
        convert.service(svc, project, opts.short_names)
        for kind in ("secrets", "configs"):
            if body.get(kind):
                if supported(kind):
                    _secret_tables(svc, merged, kind)
                else:
                    svc.report(kind, "not supported by this dockwright's spec language",
                               "leave it out, or upgrade dockwright")
        services[name] = svc.table
    for key in merged:
        if key not in ("services", "volumes", "networks", "secrets", "configs", "version",
                       "name", "_dir") and not key.startswith("x-"):
            report(key, f"top-level key {key!r} is not known", "leave it out")
    return project, storage_tables, services, problems, skipped


def _write(folder: Path, project: str, storage_tables: list[Table],
           services: dict[str, Table], schema: str, header: str) -> list[Path]:
    project_table = Table("project", "")
    project_table.set("name", project, "the compose project name (containers keep its names)")
    outside = _outside(folder, services)
    if outside:
        project_table.set("allow_host_paths", outside,
                          "files the specs read outside this folder (env files, build "
                          "contexts, secrets)")
    written = []
    path = folder / "project.toml"
    path.write_text(emit.document([project_table, *storage_tables], [header])
                    .replace(emit.SCHEMA, schema, 1))
    written.append(path)
    for name, table in services.items():
        path = folder / file_name(name)
        path.write_text(emit.document([table], [f"service {name!r}, {header}"])
                        .replace(emit.SCHEMA, schema, 1))
        written.append(path)
    return written


def file_name(service: str) -> str:
    """``<service>.toml``; a service named ``project`` gets ``service-project.toml``."""
    return "service-project.toml" if service == "project" else f"{service}.toml"


def _outside(folder: Path, services: dict[str, Table]) -> list[str]:
    """Files and folders the specs read (env files, build contexts, secrets) that lie
    outside the spec folder, as ``allow_host_paths`` entries."""
    found: list[str] = []
    for table in services.values():
        paths = [*table.values.get("env_file", [])]
        image = table.values.get("image")
        if isinstance(image, dict) and image.get("build"):
            paths.append(image["build"])
        for kind in ("secrets", "configs"):
            paths += [e["file"] for e in (table.values.get(kind) or {}).values()]
        for p in map(str, paths):
            full = os.path.normpath(folder / p)
            if full == str(folder) or full.startswith(f"{folder}/"):
                continue
            if p.startswith(".."):  # the first folder above the spec folder that holds it
                top = os.path.normpath(p)
                while os.path.basename(top) not in ("..", ""):
                    top = os.path.dirname(top)
                p = top
            if p not in found:
                found.append(p)
    return found


def _validate(scratch: Path, environ: Mapping[str, str]) -> list[str]:
    """The loader's errors for the scratch folder. Its per-file cache is off: entries are
    keyed by path, a scratch folder is never loaded again (and each would cost a write
    and an fsync)."""
    from specs.loader import load_dir

    old = os.environ.get("DOCKWRIGHT_NO_CACHE")
    os.environ["DOCKWRIGHT_NO_CACHE"] = "1"
    try:
        specs = load_dir(scratch, environ)
    finally:
        if old is None:
            os.environ.pop("DOCKWRIGHT_NO_CACHE", None)
        else:
            os.environ["DOCKWRIGHT_NO_CACHE"] = old
    return [e.format() for e in specs.all_errors()]


def run(opts: Options, environ: Mapping[str, str] | None = None) -> Imported:
    """Import; raises :class:`ImportFailed` (or ``ComposeError``) with nothing written."""
    environ = dict(os.environ if environ is None else environ)
    out = (opts.out if opts.out is not None else Path("dockwright"))
    out = out if out.is_absolute() else opts.cwd / out
    out = Path(os.path.normpath(out))
    project, storage_tables, services, problems, _ = _convert(opts, environ, out)
    if problems and not opts.partial:
        raise ImportFailed(problems)
    targets = [out / "project.toml", *(out / file_name(n) for n in services)]
    existing = [t for t in targets if t.exists()]
    if existing and not opts.force:
        raise ImportFailed([Problem(str(t), "", "exists already",
                                    "pass --force to overwrite, or --out another folder")
                            for t in existing])
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}-import-", dir=out.parent))
    try:
        header = f"imported from compose project {project!r} by `dockwright import`"
        _write(scratch, project, storage_tables, services, _schema_line(out), header)
        errors = _validate(scratch, environ)
        if errors:
            raise ImportFailed([Problem(f"{out.name}/{e.replace(scratch.name, out.name)}", "",
                                        "(the imported specs do not validate)",
                                        "change the compose file accordingly")
                                for e in errors])
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for t in targets:
            os.replace(scratch / t.name, t)
            written.append(t)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return Imported(project, out, tuple(written), tuple(problems), tuple(services))


__all__ = ["ComposeError", "ImportFailed", "Imported", "Options", "run"]
