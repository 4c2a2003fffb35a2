"""Git revision of a spec directory, for labels, status and logs.

Role: ``git rev-parse HEAD`` plus a dirty flag (``git status --porcelain``
limited to the spec directory) when the directory is inside a git work tree;
``None`` otherwise. :func:`commit_info` (author, date, subject of a commit) and
:func:`last_change` (the commit that last changed one spec file) serve the
journal and ``why``. Neighbours: ``controller.execution.reconcile`` passes the
revision to ``controller.desired.state`` (LABEL_REVISION) and to the pass result;
``controller.execution.journal.writer`` and ``controller.execution.explain``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

_FORMAT = "--format=%H%x1f%an <%ae>%x1f%aI%x1f%s"


@dataclass(frozen=True)
class CommitInfo:
    """One commit: its id, author (``Name <mail>``), ISO date and subject line."""

    commit: str
    author: str
    date: str
    subject: str


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


def _info(text: str | None) -> CommitInfo | None:
    parts = (text or "").split("\x1f")
    if len(parts) != 4 or not parts[0]:
        return None
    return CommitInfo(*parts)


def commit_info(root: Path, commit: str) -> CommitInfo | None:
    """Author, date and subject of ``commit`` (a ``-dirty`` suffix is ignored); None
    outside git or for an unknown commit."""
    if not _maybe_in_git(root) or shutil.which("git") is None:
        return None
    return _info(_git(root, "log", "-1", _FORMAT, commit.removesuffix("-dirty"), "--"))


def last_change(root: Path, file: str) -> CommitInfo | None:
    """The last commit that changed ``file`` (relative to ``root``); None outside git or
    when the file was never committed."""
    if not _maybe_in_git(root) or shutil.which("git") is None:
        return None
    return _info(_git(root, "log", "-1", _FORMAT, "--", file))


def uncommitted(root: Path, file: str) -> bool:
    """``file`` differs from the last commit (or is not committed at all)."""
    if not _maybe_in_git(root) or shutil.which("git") is None:
        return False
    return bool(_git(root, "status", "--porcelain", "--", file))
