"""Every example in examples/ converges on both runtimes, unchanged.

Role: the examples double as end-to-end tests (DESIGN.md "Testing"). For each
runtime (the Docker Engine and the daemonless native runtime) and each example
folder, run the CLI exactly as the example's README says — ``apply``, then a
``diff`` that must be a no-op, then check the example *works* (the web page is
served on its published port; the client reaches the database through its
link alias and reads back what it wrote), then ``down --volumes``.
Neighbours: ``examples/``, ``scripts/make_busybox_archive.py`` (the image
archive the examples load), ``controller.cli``.

The examples declare fixed container names and host ports. So that the tests
never meet (or touch) a copy of an example that a user keeps running — the
demo leaves examples/two-tier up — the Docker cases run against a private
dockerd in its own network namespace (``tests/dockerd.py``), and the native
cases use their own state folder; the web page is fetched from inside the
private daemon's namespace.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.dockerd import PrivateDockerd

ROOT = Path(__file__).resolve().parents[1]
ARCHIVE = ROOT / "examples" / "images" / "busybox.tar"
RUNTIMES = ["docker", "native"]


@dataclass
class Target:
    runtime: str
    project: str
    state: Path
    name: str
    dockerd: PrivateDockerd | None = None

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.dockerd is not None:
            env["DOCKER_HOST"] = self.dockerd.url
        return env

    def get(self, url: str) -> str:
        """The body at ``url``, or "" while nothing answers there yet."""
        if self.dockerd is not None:
            return self.dockerd.http_get(url)
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                body: bytes = resp.read()
                return body.decode()
        except OSError:
            return ""


def _dw(args: list[str], *, target: Target, check: bool = True,
        timeout: float = 180) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "controller.cli", "--runtime", target.runtime,
           "--state-dir", str(target.state), *args]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          check=False, env=target.env())
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
def example(request: pytest.FixtureRequest, tmp_path: Path, archive: Path) -> Iterator[Target]:
    runtime, name = request.param
    target = Target(runtime, f"ex{uuid.uuid4().hex[:8]}", tmp_path / "state", name)
    if runtime == "docker":
        target.dockerd = PrivateDockerd()
    try:
        if target.dockerd is not None:
            target.dockerd.start()
        yield target
    finally:
        _dw(["down", str(ROOT / "examples" / name), "-p", target.project, "--volumes"],
            target=target, check=False)
        if target.dockerd is not None:
            target.dockerd.destroy()
        if runtime == "native":
            from runtime.native.driver import NativeDriver

            NativeDriver(state_dir=target.state).close()
            shutil.rmtree(target.state, ignore_errors=True)


CASES = [(r, n) for r in RUNTIMES for n in ("web", "two-tier")]


@pytest.mark.docker
@pytest.mark.native
@pytest.mark.parametrize("example", CASES, indirect=True, ids=[f"{r}-{n}" for r, n in CASES])
def test_example_converges_works_and_is_idempotent(example: Target) -> None:
    t = example
    folder = str(ROOT / "examples" / t.name)
    applied = _dw(["apply", folder, "-p", t.project], target=t)
    assert "create" in applied.stdout

    again = _dw(["diff", folder, "-p", t.project], target=t, check=False)
    assert again.returncode == 0, f"second pass is not a no-op:\n{again.stdout}{again.stderr}"

    if t.name == "web":
        index = (ROOT / "examples" / "web" / "site" / "index.html").read_text()
        wait_for(lambda: t.get("http://127.0.0.1:18080/") == index, "web page served on :18080",
                 timeout=60, step=0.5)
    else:
        # The client writes a record through the alias "database" and reads it back.
        def client_read_back() -> bool:
            logs = _dw(["logs", "client", "-p", t.project, "--tail", "20"], target=t,
                       check=False)
            return "VALUE" in logs.stdout

        wait_for(client_read_back, "the client reading its record back from the database",
                 timeout=60, step=0.5)
        ps = json.loads(_dw(["ps", "-p", t.project, "--output", "json"], target=t).stdout)
        assert {row["name"] for row in ps} == {"db", "client"}, ps

    status = _dw(["status", folder, "-p", t.project, "--output", "json"], target=t)
    report = json.loads(status.stdout)
    assert report["in_sync"] is True, status.stdout
    assert all(r["in_sync"] for r in report["resources"]), status.stdout
