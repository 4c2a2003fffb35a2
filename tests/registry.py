"""A throw-away local registry (Debian's ``docker-registry``) for pull tests.

Role: :func:`local_registry` runs ``/usr/bin/docker-registry serve CONFIG`` on
127.0.0.1 with a free port, its own config and storage in a temporary
directory and no authentication, waits until ``/v2/`` answers, yields
``"127.0.0.1:PORT"`` and stops the process afterwards. Docker treats
127.0.0.0/8 registries as insecure (plain HTTP) by default, so pushes and pulls
need no daemon configuration. :func:`push` pushes a local image there with the
SDK. Neighbours: ``tests/conftest.py`` (the ``registry`` fixture),
``tests/contract/test_images.py``.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.ports import free_port

REGISTRY_BIN = Path("/usr/bin/docker-registry")
START_TIMEOUT = 20.0

CONFIG = """\
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


def _answers(address: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{address}/v2/", timeout=1) as resp:
            return int(resp.status) == 200
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def local_registry() -> Iterator[str]:
    """Run a registry on 127.0.0.1; yield ``"127.0.0.1:PORT"``."""
    with tempfile.TemporaryDirectory(prefix="dwt-registry-") as tmp:
        root = Path(tmp)
        for _attempt in range(3):  # the free port may be taken before the registry binds it
            port = free_port()
            config = root / "config.yml"
            config.write_text(CONFIG.format(root=root / "storage", port=port))
            log = (root / "registry.log").open("wb")
            proc = subprocess.Popen(
                [str(REGISTRY_BIN), "serve", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            address = f"127.0.0.1:{port}"
            deadline = time.monotonic() + START_TIMEOUT
            while proc.poll() is None and time.monotonic() < deadline and not _answers(address):
                time.sleep(0.05)
            if proc.poll() is None and _answers(address):
                try:
                    yield address
                finally:
                    proc.terminate()
                    try:
                        proc.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
                    log.close()
                return
            proc.kill()
            proc.wait()
            log.close()
        raise RuntimeError(
            f"docker-registry did not start: {(root / 'registry.log').read_text()[-2000:]}"
        )


def push(api: Any, source: str, target: str) -> str:
    """Tag local image ``source`` as ``target`` (``host:port/repo:tag``) and push it."""
    repo, _, tag = target.rpartition(":")
    api.tag(source, repo, tag)
    for chunk in api.push(repo, tag=tag, stream=True, decode=True):
        if "error" in chunk:
            raise RuntimeError(f"push of {target} failed: {chunk['error']}")
    return target
