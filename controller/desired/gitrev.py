"""Git revision of a spec directory, for labels, status and logs.

Role: ``git rev-parse HEAD`` plus a dirty flag (``git status --porcelain``
limited to the spec directory) when the directory is inside a git work tree;
``None`` otherwise. Neighbours: ``controller.execution.reconcile`` passes the revision
to ``controller.desired.state`` (LABEL_REVISION) and to the pass result.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def revision(root: Path) -> str | None:
    """``"<sha>"`` or ``"<sha>-dirty"``; ``None`` outside a git work tree or without git."""
    if not _maybe_in_git(root) or shutil.which("git") is None:
        return None
    head = _git(root, "rev-parse", "HEAD")
    if not head:
        return None
    status = _git(root, "status", "--porcelain", "--", ".")
    return f"{head}-dirty" if status else head


def _maybe_in_git(root: Path) -> bool:
    """False only when git surely finds no work tree: no ``.git`` in ``root`` or above and
    no ``GIT_DIR`` (spares spawning git for spec folders outside any repository)."""
    if os.environ.get("GIT_DIR") or os.environ.get("GIT_WORK_TREE"):
        return True
    for start in {os.path.abspath(root), os.path.realpath(root)}:  # git follows symlinks
        folder = Path(start)
        if any(os.path.lexists(d / ".git") for d in (folder, *folder.parents)):
            return True
    return False
