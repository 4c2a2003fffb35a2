"""Start-up work of read-only commands: what a no-op ``diff``/``status`` must not load.

Runs the real CLI in a subprocess against the real daemon and lists the modules
it imported: the docker SDK (requests, urllib3; the JSON calls go through
``runtime.docker.http`` on the local socket), the executor (``controller.execution.apply``),
structlog and prometheus_client (the watch service's metrics) stay unloaded; pydantic
too when no spec file changed since the last run (the recipe comes from its snapshot,
``controller.desired.snapshot``); ``status`` checks the journal without ``sqlite3``.
Speed itself is measured in ``bench/``, never here.
Neighbours: ``runtime.docker.http``, ``controller.commands.converge``,
``controller.planning.prefetch``, ``controller.desired.specload``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parent.parent.parent
HEAVY = ("docker", "requests", "urllib3", "controller.execution.apply", "structlog",
         "prometheus_client", "sqlite3")  # sqlite3: only commands writing or reading the journal
RUN = ("import atexit, json, sys; from controller.cli import main\n"
       "atexit.register(lambda: sys.stderr.write('MODULES=' + json.dumps(sorted(sys.modules))))\n"
       "sys.exit(main(sys.argv[1:]))")


def loaded_modules(*args: str) -> tuple[int, set[str], str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DOCKER_HOST", None)
    proc = subprocess.run([sys.executable, "-c", RUN, *args], cwd=ROOT, capture_output=True,
                          text=True, env=env, timeout=120, check=False)
    head, _, modules = proc.stderr.rpartition("MODULES=")
    return proc.returncode, set(json.loads(modules)), head + proc.stdout


@pytest.mark.parametrize("command", ["diff", "status"])
def test_read_only_commands_load_no_sdk_no_executor(tmp_path: Path, command: str) -> None:
    (tmp_path / "a.toml").write_text('[volume.data]\n')
    project = f"dwt-{uuid.uuid4().hex[:8]}"
    code, modules, output = loaded_modules(command, str(tmp_path), "-p", project)
    assert code in (0, 2), output  # 2: the volume would be created (nothing is changed)
    assert "runtime.docker.http" in modules, "the Docker driver was not used"
    assert not [m for m in HEAVY if m in modules], sorted(m for m in HEAVY if m in modules)


def test_unchanged_specs_need_no_pydantic(tmp_path: Path) -> None:
    project = f"dwt-{uuid.uuid4().hex[:8]}"
    vol = f"{project}-data"
    spec = tmp_path / "a.toml"
    try:
        for body in (f"[volume.{vol}]\n", f"[volume.{vol}]\n[volume.{vol}-2]\n"):
            spec.write_text(body)
            code, modules, output = loaded_modules("diff", str(tmp_path), "-p", project)
            assert code == 2, output
            assert "pydantic" in modules, "a changed spec file is validated with the models"
            code, modules, output = loaded_modules("apply", str(tmp_path), "-p", project)
            assert code == 0, output
            for command in ("diff", "status", "apply"):  # nothing changed since the diff
                code, modules, output = loaded_modules(command, str(tmp_path), "-p", project)
                assert code == 0, output
                assert "pydantic" not in modules, f"{command} of unchanged specs loaded them"
                assert "prometheus_client" not in modules, "only the watch service needs it"
        spec.write_text(f"[volume.{vol}]\nlabels = 3\n")  # invalid: reported, never kept
        for _ in range(2):
            code, modules, output = loaded_modules("diff", str(tmp_path), "-p", project)
            assert code == 1 and f"a.toml:2: volume.{vol}.labels" in output, output
    finally:
        subprocess.run(["docker", "volume", "rm", "-f", vol, f"{vol}-2"], capture_output=True,
                       check=False)
