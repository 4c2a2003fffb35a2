"""The runtime going away: the watch service against a PRIVATE dockerd (its own
socket, data root, exec root and containerd, no bridge, no iptables) that the
test stops and starts again. The shared daemon other tests use is never
touched. The service must log the outage, survive, reconnect and converge.

Neighbours: ``controller.loop`` (runtime handling), ``controller.triggers``
(event stream re-subscription); helpers in ``tests/watch/helpers.py``.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.conftest import wait_for
from tests.watch.helpers import IMAGE, Service, container_toml, get

pytestmark = pytest.mark.docker


class PrivateDockerd:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.sock = base / "docker.sock"
        self.url = f"unix://{self.sock}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.base / "dockerd.log").open("ab")
        self.proc = subprocess.Popen(
            # Its own network namespace: a dockerd started with --bridge none deletes the
            # host's docker0 (moby's removeDefaultBridgeInterface), breaking the shared daemon.
            ["unshare", "--net", "--", "dockerd", "--host", self.url,
             "--data-root", str(self.base / "data"), "--exec-root", str(self.base / "exec"),
             "--pidfile", str(self.base / "pid"),
             "--bridge", "none", "--iptables=false", "--ip-masq=false",
             "--shutdown-timeout", "2"],
            stdout=log, stderr=log)
        wait_for(self._ping, "private dockerd up", timeout=60, step=0.2)

    def _ping(self) -> bool:
        try:
            client = docker.DockerClient(base_url=self.url, timeout=5)
        except Exception:  # no socket yet
            return False
        try:
            return bool(client.ping())
        except Exception:
            return False
        finally:
            client.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def client(self) -> Any:
        return docker.DockerClient(base_url=self.url, timeout=30)


@pytest.fixture
def private_dockerd(dclient: Any, busybox_ref: str) -> Iterator[PrivateDockerd]:
    base = Path(tempfile.mkdtemp(prefix=f"dwt-{uuid.uuid4().hex[:6]}-", dir="/tmp"))
    daemon = PrivateDockerd(base)
    try:
        daemon.start()
        client = daemon.client()
        image = dclient.images.get(IMAGE)
        client.images.load(b"".join(image.save(named=True)))
        client.close()
        yield daemon
    finally:
        with contextlib.suppress(Exception):
            client = daemon.client()
            for c in client.containers.list(all=True):
                c.remove(force=True)
            client.close()
        daemon.stop()
        subprocess.run(["umount", "-R", str(base)], capture_output=True, check=False)
        shutil.rmtree(base, ignore_errors=True)


def test_service_survives_runtime_restart_and_converges(
        spec_dir: Path, project_name: str, private_dockerd: PrivateDockerd,
        start_service: Callable[..., Service]) -> None:
    web = f"{project_name}-web"
    (spec_dir / "web.toml").write_text(container_toml(web))
    svc = start_service(["--project", project_name, "watch", "--resync", "60s", str(spec_dir)],
                        env={"DOCKER_HOST": private_dockerd.url})
    svc.wait_ready()
    client = private_dockerd.client()
    try:
        wait_for(lambda: (c := get(client, web)) is not None and c.status == "running",
                 "web running")
        private_dockerd.stop()
        lost = svc.wait_event("runtime_events_lost", timeout=60)
        assert lost["error"]
        # while the runtime is away, a pass is attempted, fails, and is retried
        (spec_dir / "web.toml").write_text(container_toml(web, env={"AFTER": "1"}))
        svc.wait_event("runtime_unavailable", timeout=60)
        assert svc.proc.poll() is None
        assert svc.http("/healthz")[0] == 200
        time.sleep(1)
        private_dockerd.start()
        svc.wait_event("runtime_reconnected", timeout=60)
        client.close()
        client = private_dockerd.client()
        wait_for(lambda: (c := get(client, web)) is not None and c.status == "running"
                 and "AFTER=1" in c.attrs["Config"]["Env"], "web converged after the restart",
                 timeout=60)
        svc.wait_event("runtime_events_resubscribed", timeout=60)
        # healing works again on the new event stream
        started = get(client, web).attrs["State"]["StartedAt"]
        get(client, web).kill()
        wait_for(lambda: (c := get(client, web)) is not None and c.status == "running"
                 and c.attrs["State"]["StartedAt"] != started, "healed after reconnect")
        assert svc.terminate() == 0
    finally:
        client.close()
