"""Fixtures of the watch tests: the docker SDK client, a spec directory, and a
factory that starts ``dockwright watch`` subprocesses and always stops them.

Neighbours: ``tests/watch/helpers.py`` (the ``Service`` wrapper),
``tests/conftest.py`` (``project_name`` with label-based cleanup,
``busybox_ref``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.ports import free_port
from tests.watch.helpers import Service


@pytest.fixture(scope="session")
def dclient() -> Iterator[Any]:
    client = docker.from_env(timeout=60)
    yield client
    client.close()


@pytest.fixture
def spec_dir(tmp_path: Path) -> Path:
    root = tmp_path / "specs"
    root.mkdir()
    return root


@pytest.fixture
def start_service(tmp_path: Path, busybox_ref: str) -> Iterator[Callable[..., Service]]:
    """``start_service(args, env=None, listen=True)`` -> a running ``Service``."""
    started: list[Service] = []
    lock_dir = tmp_path / "locks"
    lock_dir.mkdir()

    def start(args: list[str], *, env: dict[str, str] | None = None,
              listen: bool = True) -> Service:
        port = free_port() if listen else None
        full = [*args, "--listen", f"127.0.0.1:{port}"] if listen else list(args)
        service = Service(full, env={"DOCKWRIGHT_LOCK_DIR": str(lock_dir), **(env or {})},
                          port=port)
        started.append(service)
        return service

    yield start
    for service in started:
        service.close()
