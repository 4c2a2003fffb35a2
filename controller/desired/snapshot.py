"""Snapshots of recipes: a run whose spec files did not change loads no spec model at all.

Role: the fast path of ``controller.execution.reconcile.prepare`` for one-shot commands
(``diff``, ``apply``, ``status``). After a full load of a valid spec
directory, :func:`store` keeps its :class:`~controller.desired.recipe.Recipe` (pure
data, no secret: env is kept as steps) keyed by the bytes of every spec file,
the directory, ``--project``, the runtime and a fingerprint of the code that made it.
:func:`lookup` serves it again only when the same facts hold that a full load
would depend on: the variables interpolation used (environment and ``.env``),
the paths the models resolved, and the answer to every existence check the
cross-file validation made (``SpecSet.checked``: a file that is missing now must
be reported by the loader, not skipped).
Anything else, and any doubt, is a miss. Entries go through ``specs.cache``
(atomic pickles in a 0700 folder, never loaded when another user wrote them)
in ``<cache>/desired``; ``DOCKWRIGHT_NO_CACHE=1`` disables them with the rest.
A hit costs reading and hashing the spec files; it skips pydantic, TOML and
validation. Neighbours: ``specs.files``, ``specs.cache``, ``controller.desired.recipe``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from controller.desired.recipe import Recipe
from specs import cache
from specs.files import present, spec_files, variables
from specs.result import FileResult, SpecSet

_CODE = {  # the modules whose behaviour decides what a recipe holds
    "controller": ("recipe.py", "normalise.py", "hostrecipe.py", "naming.py", "snapshot.py"),
    "runtime": ("types.py",),
}
_fingerprint: str | None = None

Summary = tuple[tuple[str, str, frozenset[tuple[str, str]]], ...]  # (rel, sha256, declared)


def _code_fingerprint() -> str:
    global _fingerprint
    if _fingerprint is None:
        top = Path(__file__).resolve().parent.parent
        _fingerprint = cache.code_digest(
            [*cache.spec_sources(),
             *(top / package / name for package, names in _CODE.items() for name in names)])
    return _fingerprint


def _folder() -> Path | None:
    specs_folder = cache.cache_dir()
    return None if specs_folder is None else specs_folder.parent / "desired"


def _key(root: Path, project: str | None, files: list[tuple[str, str]],
         checkout: Path | None = None, runtime: str | None = None) -> str:
    digest = hashlib.sha256(_code_fingerprint().encode())
    digest.update(f"\0{os.path.abspath(root)}\0{root.resolve()}\0{project or ''}\0".encode())
    if runtime is not None:  # the runtime decides which keys are errors (specs.runtimes)
        digest.update(f"runtime\0{runtime}\0".encode())
    if checkout is not None:  # git mode confines the specs otherwise
        digest.update(f"git\0{checkout.resolve()}\0".encode())
    for rel, sha in files:
        digest.update(f"{rel}\0{sha}\0".encode())
    return digest.hexdigest()


def lookup(root: Path, project: str | None, checkout: Path | None = None,
           runtime: str | None = None) -> tuple[Recipe, SpecSet] | None:
    """The recipe of an unchanged, valid spec directory and a summary of its files; None
    on any change (or when caching is off): the caller then loads the directory."""
    folder = _folder()
    if folder is None or not root.is_dir():
        return None
    files: list[tuple[str, str]] = []
    try:
        for path in spec_files(root):
            files.append((path.relative_to(root).as_posix(),
                          hashlib.sha256(path.read_bytes()).hexdigest()))
    except OSError:
        return None
    values, dotenv_errors = variables(root)
    if not files or dotenv_errors:
        return None
    entry = cache.lookup(folder, _key(root, project, files, checkout, runtime), values,
                         keep=True)  # a Recipe is frozen: a watch gets the same one back
    if entry is None or not isinstance(entry.outcome, tuple) or len(entry.outcome) != 3:
        return None
    recipe, summary, checked = entry.outcome
    if not isinstance(recipe, Recipe):
        return None
    if any(present(kind, path) != found for kind, path, found in checked):
        return None  # a referenced file came or went: the checks must run again
    results = tuple(FileResult(rel, (), declared, (), sha) for rel, sha, declared in summary)
    return recipe, SpecSet(root, results, None, (), summary=True, warnings=recipe.warnings)


def store(root: Path, project: str | None, recipe: Recipe, specs: SpecSet,
          checkout: Path | None = None, runtime: str | None = None) -> None:
    """Keep the recipe of a fully loaded, valid directory for the next run."""
    folder = _folder()
    if folder is None or specs.summary or not specs.ok or not specs.files:
        return
    used: dict[str, str | None] = {}
    resolved: list[tuple[str, str, str]] = []
    for f in specs.files:
        used.update(f.variables)
        resolved.extend(f.resolved)
    summary: Summary = tuple((f.path, f.digest, f.declared) for f in specs.files)
    files = [(f.path, f.digest) for f in specs.files]
    cache.store(folder, _key(root, project, files, checkout, runtime), used, resolved,
                (recipe, summary, specs.checked))
