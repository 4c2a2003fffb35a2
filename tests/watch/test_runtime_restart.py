"""The runtime going away: the watch service against a PRIVATE dockerd (its own
socket, data root, exec root and containerd, no bridge, no iptables) that the
test stops and starts again. The shared daemon other tests use is never
touched. The service must log the outage, survive, reconnect and converge.

Neighbours: ``controller.service.loop`` (runtime handling), ``controller.service.triggers``
(event stream re-subscription); helpers in ``tests/watch/helpers.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_for
from tests.dockerd import PrivateDockerd
from tests.watch.helpers import IMAGE, Service, container_toml, get

pytestmark = pytest.mark.docker


@pytest.fixture
def private_dockerd(dclient: Any, busybox_ref: str) -> Iterator[PrivateDockerd]:
    daemon = PrivateDockerd()
    try:
        daemon.start()
        client = daemon.client()
        image = dclient.images.get(IMAGE)
        client.images.load(b"".join(image.save(named=True)))
        client.close()
        yield daemon
    finally:
        daemon.destroy()


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
