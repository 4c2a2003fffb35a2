"""Fixtures of the fault campaign, and its table at the end of the test run.

Role: ``bench`` gives each test a private ``dockerd`` (own data root, exec
root, socket and network namespace; ``tests/dockerd.py``) with the test image
loaded, a counting proxy in front of it and a fresh project
(``tests/faults/harness.py``). After the run, the rows each case recorded in
``harness.TALLY`` are printed as the campaign's table and written as JSON to
``$DW_FAULT_TABLE`` when set (``tests/faults/report.py`` reads it).
Neighbours: ``tests/faults/test_*.py``.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import docker
import pytest

from tests.dockerd import PrivateDockerd
from tests.faults.harness import TALLY, Bench
from tests.faults.table import render
from tests.integration.conftest import IMAGE, busybox, docker_client

__all__ = ["bench", "busybox", "docker_client"]


@pytest.fixture
def bench(busybox: str, docker_client: docker.DockerClient, tmp_path: Path) -> Iterator[Bench]:
    daemon = PrivateDockerd()
    try:
        daemon.start()
        client = daemon.client()
        client.images.load(b"".join(docker_client.images.get(IMAGE).save(named=True)))
        client.close()
        b = Bench(daemon, tmp_path / "specs", f"dwt-{uuid.uuid4().hex[:8]}")
        b.proxy.start()
        try:
            yield b
        finally:
            b.kill_cli()
            b.proxy.close()
    finally:
        daemon.destroy()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TALLY:
        return
    terminalreporter.write_sep("-", "fault campaign")
    terminalreporter.write_line(render({k: asdict(v) for k, v in TALLY.items()}))
    out = os.environ.get("DW_FAULT_TABLE")
    if out:
        Path(out).write_text(json.dumps({k: asdict(v) for k, v in TALLY.items()}, indent=1))
