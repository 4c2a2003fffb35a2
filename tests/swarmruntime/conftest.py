"""A single-node Swarm on a private dockerd for the Swarm runtime's own tests.

Role: ``swarm_host`` starts a ``tests.dockerd.PrivateDockerd`` (its own network
namespace), runs ``swarm init`` on its loopback and loads the example busybox
image, once per session; it is destroyed afterwards (the shared daemon is
never made a Swarm). ``swarm_cli`` runs dockwright in-process with
``DOCKER_HOST`` pointing at it and a state folder of the test's own.
Multi-node clusters are ``tests/swarm/cluster.py``'s.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from controller.cli import main
from runtime.swarm.driver import SwarmDriver
from tests.conftest import wait_for
from tests.dockerd import PrivateDockerd
from tests.registry import REGISTRY_BIN

ROOT = Path(__file__).resolve().parent.parent.parent
IMAGE = "dockwright-examples/busybox:latest"
Cli = Callable[..., tuple[int, str, str]]


def write(folder: Path, project: str, body: str) -> Path:
    """``folder/app.toml``: a ``[project]`` table named ``project``, then ``body``."""
    folder.mkdir(exist_ok=True)
    (folder / "app.toml").write_text(f'[project]\nname = "{project}"\n\n{body}')
    return folder


@pytest.fixture(scope="session")
def swarm_host() -> Iterator[PrivateDockerd]:
    daemon = PrivateDockerd()
    try:
        daemon.start()
        client = daemon.client()
        client.swarm.init(advertise_addr="127.0.0.1", listen_addr="127.0.0.1:2377")
        with (ROOT / "examples" / "images" / "busybox.tar").open("rb") as archive:
            client.images.load(archive.read())
        client.close()
        yield daemon
    finally:
        daemon.destroy()


@pytest.fixture
def swarm(swarm_host: PrivateDockerd) -> Iterator[SwarmDriver]:
    driver = SwarmDriver(swarm_host.url)
    yield driver
    driver.close()


@pytest.fixture
def name() -> str:
    """A service-name prefix of this test's own (service names are cluster-wide)."""
    return f"s{uuid.uuid4().hex[:6]}"


@pytest.fixture
def swarm_cli(swarm_host: PrivateDockerd, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("DOCKER_HOST", swarm_host.url)
    monkeypatch.setenv("DOCKWRIGHT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("DOCKWRIGHT_RUNTIME", raising=False)

    def run(*argv: str) -> tuple[int, str, str]:
        # stdout with a binary buffer: logs and exec write the tasks' bytes there
        raw = io.BytesIO()
        out, err = io.TextIOWrapper(raw, encoding="utf-8", write_through=True), io.StringIO()
        command, rest = list(argv[:1]), list(argv[1:])  # the option before exec's "--"
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([*command, "--runtime", "swarm", *rest])
        out.flush()
        return code, raw.getvalue().decode(), err.getvalue()

    return run


@pytest.fixture
def netns_registry(swarm_host: PrivateDockerd, tmp_path: Path) -> Iterator[str]:
    """A registry (Debian's ``docker-registry``) on 127.0.0.1:5000 inside the Swarm's
    network namespace, where its daemon pushes and pulls; yields ``"127.0.0.1:5000"``.
    Its configuration is the one examples/swarm/README.md tells users to serve (Debian's
    own asks for credentials), with the storage in the test's folder."""
    assert swarm_host.proc is not None
    config = tmp_path / "registry.yml"
    example = (ROOT / "examples" / "swarm" / "registry.yml").read_text()
    assert "/var/lib/docker-registry" in example and "127.0.0.1:5000" in example
    config.write_text(example.replace("/var/lib/docker-registry", str(tmp_path / "registry")))
    log = (tmp_path / "registry.log").open("wb")
    proc = subprocess.Popen(["nsenter", f"--net=/proc/{swarm_host.proc.pid}/ns/net",
                             str(REGISTRY_BIN), "serve", str(config)],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_for(lambda: "{}" in swarm_host.http_get("http://127.0.0.1:5000/v2/"),
                 "the registry answers", timeout=30, step=0.2)
        yield "127.0.0.1:5000"
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
