"""Fixtures of the dashboard tests: a real watch service with its HTTP server, in-process
or as a subprocess, against the real Docker daemon.

``live_dashboard(root, project, journal_on=True)`` starts
``controller.service.loop.WatchService`` with a journal
(``controller.service.journalfeed.ServiceJournal``) and
``controller.service.httpd.StatusServer`` on a free loopback port, in this process, and
stops both at the end; ``Live.get(path)`` fetches a page as a browser without
JavaScript would. ``artifacts`` is the folder the browser tests save screenshots to
(``$DOCKWRIGHT_ARTIFACTS``, else ``tests/artifacts/``, git-ignored); it is printed.
Neighbours: ``tests/watch/conftest.py`` (``start_service``: the subprocess),
``tests/conftest.py`` (``project_name`` cleans up the containers by label).
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from controller.execution.result import PassResult
from controller.service.httpd import StatusServer
from controller.service.journalfeed import ServiceJournal
from controller.service.loop import WatchConfig, WatchService
from runtime.docker.driver import DockerDriver
from tests.conftest import wait_for
from tests.watch.conftest import dclient, spec_dir, start_service  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str


@dataclass
class Live:
    service: WatchService
    server: StatusServer
    results: list[PassResult]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.address[1]}"

    def get(self, path: str, headers: dict[str, str] | None = None,
            method: str = "GET") -> Reply:
        req = urllib.request.Request(self.url + path, headers=headers or {}, method=method)
        try:
            with urllib.request.urlopen(req, timeout=20) as resp:
                return Reply(resp.status, {k.lower(): v for k, v in resp.headers.items()},
                             resp.read().decode())
        except urllib.error.HTTPError as exc:
            return Reply(exc.code, {k.lower(): v for k, v in exc.headers.items()},
                         exc.read().decode())

    def wait_page(self, path: str, pred: Callable[[str], bool], what: str,
                  timeout: float = 60.0) -> str:
        """The page's HTML once ``pred`` holds for it."""
        def check() -> str | None:
            body = self.get(path).body
            return body if pred(body) else None

        return wait_for(check, what, timeout=timeout, step=0.2)


@pytest.fixture
def live_dashboard(tmp_path: Path, busybox_ref: str) -> Iterator[Callable[..., Live]]:
    started: list[Live] = []

    def start(root: Path, project: str, *, resync: float = 60.0, journal_on: bool = True
              ) -> Live:
        journal = ServiceJournal(tmp_path / "state" / "journal.db", "docker",
                                 max_age=86400.0, max_bytes=50 << 20) if journal_on else None
        config = WatchConfig(root=root, project=project, resync=resync, stop_timeout=20.0,
                             debounce=0.1)
        results: list[PassResult] = []
        service = WatchService(config, DockerDriver, journal=journal, on_pass=results.append)
        server = StatusServer(service, "127.0.0.1", 0)
        live = Live(service, server, results)
        started.append(live)
        server.start()
        service.start()
        wait_for(lambda: results, "the first pass", timeout=60)
        return live

    yield start
    for live in started:
        assert live.service.stop(), "the in-flight pass did not finish within the stop timeout"
        live.server.stop()
        if live.service.journal is not None:
            live.service.journal.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    folder = Path(os.environ.get("DOCKWRIGHT_ARTIFACTS") or ROOT / "tests" / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\ndashboard screenshots: {folder}")
    return folder
