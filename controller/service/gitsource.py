"""A git repository as the spec source of the watch service.

Role: ``watch --git URL [--branch B] [--path P] [--interval 60s]`` keeps a
work tree of the repository in a cache folder and moves it to the newest
commit of the branch with the git CLI (``git fetch --prune origin B`` then
``git checkout --force`` of the fetched commit and ``git clean``), so that the
reconciled files are exactly a committed revision. Each new revision enqueues
a pass; the revision is handed to ``controller.execution.reconcile.reconcile`` (labels),
shown in ``/status`` and logged. A failed fetch is logged and retried with
exponential backoff while the last good revision stays checked out;
``POST /hooks/git`` (``controller.service.httpd``) calls :meth:`GitSource.trigger` to
fetch at once; the pass after such a fetch has the trigger ``webhook`` (instead of
``git``), and is enqueued even when the branch did not move. Neighbours:
``controller.service.loop`` (reads :attr:`GitSource.revision` and
:attr:`GitSource.spec_root`), ``controller.service.queue`` (the enqueue target).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

from controller.errors import ControllerError

log = structlog.get_logger("dockwright.watch")
GIT_TIMEOUT = 120.0


class GitError(ControllerError):
    """A git command failed."""


def default_cache_dir() -> Path:
    """``/var/cache/dockwright`` as root, else ``$XDG_CACHE_HOME/dockwright``."""
    if os.geteuid() == 0:
        return Path("/var/cache/dockwright")
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dockwright"


def repo_name(url: str) -> str:
    """``https://host/org/app.git`` -> ``app`` (a default project name)."""
    tail = url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return re.sub(r"\.git$", "", tail) or "repo"


class GitSource:
    """A cached work tree following one branch of one repository."""

    def __init__(self, url: str, *, branch: str = "main", path: str = "", interval: float = 60.0,
                 cache_dir: Path | None = None, enqueue: Callable[[str], None] | None = None,
                 backoff_cap: float = 300.0) -> None:
        self.url, self.branch, self.path, self.interval = url, branch, path.strip("/"), interval
        key = hashlib.sha256(f"{url}\0{branch}\0{self.path}".encode()).hexdigest()[:12]
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", repo_name(url))
        self.worktree = (cache_dir or default_cache_dir()) / "git" / f"{safe}-{key}"
        self.enqueue = enqueue
        self.backoff_cap = backoff_cap
        self.revision: str | None = None  # last good, checked-out revision
        self.last_error: str | None = None
        self.last_fetch: float | None = None  # unix time of the last successful fetch
        self.failures = 0
        self._wake = threading.Event()
        self._hooked = False  # a webhook asked for the next fetch
        self.hooks = 0  # webhook calls taken (POST /hooks/git)
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # one fetch at a time
        self._thread = threading.Thread(target=self._run, name="dw-git", daemon=True)

    @property
    def spec_root(self) -> Path:
        return self.worktree / self.path if self.path else self.worktree

    # git plumbing ---------------------------------------------------------------
    def _git(self, *args: str) -> str:
        env = dict(os.environ, GIT_TERMINAL_PROMPT="0", LC_ALL="C")
        cmd = ["git", "-C", str(self.worktree), *args]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=GIT_TIMEOUT,
                                  env=env, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise GitError(f"`{' '.join(cmd[3:])}` failed: {exc}",
                           hint="is git installed and the repository reachable?") from exc
        if proc.returncode != 0:
            raise GitError(f"`git {' '.join(args)}` failed: {proc.stderr.strip()}",
                           hint=f"check the URL {self.url!r}, the branch {self.branch!r} and "
                                "the credentials")
        return proc.stdout.strip()

    def _ensure_repo(self) -> None:
        if not (self.worktree / ".git").is_dir():
            self.worktree.mkdir(parents=True, exist_ok=True)
            self._git("init", "--quiet")
            self._git("remote", "add", "origin", self.url)
        elif self._git("remote", "get-url", "origin") != self.url:
            self._git("remote", "set-url", "origin", self.url)

    def sync(self, trigger: str = "git") -> str:
        """Fetch the branch and check out its newest commit; return that revision. A new
        revision enqueues a pass with ``trigger``.

        Raises :class:`GitError`; the previous work tree and revision then stay.
        """
        with self._lock:
            self._ensure_repo()
            self._git("fetch", "--quiet", "--prune", "--no-tags", "origin", self.branch)
            fetched = self._git("rev-parse", "--verify", "FETCH_HEAD^{commit}")
            self.last_fetch = time.time()
            if fetched != self.revision or self._git("rev-parse", "HEAD") != fetched:
                self._git("checkout", "--quiet", "--force", "--detach", fetched)
                self._git("clean", "-ffdx", "--quiet")
                if not self.spec_root.is_dir():
                    raise GitError(f"revision {fetched[:12]} has no folder {self.path!r}",
                                   hint="fix --path or commit the spec folder")
                previous, self.revision = self.revision, fetched
                log.info("git_revision", url=self.url, branch=self.branch, revision=fetched,
                         previous=previous)
                if self.enqueue is not None:
                    self.enqueue(trigger)
            return fetched

    def fetch_once(self, trigger: str = "git") -> bool:
        """One :meth:`sync` that logs instead of raising; True on success."""
        try:
            self.sync(trigger)
        except GitError as exc:
            self.failures += 1
            self.last_error = str(exc)
            log.warning("git_fetch_failed", url=self.url, branch=self.branch, error=str(exc),
                        failures=self.failures, revision=self.revision,
                        retry_in=self.retry_delay())
            return False
        self.failures, self.last_error = 0, None
        return True

    def retry_delay(self) -> float:
        if self.failures == 0:
            return self.interval
        return min(self.backoff_cap, 2.0 ** (self.failures - 1), max(self.interval, 1.0))

    # service thread -------------------------------------------------------------
    def trigger(self) -> None:
        """Fetch now (``POST /hooks/git``); the pass that follows has the trigger ``webhook``."""
        self.hooks += 1
        self._hooked = True
        self._wake.set()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = GIT_TIMEOUT) -> None:
        """Stop polling; a fetch still running after ``timeout`` s is abandoned."""
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            hooked, self._hooked = self._hooked, False
            before = self.revision
            if self.fetch_once("webhook" if hooked else "git") and hooked \
                    and self.revision == before and self.enqueue is not None:
                self.enqueue("webhook")  # asked for: a pass even when nothing moved
            self._wake.wait(self.retry_delay())

    def status(self) -> dict[str, Any]:
        return {
            "url": self.url, "branch": self.branch, "path": self.path,
            "revision": self.revision, "worktree": str(self.worktree),
            "last_fetch": self.last_fetch, "last_error": self.last_error,
            "failures": self.failures, "hooks": self.hooks,
        }
