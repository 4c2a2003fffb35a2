"""Every example in examples/ converges on both runtimes, unchanged.

Role: the examples double as end-to-end tests (DESIGN.md "Testing"). For each
runtime (the Docker Engine and the daemonless native runtime) and each example
folder, run the CLI exactly as the example's README says — ``apply``, then a
``diff`` that must be a no-op, then check the example *works* (the web page is
served on its published port; the client reaches the database through its
link alias and reads back what it wrote), then ``down --volumes``.
Neighbours: ``examples/``, ``scripts/make_busybox_archive.py`` (the image
archive the examples load), ``controller.cli``.

The examples declare fixed names and host ports, so these cases run one at a
time and fail loudly (instead of touching anything) if a container of the same
name already exists outside the test's project.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

ROOT = Path(__file__).resolve().parents[1]
ARCHIVE = ROOT / "examples" / "images" / "busybox.tar"
RUNTIMES = ["docker", "native"]


def _dw(args: list[str], *, runtime: str, state: Path, check: bool = True,
        timeout: float = 180) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "controller.cli", "--runtime", runtime,
           "--state-dir", str(state), *args]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {proc.returncode}:\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def archive() -> Path:
    if not ARCHIVE.exists():
        subprocess.run([sys.executable, str(ROOT / "scripts" / "make_busybox_archive.py"),
                        str(ARCHIVE)], check=True)
    return ARCHIVE


@pytest.fixture
def example(request: pytest.FixtureRequest, tmp_path: Path, archive: Path
            ) -> Iterator[tuple[str, str, Path, str]]:
    runtime, name = request.param
    project = f"ex{uuid.uuid4().hex[:8]}"
    state = tmp_path / "state"
    if runtime == "docker":
        client = docker.from_env()
        names = {"web"} if name == "web" else {"db", "client"}
        clash = [c.name for c in client.containers.list(all=True) if c.name in names]
        client.close()
        assert not clash, f"containers {clash} already exist: remove them to run this test"
    folder = ROOT / "examples" / name
    try:
        yield runtime, project, state, name
    finally:
        _dw(["down", str(folder), "-p", project, "--volumes"], runtime=runtime, state=state,
            check=False)
        if runtime == "native":
            from runtime.native.driver import NativeDriver

            NativeDriver(state_dir=state).close()
            shutil.rmtree(state, ignore_errors=True)


def _wait(predicate: object, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = predicate()  # type: ignore[operator]
            if last:
                return
        except OSError as exc:  # not up yet
            last = exc
        time.sleep(0.5)
    raise AssertionError(f"{what} not reached within {timeout:.0f}s (last: {last!r})")


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as resp:
        body: bytes = resp.read()
        return body.decode()


CASES = [(r, n) for r in RUNTIMES for n in ("web", "two-tier")]


@pytest.mark.docker
@pytest.mark.native
@pytest.mark.parametrize("example", CASES, indirect=True, ids=[f"{r}-{n}" for r, n in CASES])
def test_example_converges_works_and_is_idempotent(example: tuple[str, str, Path, str]) -> None:
    runtime, project, state, name = example
    folder = str(ROOT / "examples" / name)
    applied = _dw(["apply", folder, "-p", project], runtime=runtime, state=state)
    assert "create" in applied.stdout

    again = _dw(["diff", folder, "-p", project], runtime=runtime, state=state, check=False)
    assert again.returncode == 0, f"second pass is not a no-op:\n{again.stdout}{again.stderr}"

    if name == "web":
        index = (ROOT / "examples" / "web" / "site" / "index.html").read_text()
        _wait(lambda: _get("http://127.0.0.1:18080/") == index, "web page served on :18080")
    else:
        # The client writes a record through the alias "database" and reads it back.
        def client_read_back() -> bool:
            logs = _dw(["logs", "client", "-p", project, "--tail", "20"], runtime=runtime,
                       state=state, check=False)
            return "VALUE" in logs.stdout

        _wait(client_read_back, "the client reading its record back from the database")
        ps = _dw(["ps", "--output", "json"], runtime=runtime, state=state)
        assert '"db"' in ps.stdout and '"client"' in ps.stdout

    status = _dw(["status", folder, "-p", project, "--output", "json"], runtime=runtime,
                 state=state)
    report = json.loads(status.stdout)
    assert report["in_sync"] is True, status.stdout
    assert all(r["in_sync"] for r in report["resources"]), status.stdout
