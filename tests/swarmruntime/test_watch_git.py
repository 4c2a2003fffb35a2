"""``watch --runtime swarm --git URL``: each new revision of the branch is applied to the
cluster (single-node Swarm), its revision on the service's labels."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from runtime.swarm.driver import SwarmDriver
from tests.conftest import wait_for
from tests.dockerd import PrivateDockerd
from tests.swarmruntime.test_apply import write
from tests.swarmruntime.test_inspect_watch import app
from tests.swarmruntime.test_why import git

REVISION = "io.dockwright.revision"


def head(repo: Path) -> str:
    return subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()


def test_watch_follows_a_git_branch(swarm_host: PrivateDockerd, swarm: SwarmDriver, name: str,
                                    tmp_path: Path) -> None:
    repo = write(tmp_path / "repo", name, app(name, replicas=1))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "one replica")
    first = head(repo)
    env = {**os.environ, "DOCKER_HOST": swarm_host.url,
           "DOCKWRIGHT_STATE_DIR": str(tmp_path / "state"), "DOCKWRIGHT_RUNTIME": "swarm"}
    log = (tmp_path / "watch.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "controller.cli", "watch", "--git",
                             f"file://{repo}", "--branch", "main", "--interval", "1s",
                             "--cache-dir", str(tmp_path / "cache"), "--log-format", "json"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    mine = {"io.dockwright.project": name}
    try:
        wait_for(lambda: any(s.running == 1 and s.label(REVISION) == first
                             for s in swarm.list_services(mine)),
                 "watch applied the first revision", timeout=60)
        write(repo, name, app(name, replicas=2))
        git(repo, "commit", "-q", "-am", "two replicas")
        second = head(repo)
        wait_for(lambda: any(s.spec.replicas == 2 and s.label(REVISION) == second
                             for s in swarm.list_services(mine)),
                 "watch applied the second revision", timeout=60)
        assert '"event": "git_revision"' in (tmp_path / "watch.log").read_text()

        def journalled() -> list[dict[str, Any]]:
            shown = subprocess.run([sys.executable, "-m", "controller.cli", "history",
                                    "--project", name, "--output", "json"], env=env,
                                   capture_output=True, text=True, check=True)
            entries: list[dict[str, Any]] = json.loads(shown.stdout)["entries"]
            return entries
        entries = wait_for(lambda: [e for e in journalled() if e["action"] == "update"],
                           "the watch's update in the journal", timeout=30)
        assert (entries[0]["source"], entries[0]["runtime"], entries[0]["outcome"]) == (
            "watch", "swarm", "ok"), entries
        revision: Any = entries[0]["revision"]
        assert revision["commit"] == second and revision["subject"] == "two replicas", entries
        swarm.remove_service(f"{name}-web")  # by hand: the watch creates it again, as drift
        wait_for(lambda: '"reason": "removed outside dockwright"' in (
            text := (tmp_path / "watch.log").read_text()) and '"cause": "drift"' in text
            and any(s.running == 2 for s in swarm.list_services(mine)),
            "the removed service created again (cause drift)", timeout=60)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
        log.close()
        subprocess.run([sys.executable, "-m", "controller.cli", "down", str(repo)], env=env,
                       capture_output=True, check=False)
    assert code == 0, (tmp_path / "watch.log").read_text()
