"""``ps``, ``logs``, ``exec`` and ``watch`` on ``--runtime swarm`` (single-node Swarm)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from runtime.swarm.driver import SwarmDriver
from tests.conftest import wait_for
from tests.dockerd import PrivateDockerd
from tests.swarmruntime.conftest import IMAGE, Cli
from tests.swarmruntime.test_apply import write


def app(name: str, replicas: int = 2) -> str:
    return f"""
[container.{name}-web]
image = "{IMAGE}"
command = ["sh", "-c", "echo hello-from-task; exec sleep 100000"]
replicas = {replicas}
stop_timeout = "1s"
"""


def test_ps_logs_exec(swarm_cli: Cli, name: str, tmp_path: Path) -> None:
    specs = write(tmp_path / "specs", name, app(name))
    assert swarm_cli("apply", str(specs))[0] == 0
    code, out, _ = swarm_cli("ps", "--project", name)
    assert code == 0 and f"{name}-web.1" in out and f"{name}-web.2" in out, out
    assert "running" in out and "2/2" in out
    code, out, _ = swarm_cli("logs", f"{name}-web")
    lines = [line for line in out.splitlines() if "hello-from-task" in line]
    assert len(lines) == 2, out  # one per task, each prefixed with its task and node
    assert all(line.startswith(f"{name}-web.") and "@" in line.split(" | ")[0]
               for line in lines), out
    code, out, _ = swarm_cli("exec", f"{name}-web", "--", "sh", "-c", "echo in-task; exit 3")
    assert code == 3 and out == "in-task\n"
    code, out, _ = swarm_cli("status", str(specs))
    assert code == 0 and "2/2 running" in out and "named volumes are per node" in out, out
    swarm_cli("down", str(specs))


def test_watch_puts_a_hand_scaled_service_back(swarm_host: PrivateDockerd,
                                              swarm: SwarmDriver, name: str,
                                              tmp_path: Path) -> None:
    specs = write(tmp_path / "specs", name, app(name, replicas=1))
    env = {**os.environ, "DOCKER_HOST": swarm_host.url,
           "DOCKWRIGHT_STATE_DIR": str(tmp_path / "state"), "DOCKWRIGHT_RUNTIME": "swarm"}
    log = (tmp_path / "watch.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "controller.cli", "watch", str(specs),
                             "--no-journal", "--log-format", "json"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        web = wait_for(lambda: next((s for s in swarm.list_services(
            {"io.dockwright.project": name}) if s.running == 1), None), "watch created it",
            timeout=60)
        scaled = web.spec.__class__(**{**web.spec.__dict__, "replicas": 3})
        swarm.update_service(web.id, scaled, web.version)
        wait_for(lambda: swarm.inspect_service(web.id).spec.replicas == 1
                 and '"cause": "drift"' in (tmp_path / "watch.log").read_text(),
                 "the hand-made scale put back", timeout=60)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        log.close()
        subprocess.run([sys.executable, "-m", "controller.cli", "down", str(specs)], env=env,
                       capture_output=True, check=False)
