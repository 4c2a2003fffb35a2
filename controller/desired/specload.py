"""Loading a spec directory for a pass: from the snapshot of an earlier run, or fully.

Role: :func:`recipe_of` gives the (SpecSet, Recipe) a pass needs. When no spec
file and nothing a load depends on changed since an earlier run, the recipe
comes from ``controller.desired.snapshot`` and the SpecSet is a summary of the files
(errors and declared names, no models): pydantic is not even imported. Else
the directory is loaded and validated (``specs.loader``), normalised
(``controller.desired.normalise``) and snapshotted for the next run. Neighbours:
``controller.execution.reconcile`` (``prepare`` takes the result), the commands of
``controller.commands.converge`` and ``controller.execution.status``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from controller.desired.recipe import Recipe
    from specs.result import SpecSet


def load(root: Path, checkout: Path | None = None, runtime: str | None = None) -> SpecSet:
    """Load and validate the whole directory (every problem in the result); ``checkout``:
    the git work tree of ``watch --git``, which confines what the specs may read;
    ``runtime``: the runtime the specs are for (its unsupported keys are errors)."""
    from specs.loader import load_dir

    return load_dir(root, checkout=checkout, runtime=runtime)


def recipe_of(root: Path, project: str | None = None, specs: SpecSet | None = None,
              checkout: Path | None = None, runtime: str | None = None
              ) -> tuple[SpecSet, Recipe]:
    """The spec directory's recipe: from ``specs`` when given, else from the snapshot of an
    earlier run when nothing it depends on changed, else by loading (and snapshotting).
    ``runtime``: the runtime the pass is for; a key it does not support is a spec error
    (``specs.runtimes``), and the snapshot is kept per runtime."""
    from controller.desired import naming, snapshot

    if specs is None:
        hit = snapshot.lookup(root, project, checkout, runtime)
        if hit is not None:
            recipe, summary = hit
            return summary, recipe
    from controller.desired.normalise import normalise  # spec models: pydantic loads here

    loaded = specs if specs is not None else load(root, checkout, runtime)
    recipe = normalise(loaded, naming.project_name(root, loaded, project))
    if specs is None:
        snapshot.store(root, project, recipe, loaded, checkout, runtime)
    return loaded, recipe
