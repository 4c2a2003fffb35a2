"""Start-up work of a Swarm no-op: what ``diff``/``apply`` of unchanged specs must not load.

Runs the real CLI in a subprocess against the single-node Swarm of ``swarm_host``
and lists the modules it imported: on a pass with nothing to change, neither
pydantic (the recipe comes from its snapshot, ``controller.desired.snapshot``),
nor the docker SDK (the JSON calls go through ``runtime.docker.http`` on the
socket), nor the executors (``controller.execution.swarmapply``,
``controller.execution.apply``), nor structlog are imported. Speed itself is
measured in ``bench/bench_swarm.py``, never here. Neighbours:
``controller.execution.swarmpass``, ``tests/docker/test_lean_imports.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.dockerd import PrivateDockerd
from tests.swarmruntime.conftest import IMAGE

ROOT = Path(__file__).resolve().parent.parent.parent
HEAVY = ("pydantic", "docker", "requests", "urllib3", "jinja2", "ruamel", "structlog",
         "prometheus_client", "controller.execution.apply", "controller.execution.swarmapply")
RUN = ("import atexit, json, sys; from controller.cli import main\n"
       "atexit.register(lambda: sys.stderr.write('MODULES=' + json.dumps(sorted(sys.modules))))\n"
       "sys.exit(main(sys.argv[1:]))")


def loaded_modules(url: str, state: Path, *args: str) -> tuple[int, set[str], str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DOCKER_HOST": url}
    proc = subprocess.run([sys.executable, "-c", RUN, "--runtime", "swarm", "--state-dir",
                           str(state), *args], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    head, _, modules = proc.stderr.rpartition("MODULES=")
    return proc.returncode, set(json.loads(modules)), head + proc.stdout


def test_swarm_no_op_loads_no_models_sdk_or_executor(swarm_host: PrivateDockerd,
                                                     tmp_path: Path, name: str) -> None:
    specs, state = tmp_path / "specs", tmp_path / "state"
    specs.mkdir()
    (specs / "a.toml").write_text(f'[container.{name}]\nimage = "{IMAGE}"\n'
                                  'command = ["sleep", "100000"]\n')
    project = f"p{name}"
    try:
        code, modules, output = loaded_modules(swarm_host.url, state, "apply", str(specs),
                                               "-p", project)
        assert code == 0, output
        assert "controller.execution.swarmapply" in modules, "the service was not created"
        for command in ("diff", "apply"):  # nothing changed since
            code, modules, output = loaded_modules(swarm_host.url, state, command,
                                                   str(specs), "-p", project)
            assert code == 0 and "no changes" in output, output
            assert "runtime.swarm.driver" in modules, "the Swarm driver was not used"
            assert not [m for m in HEAVY if m in modules], sorted(m for m in HEAVY
                                                                  if m in modules)
    finally:
        loaded_modules(swarm_host.url, state, "down", str(specs), "-p", project)
