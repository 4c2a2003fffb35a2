"""The layers of DESIGN.md, enforced by parsing every import with ``ast``.

``controller`` may import ``specs`` and ``runtime``; ``specs`` and ``runtime``
import neither each other nor ``controller``; a driver package under
``runtime/<driver>/`` does not import another driver. Imports inside functions
count too (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("controller", "specs", "runtime")
FORBIDDEN = {"specs": {"runtime", "controller"}, "runtime": {"specs", "controller"}}


def _imports(root: Path, path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in one file."""
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
                       if module in PACKAGES or module.startswith("runtime."))
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
                        and own_driver in drivers and parts[1] != own_driver):
                    found.append(f"{rel}:{line}: driver {own_driver} must not import {module}")
    return found


def test_layers_are_respected() -> None:
    assert violations() == []


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
    ])
