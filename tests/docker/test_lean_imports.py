"""Start-up work of read-only commands: what a no-op ``diff``/``status`` must not load.

Runs the real CLI in a subprocess against the real daemon and lists the modules
it imported: the docker SDK (requests, urllib3; the JSON calls go through
``runtime.docker.http`` on the local socket), the executor (``controller.apply``)
and structlog stay unloaded; pydantic too, in the parent process: the spec directory
is loaded by a forked child (``controller.loadahead``) or served by the snapshot of
an earlier run (``controller.snapshot``). Speed itself is measured in ``bench/``,
never here. Neighbours: ``runtime.docker.http``, ``controller.commands.converge``,
``controller.prefetch``, ``controller.loadahead``.
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
HEAVY = ("docker", "requests", "urllib3", "controller.apply", "structlog")
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


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="load-ahead forks only with 2+ CPUs")
def test_the_cli_process_never_imports_pydantic(tmp_path: Path) -> None:
    project = f"dwt-{uuid.uuid4().hex[:8]}"
    vol = f"{project}-data"
    spec = tmp_path / "a.toml"
    try:
        for step, body in enumerate([f'[volume.{vol}]\n', f'[volume.{vol}]\n',
                                     f'[volume.{vol}]\nlabels = {{ a = "1" }}\n']):
            spec.write_text(body)  # new, unchanged (a snapshot hit), changed (a child loads)
            for command in ("diff", "apply"):
                code, modules, output = loaded_modules(command, str(tmp_path), "-p", project)
                assert code in (0, 2), output
                assert "runtime.docker.http" in modules, "the Docker driver was not used"
                assert "pydantic" not in modules, f"step {step}: {command} imported pydantic"
        spec.write_text(f"[volume.{vol}]\nlabels = 3\n")  # invalid: reported all the same
        code, modules, output = loaded_modules("diff", str(tmp_path), "-p", project)
        assert code == 1 and f"a.toml:2: volume.{vol}.labels" in output, output
        assert "pydantic" not in modules
    finally:
        subprocess.run(["docker", "volume", "rm", "-f", vol], capture_output=True,
                       check=False)
