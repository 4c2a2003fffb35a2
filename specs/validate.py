"""Cross-file checks of a spec directory.

Role: the checks that need more than one table: a name declared twice (both
places named), references to undeclared containers, volumes and networks,
dependency cycles (printed ``a -> b -> a``), two containers publishing the same
host ip/port/protocol, references to a container declared absent,
``replicas > 1`` with a fixed host port, a replica name
(``web-2``) that is also declared, files named by ``env_file``,
``{ file = ... }``, ``secrets``, ``configs``, ``build`` and ``archive`` that are
missing, and a secret or config placed where another one or a volume is.
Each problem is reported once (one line), at its first place (the first
declaration of a name, the first of two clashing ports, the first edge of a
cycle); the message names the other places. The controller freezes the
resources of the files with errors only. Neighbours: called by
``specs.loader.load_dir`` with the per-file results and a ``line_of(file, key_path)``
locator; reads the models of ``specs.models``; runs ``specs.depchecks`` (cycles,
dependencies on absent containers) and ``specs.hostchecks`` (host-level keys); pure
except for checking that files exist.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from specs import depchecks, hostchecks
from specs.confine import Bounds, PathRef, check_binds, check_reads
from specs.errors_format import close_match
from specs.filerefs import placed_files, target_clashes
from specs.files import present
from specs.locate import KeyPath, format_path, where
from specs.models import Container, EnvFromFile
from specs.result import FileResult, Resource, SpecError

LineOf = Callable[[str, KeyPath], "int | None"]
IMPLICIT_NETWORKS = frozenset({"default"})


class _Out:
    """Collects located errors and warnings."""

    def __init__(self, root: Path, line_of: LineOf, bounds: Bounds) -> None:
        self.root = root
        self.line_of = line_of
        self.bounds = bounds
        self.errors: list[SpecError] = []
        self.warnings: list[SpecError] = []
        self.checked: list[tuple[str, str, bool]] = []  # (kind, path, present)
        self.written: dict[str, str] = {}  # resolved path -> as written in the spec

    def present(self, kind: str, path: str) -> bool:
        """``specs.files.present``, remembered: the outcome depends on the file system."""
        found = present(kind, path)
        self.checked.append((kind, path, found))
        return found

    def add(self, file: str, path: KeyPath, message: str, hint: str | None = None,
            warning: bool = False) -> None:
        (self.warnings if warning else self.errors).append(SpecError(
            file, self.line_of(file, path), format_path(path), message, hint, warning))


def check(root: Path, files: Sequence[FileResult], line_of: LineOf,
          salvaged: Sequence[Resource] = (), bounds: Bounds | None = None,
          runtime: str | None = None
          ) -> tuple[list[SpecError], list[tuple[str, str, bool]], list[SpecError]]:
    """All cross-file errors of a spec directory, each with its file, line and key path,
    every (kind, path, present) the checks asked of the file system, and the warnings.

    ``salvaged`` are tables that failed validation, minus their invalid keys: their
    references, files, cycles and ports are checked too, so one run reports them all.
    ``bounds``: where the specs may read the host (``specs.confine``; default: ``root``).
    ``runtime``: on ``swarm`` a published port is the service's (the routing mesh, or one
    per node in host mode, which Swarm's scheduler keeps apart), so replicas and
    start-first may share it.
    """
    out = _Out(root, line_of, bounds or Bounds.of(str(root)))
    for f in files:  # a resolved path as written, where only one spelling leads to it
        for _, value, result in f.resolved:
            out.written[result] = value if out.written.get(result, value) == value else ""
    _duplicates(files, out)
    containers = [r for f in files for r in f.resources if isinstance(r.spec, Container)]
    containers += [r for r in salvaged if isinstance(r.spec, Container)]
    declared: dict[str, set[str]] = {"container": set(), "volume": set(), "network": set()}
    for f in files:
        for kind, name in f.declared:
            declared.setdefault(kind, set()).add(name)
    for res in containers:
        _references(res, declared, out)
        _files_exist(res, out)
        _confined(res, out)
        _targets(res, out)
        _start_first(res, out, ports=runtime != "swarm")
    hostchecks.check(containers, declared["container"],
                     lambda file, path, message, hint: out.add(file, path, message, hint))
    depchecks.check(containers, out.add)
    _ports(containers, out, replicas=runtime != "swarm")
    _replica_names(containers, {n: f.path for f in files for k, n in f.declared
                                if k == "container"}, out)
    return out.errors, out.checked, out.warnings


def _duplicates(files: Sequence[FileResult], out: _Out) -> None:
    places: dict[tuple[str, str], list[str]] = {}
    for f in files:
        for key in sorted(f.declared):
            places.setdefault(key, []).append(f.path)
    for (kind, name), in_files in places.items():
        if len(in_files) < 2:
            continue
        located = [(f, out.line_of(f, (kind, name))) for f in in_files]
        for file, _ in located[:1]:  # one line, at the first declaration, naming the others
            others = ", ".join(where(f, line) for f, line in located if f != file)
            out.add(file, (kind, name), f"{kind} {name!r} is declared more than once: also in "
                    f"{others}", "rename one of them or remove the duplicate")


def _missing(kind: str, name: str, declared: set[str], res: Resource, path: KeyPath,
             out: _Out) -> None:
    if name in declared:
        return
    best = close_match(name, sorted(declared))
    hint = f"did you mean {best!r}?" if best else f"declare it with [{kind}.{name}]"
    out.add(res.file, path, f"{kind} {name!r} is not declared in this spec directory", hint)


def _references(res: Resource, declared: dict[str, set[str]], out: _Out) -> None:
    spec = res.spec
    assert isinstance(spec, Container)
    base: KeyPath = ("container", res.name)
    for i, link in enumerate(spec.links):
        _missing("container", link.target, declared["container"], res, (*base, "links", i), out)
    for i, source in enumerate(spec.volumes_from):
        _missing("container", source.container, declared["container"], res,
                 (*base, "volumes_from", i), out)
    for name in spec.depends_on:
        _missing("container", name, declared["container"], res, (*base, "depends_on", name), out)
    for i, mount in enumerate(spec.volumes):
        if mount.type == "volume" and mount.source:
            _missing("volume", mount.source, declared["volume"], res, (*base, "volumes", i), out)
    for name in spec.networks:
        _missing("network", name, declared["network"] | IMPLICIT_NETWORKS, res,
                 (*base, "networks", name), out)


def _shown(path: str, folder: Path) -> str:
    """A resolved path as the user wrote it: relative to the declaring file's folder."""
    rel = os.path.relpath(path, folder)
    return path if rel.startswith("../..") else rel


def _not_a_file(out: _Out, path: str) -> str:
    """Why a path that should be a file is not: a folder is not "missing"."""
    return "is a directory, not a file" if out.present("dir", path) else "does not exist"


def _files_exist(res: Resource, out: _Out) -> None:
    spec = res.spec
    assert isinstance(spec, Container)
    base: KeyPath = ("container", res.name)
    folder = (out.root / res.file).parent
    for i, env_file in enumerate(spec.env_file):
        if not out.present("file", env_file):
            out.add(res.file, (*base, "env_file", i),
                    f"env file {_shown(env_file, folder)!r} {_not_a_file(out, env_file)}",
                    "create it or fix the path (relative paths start at this file's folder)")
    for name, value in spec.env.items():
        if isinstance(value, EnvFromFile) and not out.present("file", value.file):
            out.add(res.file, (*base, "env", name, "file"),
                    f"secret file {_shown(value.file, folder)!r} {_not_a_file(out, value.file)}",
                    "create it (keep it out of git) or fix the path")
    for path, what, file in placed_files(spec.secrets, spec.configs):
        if not out.present("file", file):
            out.add(res.file, (*base, *path, "file"),
                    f"{what} file {_shown(file, folder)!r} {_not_a_file(out, file)}",
                    "create it or fix the path (relative paths start at this file's folder)")
    image = spec.image
    if image.build is not None:
        dockerfile = os.path.join(image.build, image.dockerfile or "Dockerfile")
        if not out.present("dir", image.build):
            out.add(res.file, (*base, "image", "build"),
                    f"build context {_shown(image.build, folder)!r} is not a directory",
                    "point build at the folder that holds the Dockerfile")
        elif not out.present("file", dockerfile):
            out.add(res.file, (*base, "image", "build"),
                    f"no {image.dockerfile or 'Dockerfile'} in the build context "
                    f"{_shown(image.build, folder)!r}",
                    "add it, or name it with dockerfile = \"...\"")
    if image.archive is not None and not out.present("file", image.archive):
        out.add(res.file, (*base, "image", "archive"),
                f"image archive {_shown(image.archive, folder)!r} does not exist",
                "create it with `docker save -o FILE IMAGE` or fix the path")


def _confined(res: Resource, out: _Out) -> None:
    """Files read for the container stay within the bounds; sensitive bind mounts."""
    spec = res.spec
    assert isinstance(spec, Container)
    refs = [PathRef(("env_file", i), "env file", p) for i, p in enumerate(spec.env_file)]
    refs += [PathRef(("env", name, "file"), "secret file", value.file)
             for name, value in spec.env.items() if isinstance(value, EnvFromFile)]
    refs += [PathRef((*path, "file"), f"{what} file", file)
             for path, what, file in placed_files(spec.secrets, spec.configs)]
    image = spec.image
    if image.build is not None:
        refs.append(PathRef(("image", "build"), "build context", image.build))
        if image.dockerfile is not None:
            refs.append(PathRef(("image", "dockerfile"), "Dockerfile",
                                os.path.join(image.build, image.dockerfile)))
    if image.archive is not None:
        refs.append(PathRef(("image", "archive"), "image archive", image.archive))
    base: KeyPath = ("container", res.name)
    folder = (out.root / res.file).parent

    def error(path: KeyPath, message: str, hint: str) -> None:
        out.add(res.file, (*base, *path), message, hint)

    def warning(path: KeyPath, message: str, hint: str) -> None:
        out.add(res.file, (*base, *path), message, hint, warning=True)

    def confined(kind: str, path: str) -> bool:
        written = out.written.get(path, "/")
        if written.startswith(("/", "~")):
            return out.present(kind, path)
        found = out.bounds.inside_real(path)  # resolved by the model already (Path.resolve)
        out.checked.append((kind, path, found))
        return found

    check_reads(refs, out.bounds, confined,
                lambda p: out.written.get(p) or _shown(p, folder), error)
    binds = [(("volumes", i), m.source) for i, m in enumerate(spec.volumes)
             if m.type == "bind" and m.source]
    check_binds(binds, out.bounds, error, warning)


def _targets(res: Resource, out: _Out) -> None:
    """A secret or config lands where nothing else of the container is mounted."""
    spec = res.spec
    assert isinstance(spec, Container)
    volumes = [m.target for m in spec.volumes]
    for path, message, hint in target_clashes(spec.secrets, spec.configs, volumes):
        out.add(res.file, ("container", res.name, *path), message, hint)


def _start_first(res: Resource, out: _Out, ports: bool = True) -> None:
    """``update_order = "start-first"`` runs the old and the new container side by side for
    a moment: not with a fixed host port (the new one cannot bind it) and not with data
    both would write (a database's files would be corrupted)."""
    spec = res.spec
    assert isinstance(spec, Container)
    if spec.update_order != "start-first":
        return
    base: KeyPath = ("container", res.name)
    for i, port in enumerate(spec.ports if ports else ()):
        if port.host is not None:
            out.add(res.file, (*base, "ports", i),
                    f"update_order = \"start-first\" with the fixed host port {port.host}: the "
                    "new container cannot publish it while the old one runs",
                    "leave out the host port, or use update_order = \"stop-first\"")
    writable = [(("volumes", i), f"volume {m.target!r}") for i, m in enumerate(spec.volumes)
                if m.type != "tmpfs" and not m.read_only]
    writable += [(("volumes_from", i), f"volumes_from {v.container!r}")
                 for i, v in enumerate(spec.volumes_from) if not v.read_only]
    for path, what in writable:
        out.add(res.file, (*base, *path),
                f"update_order = \"start-first\" with the writable {what}: the old and the new "
                "container would write the same data at once",
                "mount it read-only (\":ro\"), or use update_order = \"stop-first\" (the "
                "default) for containers that keep data")


def _runtime_names(name: str, spec: Container) -> list[str]:
    if spec.container_name:
        return [spec.container_name.replace("{n}", str(i)) for i in range(1, spec.replicas + 1)]
    return [name] if spec.replicas == 1 else [f"{name}-{i}" for i in range(1, spec.replicas + 1)]


def _replica_names(containers: list[Resource], files: dict[str, str], out: _Out) -> None:
    """``web`` with replicas = 3 runs as web-1..web-3: no container may be declared so; no
    two containers may run under one name (``container_name``)."""
    runs: dict[str, Resource] = {}
    for res in containers:
        spec = res.spec
        assert isinstance(spec, Container)
        for runtime in _runtime_names(res.name, spec):
            other = runs.setdefault(runtime, res)
            named = spec.container_name or getattr(other.spec, "container_name", None)
            if other is not res and named:  # plain names: the duplicate and replica checks
                out.add(res.file, ("container", res.name, "container_name"),
                        f"runs as {runtime}, the name of container {other.name} "
                        f"({where(other.file, other.line)})",
                        "give one of them another container_name")
        if spec.replicas < 2 or spec.container_name:
            continue
        for i in range(1, spec.replicas + 1):
            other_name = f"{res.name}-{i}"
            if other_name in files:
                there = where(files[other_name], out.line_of(files[other_name],
                                                              ("container", other_name)))
                out.add(res.file, ("container", res.name, "replicas"),
                        f"replica {other_name} has the name of another declared container "
                        f"({there})", f"rename container {other_name} or {res.name}")


def _ports(containers: list[Resource], out: _Out, replicas: bool = True) -> None:
    bound: list[tuple[Resource, int, str, int, str]] = []  # res, index, ip, host, protocol
    for res in containers:
        spec = res.spec
        assert isinstance(spec, Container)
        if spec.state == "absent":
            continue
        for i, port in enumerate(spec.ports):
            if port.host is None:
                continue
            path: KeyPath = ("container", res.name, "ports", i)
            if spec.replicas > 1 and replicas:
                out.add(res.file, path, f"replicas = {spec.replicas} with the fixed host port "
                        f"{port.host}: only one replica can publish it",
                        "leave out the host port so that the runtime picks one per replica, "
                        "or set replicas = 1")
            bound.append((res, i, port.ip or "0.0.0.0", port.host, port.protocol))
    wildcard = {"0.0.0.0", "::", ""}
    by_port: dict[tuple[int, str], list[tuple[Resource, int, str]]] = {}
    for res, i, ip, host, proto in bound:
        by_port.setdefault((host, proto), []).append((res, i, ip))
    for (host_a, proto_a), users in by_port.items():
        for a, (res_a, i_a, ip_a) in enumerate(users):
            for res_b, i_b, ip_b in users[a + 1:]:
                if ip_a != ip_b and ip_a not in wildcard and ip_b not in wildcard:
                    continue
                # one line per clash, at the first of the two, naming the other one
                line = out.line_of(res_b.file, ("container", res_b.name, "ports", i_b))
                out.add(res_a.file, ("container", res_a.name, "ports", i_a),
                        f"host port {host_a}/{proto_a} is also published by container "
                        f"{res_b.name!r} ({where(res_b.file, line)})",
                        "use another host port, or bind each to a different ip")
