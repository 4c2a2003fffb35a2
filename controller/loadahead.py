"""Load the spec directory in a forked child while the parent prepares the rest.

Role: a changed spec file must be parsed and validated with the pydantic
models, and importing pydantic and building the model schemas costs a
one-shot command more than a tenth of a second. :class:`LoadAhead` forks a
child at the start of ``diff``/``apply``/``status`` that loads and normalises
the directory (``controller.reconcile.recipe_of``) and hands back only plain
values: the :class:`~controller.recipe.Recipe` and a summary of the files
(their errors and declared names, no models). The parent imports the runtime
driver, opens it and lists the runtime meanwhile, on another core, and never
imports pydantic itself. An unchanged directory is served by the snapshot
without a child. No fork when it cannot help or is unsafe (one CPU, another
thread already running, no ``os.fork``); any failure of the child (a crash, a
bad answer, no answer within :data:`TIMEOUT` seconds) falls back to loading in
the parent, which then reports whatever went wrong. Neighbours:
``controller.snapshot`` (unchanged directories), ``controller.normalise``
(models -> recipe), ``controller.reconcile`` (``prepare`` takes the result),
``controller.commands.converge`` and ``controller.status`` (the callers).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from specs.result import FileResult, SpecSet

if TYPE_CHECKING:
    from controller.recipe import Recipe

TIMEOUT = 60.0  # a load of thousands of containers takes a second; a hung child is dropped


def load(root: Path) -> SpecSet:
    from specs.loader import load_dir

    return load_dir(root)


def recipe_of(root: Path, project: str | None = None,
              specs: SpecSet | None = None) -> tuple[SpecSet, Recipe]:
    """The spec directory's recipe: from ``specs`` when given, else from the snapshot of an
    earlier run when nothing it depends on changed, else by loading (and snapshotting)."""
    from controller import naming, snapshot

    if specs is None:
        hit = snapshot.lookup(root, project)
        if hit is not None:
            recipe, summary = hit
            return summary, recipe
    from controller.normalise import normalise  # spec models: pydantic loads here

    loaded = specs if specs is not None else load(root)
    recipe = normalise(loaded, naming.project_name(root, loaded, project))
    if specs is None:
        snapshot.store(root, project, recipe, loaded)
    return loaded, recipe


def summary_of(specs: SpecSet) -> SpecSet:
    """The spec directory without its models: errors, declared names and digests per file
    (what a pass needs besides the recipe; plain values, cheap to pickle)."""
    if specs.summary:
        return specs
    files = tuple(FileResult(f.path, (), f.declared, f.errors, f.digest, None, f.variables,
                             f.resolved) for f in specs.files)
    return SpecSet(specs.root, files, None, specs.errors, summary=True)


class LoadAhead:
    """The recipe of ``root`` for ``project``, computed while the caller goes on."""

    def __init__(self, root: Path, project: str | None) -> None:
        from controller import snapshot

        self.root, self.project = root, project
        self._result: tuple[SpecSet, Recipe] | None = None
        self._pid: int | None = None
        self._fd: int | None = None
        hit = snapshot.lookup(root, project)
        if hit is not None:
            recipe, summary = hit
            self._result = (summary, recipe)
        elif _can_fork():
            self._fork()

    def _fork(self) -> None:
        read_fd, write_fd = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(read_fd)
            os.close(write_fd)
            return
        if pid == 0:  # the child: load, answer, exit without running the parent's handlers
            os.close(read_fd)
            _child(self.root, self.project, write_fd)
        os.close(write_fd)
        self._pid, self._fd = pid, read_fd

    def result(self) -> tuple[SpecSet, Recipe]:
        """(summary SpecSet, recipe); loads in this process when the child did not answer."""
        if self._result is None and self._fd is not None:
            self._result = self._collect()
        if self._result is None:
            self._result = recipe_of(self.root, self.project)
        return self._result

    def _collect(self) -> tuple[SpecSet, Recipe] | None:
        assert self._fd is not None
        chunks: list[bytes] = []
        deadline = time.monotonic() + TIMEOUT
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self._fd], [], [], left)[0]:
                    return None
                chunk = os.read(self._fd, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
            answer = pickle.loads(b"".join(chunks))
        except Exception:  # a crashed child or a torn answer: load here instead
            return None
        finally:
            self.close()
        if not (isinstance(answer, tuple) and len(answer) == 2):
            return None
        summary, recipe = answer
        return summary, recipe

    def close(self) -> None:
        """Drop the child (if any) and reap it."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._pid is not None:
            with contextlib.suppress(OSError):
                os.kill(self._pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.waitpid(self._pid, 0)
            self._pid = None


def _can_fork() -> bool:
    return (hasattr(os, "fork") and (os.cpu_count() or 1) > 1
            and threading.active_count() == 1
            and os.environ.get("DOCKWRIGHT_NO_FORK", "") in ("", "0"))


def _child(root: Path, project: str | None, fd: int) -> None:
    code = 1
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)  # the parent reports problems when it loads again
        specs, recipe = recipe_of(root, project)
        data = pickle.dumps((summary_of(specs), recipe), protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        code = 0
    finally:
        os._exit(code)
