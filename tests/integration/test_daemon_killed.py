"""Issue 9: the Docker daemon SIGKILLed in the middle of a recreate, then restarted.

On a private daemon (``tests/dockerd.py``) whose OCI runtime is a ``runc``
wrapper that, when armed, stalls in ``runc start``: the test arms it, runs
``dockwright apply`` for a recreate and kills the daemon (its containerd goes
with it, the shim stays) while the new container's start is under way. After
the restart the daemon shows the old copy aside and the new one ``Created``,
while containerd still holds the new one's task: every start of it fails
(``id already in use``, or ``task ...: already exists``) until the container is
removed. The next apply must repair it (remove, create again with its anonymous
volumes, start) and only then remove the old copy. Neighbours:
``controller.execution.lifecycle`` (the repaired start), ``runtime.docker.errors``
(``StaleState``), ``tests/integration/test_interrupted.py``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from runtime.types import LABEL_PROJECT
from tests.conftest import wait_for
from tests.dockerd import PrivateDockerd

from .conftest import IMAGE, ROOT, run_cli

pytestmark = pytest.mark.docker

WRAPPER = """\
    #!/bin/sh
    # runc, except that an armed start stalls: time for the test to kill the daemon
    for a in "$@"; do
      if [ "$a" = start ] && [ -e {base}/arm ]; then
        rm -f {base}/arm; touch {base}/stalled; sleep 3
      fi
    done
    exec runc "$@"
    """


@pytest.fixture
def stalling_dockerd(busybox: str, docker_client: docker.DockerClient,
                     tmp_path: Path) -> Iterator[PrivateDockerd]:
    daemon = PrivateDockerd()
    wrapper = daemon.base / "stalling-runc"
    wrapper.write_text(textwrap.dedent(WRAPPER.format(base=daemon.base)))
    wrapper.chmod(0o755)
    daemon.extra = ("--add-runtime", f"stalling={wrapper}", "--default-runtime", "stalling")
    try:
        daemon.start()
        client = daemon.client()
        client.images.load(b"".join(docker_client.images.get(IMAGE).save(named=True)))
        client.close()
        yield daemon
    finally:
        daemon.destroy()


def _spec(root: Path, project: str, version: str) -> None:
    (root / "a.toml").write_text(textwrap.dedent(f"""\
        [project]
        name = "{project}"

        [container.web]
        image = "{IMAGE}"
        command = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]
        volumes = ["/anon"]
        stop_timeout = "1s"
        env = {{ V = "{version}" }}
        """))


def _running(program: Path) -> bool:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(program).encode() in (entry / "cmdline").read_bytes():
                    return True
            except OSError:
                continue
    return False


def _states(client: Any, project: str) -> dict[str, str]:
    rows = client.containers.list(all=True, ignore_removed=True,
                                  filters={"label": f"{LABEL_PROJECT}={project}"})
    return {c.name: c.status for c in rows}


def _apply_killed_during_start(d: PrivateDockerd, root: Path) -> None:
    """``dockwright apply`` with the runtime armed: the daemon is SIGKILLed while runc
    starts the first container the pass starts, then restarted."""
    (d.base / "arm").touch()
    proc = subprocess.Popen(
        [sys.executable, "-m", "controller.cli", "apply", str(root)],
        env={**os.environ, "DOCKER_HOST": d.url, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: (d.base / "stalled").exists(), "a container's start under way")
        d.kill()
        wait_for(lambda: not _running(d.base / "stalling-runc"), "the stalled start to end")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(60)
    d.start()


def test_a_recreate_left_stale_by_a_killed_daemon_is_repaired(
        stalling_dockerd: PrivateDockerd, tmp_path: Path) -> None:
    d, project = stalling_dockerd, f"dwt-{uuid.uuid4().hex[:8]}"
    env = {"DOCKER_HOST": d.url}
    _spec(tmp_path, project, "1")
    first = run_cli(["apply", str(tmp_path)], env=env)
    assert first.code == 0, str(first)
    client = d.client()
    assert client.containers.get("web").exec_run(["sh", "-c", "echo mine > /anon/f"])[0] == 0
    old = str(client.containers.get("web").id)
    client.close()
    _spec(tmp_path, project, "2")
    _apply_killed_during_start(d, tmp_path)
    client = d.client()
    try:
        aside = f"web_dw-old-{old[:12]}"
        assert _states(client, project) == {"web": "created", aside: "exited"}
        run = run_cli(["apply", str(tmp_path)], env=env)
        assert run.code == 0, str(run)
        assert "created again: the runtime held a stale task" in run.out, str(run)
        assert _states(client, project) == {"web": "running"}, str(run)
        assert client.containers.get("web").exec_run(["cat", "/anon/f"]) == (0, b"mine\n")
        again = run_cli(["diff", str(tmp_path)], env=env)
        assert again.code == 0, str(again)
    finally:
        client.close()


def test_a_first_start_left_stale_by_a_killed_daemon_is_repaired(
        stalling_dockerd: PrivateDockerd, tmp_path: Path) -> None:
    d, project = stalling_dockerd, f"dwt-{uuid.uuid4().hex[:8]}"
    env = {"DOCKER_HOST": d.url}
    _spec(tmp_path, project, "1")
    _apply_killed_during_start(d, tmp_path)
    client = d.client()
    try:
        assert _states(client, project) == {"web": "created"}
        run = run_cli(["apply", str(tmp_path)], env=env)
        assert run.code == 0, str(run)
        assert "start          container web: not running: created — ok (created again: the " \
               "runtime held a stale task" in run.out, str(run)
        assert _states(client, project) == {"web": "running"}, str(run)
        again = run_cli(["diff", str(tmp_path)], env=env)
        assert again.code == 0, str(again)
    finally:
        client.close()
