"""Fixtures of the HTTP endpoint tests: the real ``StatusServer`` on 127.0.0.1.

``endpoint(limits=..., secret=..., git=...)`` starts the watch service's real HTTP
server (``controller.service.httpd.StatusServer`` on the hardened
``controller.service.httpserver``) for a ``WatchService`` that is built but not
started (its GET routes answer from its state; nothing here needs Docker unless a
test asks the runtime); it is stopped at the end. ``git_source`` is a started
``GitSource`` on a real local repository that records what it enqueues.
Neighbours: ``tests/httpd/wire.py`` (the socket helpers).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.service.gitsource import GitSource
from controller.service.httpd import StatusServer
from controller.service.httpwire import Limits
from controller.service.loop import WatchConfig, WatchService
from runtime.docker.driver import DockerDriver


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[Callable[..., StatusServer]]:
    started: list[StatusServer] = []

    def start(*, limits: Limits | None = None, secret: bytes | None = None,
              git: Any = None) -> StatusServer:
        root = tmp_path / "specs"
        root.mkdir(exist_ok=True)
        service = WatchService(WatchConfig(root=None if git else root, project="dwt-http"),
                               DockerDriver, git=git)
        server = StatusServer(service, "127.0.0.1", 0, webhook_secret=secret, limits=limits)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
        server.service.handle.close()


GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True,
                          text=True, env=dict(os.environ, **GIT_ENV)).stdout.strip()


class Origin:
    """A real bare repository with one commit (``deploy/README``) and a work clone."""

    def __init__(self, tmp: Path) -> None:
        self.bare, self.work = tmp / "origin.git", tmp / "work"
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(self.bare)], check=True)
        subprocess.run(["git", "init", "-q", "-b", "main", str(self.work)], check=True)
        (self.work / "deploy").mkdir()
        self.commit("v1")

    def commit(self, text: str) -> str:
        (self.work / "deploy" / "README").write_text(text)
        git(self.work, "add", ".")
        git(self.work, "commit", "-qm", text)
        git(self.work, "push", "-q", str(self.bare), "main")
        return git(self.work, "rev-parse", "HEAD")


@pytest.fixture
def git_source(tmp_path: Path) -> Iterator[tuple[GitSource, list[str]]]:
    """A started ``GitSource`` following a real local repository; the list gets every
    trigger it enqueues (the first fetch enqueues ``git``)."""
    origin = Origin(tmp_path)
    enqueued: list[str] = []
    source = GitSource(f"file://{origin.bare}", path="deploy", interval=3600.0,
                       cache_dir=tmp_path / "cache", enqueue=enqueued.append)
    source.start()
    try:
        yield source, enqueued
    finally:
        source.stop()
