"""Fixtures of the upgrade tests: earlier releases installed into venvs of their own.

Role: :data:`RELEASES` maps each earlier release to its git revision in this repository
(CI runs on a full clone); ``release_cli`` installs one (``git archive`` of that revision,
``pip install --no-deps`` into a fresh ``python -m venv``, whose dependencies come from
this test venv through a ``.pth`` file: no network) once per session and returns a
runner of its CLI. The integration suite's ``project`` fixture gives each test its own
``dwt-<hex>`` project and removes it afterwards. Neighbours: ``tests/integration/conftest.py``
(``Project``, the CLI of this code), ``tests/upgrade/test_upgrade.py``.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import (  # noqa: F401  (fixtures used by the tests here)
    ROOT,
    Run,
    busybox,
    docker_client,
    project,
)

# Each release adds its predecessor here: release -> git revision of this repository.
RELEASES = {"0.1.0": "2447301"}

ReleaseCli = Callable[[list[str]], Run]


def install_release(revision: str, where: Path) -> Path:
    """``git archive`` of ``revision`` installed into a venv at ``where``; its python."""
    archive = where / "release.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", "-o", str(archive),
                    revision], check=True, capture_output=True, timeout=120)
    src = where / "src"
    with tarfile.open(archive) as tar:
        tar.extractall(src, filter="data")
    venv = where / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   capture_output=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                              "['purelib'])"], check=True, capture_output=True, text=True,
                             timeout=60).stdout.strip()
    # the test venv's packages (pydantic, docker, pip, setuptools ...) come after the
    # release's own; .pth files of that folder (this checkout's editable install) are
    # not read, so `controller` can only be the release's
    Path(purelib, "zz_test_venv.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    install = [str(python), "-m", "pip", "install", "-q", "--no-deps", str(src)]
    offline = subprocess.run([*install, "--no-index", "--no-build-isolation"],
                             capture_output=True, text=True, timeout=300, cwd=where, check=False)
    if offline.returncode != 0:  # the test venv's setuptools cannot build a wheel (< 70.1
        # without `wheel`): build in isolation, from the indexes `scripts/setup.sh` used
        done = subprocess.run(install, capture_output=True, text=True, timeout=600, cwd=where,
                              check=False)
        assert done.returncode == 0, f"cannot install {revision}:\n{offline.stderr}\n" \
            f"{done.stderr}"
    return python


@pytest.fixture(scope="session", params=sorted(RELEASES))
def release_cli(request: pytest.FixtureRequest,
                tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ReleaseCli]:
    """(release, run) for each earlier release: ``run(args)`` runs its CLI."""
    release: str = request.param
    where = tmp_path_factory.mktemp(f"release-{release}")
    python = install_release(RELEASES[release], where)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DOCKWRIGHT_RUNTIME")}
    found = subprocess.run([str(python), "-c", "import controller; print(controller.__file__)"],
                           check=True, capture_output=True, text=True, cwd=where, env=env,
                           timeout=60).stdout
    assert str(where) in found, f"release {release} imports {found}, not its own code"

    def run(args: list[str]) -> Run:
        proc = subprocess.run([str(python), "-m", "controller.cli", *args], cwd=where, env=env,
                              capture_output=True, text=True, timeout=300, check=False)
        return Run(args, proc.returncode, proc.stdout, proc.stderr)

    return release, run
