"""The layers of DESIGN.md, enforced by parsing every import with ``ast``.

``controller`` may import ``specs`` and ``runtime``; ``specs`` and ``runtime``
import neither each other nor ``controller``; ``dwutil`` (stdlib-only helpers)
may be imported by all three and imports none of them; a driver package under
``runtime/<driver>/`` does not import another driver. Inside ``controller/``
the rooms depend downward only (commands -> service -> execution -> planning ->
desired; ``errors`` and ``logging`` serve every room and import none), and no
module of the three packages imports itself back through others. Imports
inside functions and under ``TYPE_CHECKING`` count too (a lazy import is still
a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("controller", "specs", "runtime", "dwutil")
# The Docker transport (HTTP over the socket or the SDK's TCP/TLS session, and the mapping
# of its errors) is shared by the drivers that speak the Engine API: Swarm reaches a
# manager exactly as the Docker runtime reaches its daemon.
SHARED = {"swarm": frozenset({"runtime.docker.transport", "runtime.docker.http",
                              "runtime.docker.sdk", "runtime.docker.errors"})}
FORBIDDEN = {"specs": {"runtime", "controller"}, "runtime": {"specs", "controller"},
             "dwutil": {"controller", "specs", "runtime"}}
# controller rooms, lowest first; a room may import only rooms at or below its own level
ROOMS = ("desired", "compose", "planning", "execution", "service", "commands")
BASE = frozenset({"errors", "logging"})  # controller modules every room may use


def _imports(root: Path, path: Path, every_name: bool = False) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in one file; ``every_name``: each
    name of a ``from`` import as a possible module too."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            out.append((node.lineno, module))
            out.extend((node.lineno, f"{module}.{alias.name}") for alias in node.names
                       if every_name or module in PACKAGES or module.startswith("runtime."))
    return out


def _files(root: Path, package: str) -> list[Path]:
    return sorted((root / package).rglob("*.py"))


def violations(root: Path = ROOT) -> list[str]:
    found = []
    drivers = {p.name for p in (root / "runtime").iterdir()
               if p.is_dir() and (p / "__init__.py").exists()}
    for package in PACKAGES:
        for path in _files(root, package):
            rel = path.relative_to(root)
            own_driver = rel.parts[1] if package == "runtime" and len(rel.parts) > 2 else None
            for line, module in _imports(root, path):
                top = module.split(".")[0]
                if top in FORBIDDEN.get(package, set()):
                    found.append(f"{rel}:{line}: {package} must not import {module}")
                parts = module.split(".")
                if (top == "runtime" and len(parts) > 1 and parts[1] in drivers
                        and own_driver in drivers and parts[1] != own_driver
                        and ".".join(parts[:3]) not in SHARED.get(own_driver or "", ())):
                    found.append(f"{rel}:{line}: driver {own_driver} must not import {module}")
    return found


def _module(root: Path, path: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _level(module: str) -> int | None:
    """A controller module's room level (0 = base, len(ROOMS)+1 = top: cli)."""
    parts = module.split(".")
    if parts[0] != "controller" or len(parts) < 2:
        return None
    if parts[1] in ROOMS:
        return ROOMS.index(parts[1]) + 1
    return 0 if parts[1] in BASE else len(ROOMS) + 1


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    """module -> the project modules it imports (a ``from pkg import mod`` counts as mod)."""
    paths = {_module(root, p): p for package in PACKAGES for p in _files(root, package)}
    out: dict[str, set[str]] = {}
    for name, path in paths.items():
        deps = {m for _, m in _imports(root, path, every_name=True) if m in paths and m != name}
        # a package's __init__ is not an edge: its modules are, when named
        out[name] = {d for d in deps if paths[d].name != "__init__.py"}
    return out


def room_violations(root: Path = ROOT) -> list[str]:
    found = []
    for name, deps in sorted(graph(root).items()):
        mine = _level(name)
        for dep in sorted(deps):
            theirs = _level(dep)
            if mine is not None and theirs is not None and theirs > mine:
                found.append(f"{name} must not import {dep} (a room above its own)")
    return found


def cycles(root: Path = ROOT) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    g = graph(root)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(g.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return found


def test_layers_are_respected() -> None:
    assert violations() == []


def test_controller_rooms_depend_downward_only() -> None:
    assert room_violations() == []


def test_no_import_circles() -> None:
    assert cycles() == []


def test_room_and_circle_checks_catch_violations(tmp_path: Path) -> None:
    files = {
        "controller/__init__.py": "",
        "controller/errors.py": "",
        "controller/planning/__init__.py": "",
        "controller/planning/plan.py": "from controller.execution import apply\n",
        "controller/execution/__init__.py": "",
        "controller/execution/apply.py": ("from controller.execution.replace import x\n"
                                          "from controller import errors\n"),
        "controller/execution/replace.py": ("from typing import TYPE_CHECKING\n"
                                            "if TYPE_CHECKING:\n"
                                            "    from controller.execution.apply import E\n"),
        "specs/__init__.py": "",
        "runtime/__init__.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert room_violations(tmp_path) == [
        "controller.planning.plan must not import controller.execution.apply "
        "(a room above its own)"]
    assert cycles(tmp_path) == [["controller.execution.apply", "controller.execution.replace"]]


def test_the_check_sees_every_package() -> None:
    for package in PACKAGES:
        assert _files(ROOT, package), f"no Python files found under {package}/"


def test_the_check_catches_violations(tmp_path: Path) -> None:
    """Plain, from-, relative and function-level imports, and driver-to-driver imports."""
    files = {
        "controller/__init__.py": "import specs\nimport runtime.docker\n",
        "specs/__init__.py": "",
        "specs/probe.py": ("import runtime.types\nfrom controller import cli\n"
                           "def f() -> None:\n    from ..runtime import driver\n"),
        "runtime/__init__.py": "from . import types\n",
        "runtime/types.py": "",
        "runtime/docker/__init__.py": "",
        "runtime/docker/driver.py": ("from runtime.native import driver\n"
                                     "from runtime import types\n"),
        "runtime/native/__init__.py": "",
        "runtime/native/driver.py": "from ..docker.driver import x\nfrom specs.models import y\n",
        "dwutil/__init__.py": "",
        "dwutil/probe.py": "from runtime import types\nimport os\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert sorted(violations(tmp_path)) == sorted([
        "specs/probe.py:1: specs must not import runtime.types",
        "specs/probe.py:2: specs must not import controller",
        "specs/probe.py:2: specs must not import controller.cli",
        "specs/probe.py:4: specs must not import runtime",
        "specs/probe.py:4: specs must not import runtime.driver",
        "runtime/docker/driver.py:1: driver docker must not import runtime.native",
        "runtime/docker/driver.py:1: driver docker must not import runtime.native.driver",
        "runtime/native/driver.py:1: driver native must not import runtime.docker.driver",
        "runtime/native/driver.py:1: driver native must not import runtime.docker.driver.x",
        "runtime/native/driver.py:2: runtime must not import specs.models",
        "dwutil/probe.py:1: dwutil must not import runtime",
        "dwutil/probe.py:1: dwutil must not import runtime.types",
    ])
