"""``/readyz`` follows the runtime: 503 with the reason while the daemon is down,
200 again once it answers a ping. Against a PRIVATE dockerd that the test stops
and starts (the shared daemon is never touched).

Neighbours: ``controller.service.readiness``, ``controller.service.httpd``;
helpers in ``tests/watch/helpers.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_for
from tests.dockerd import PrivateDockerd
from tests.watch.helpers import IMAGE, Service, container_toml, parse_prometheus

pytestmark = pytest.mark.docker


@pytest.fixture
def daemon(dclient: Any, busybox_ref: str) -> Iterator[PrivateDockerd]:
    private = PrivateDockerd()
    try:
        private.start()
        client = private.client()
        client.images.load(b"".join(dclient.images.get(IMAGE).save(named=True)))
        client.close()
        yield private
    finally:
        private.destroy()


def _ready_gauge(svc: Service) -> float:
    metrics = parse_prometheus(svc.http("/metrics")[1])
    return next(v for (name, _), v in metrics.items() if name == "dockwright_ready")


def test_readyz_is_503_while_the_runtime_is_down_and_200_once_it_answers(
        spec_dir: Path, project_name: str, daemon: PrivateDockerd,
        start_service: Callable[..., Service]) -> None:
    (spec_dir / "web.toml").write_text(container_toml(f"{project_name}-web"))
    svc = start_service(["--project", project_name, "watch", "--resync", "1h", str(spec_dir)],
                        env={"DOCKER_HOST": daemon.url})
    svc.wait_ready()
    assert svc.http("/readyz")[0] == 200
    daemon.stop()
    # no pass runs meanwhile (resync 1h, no edit): the probe itself finds the outage
    wait_for(lambda: svc.http("/readyz")[0] == 503, "readyz 503 with the runtime down",
             timeout=30)
    body = json.loads(svc.http("/readyz")[1])
    assert body["ready"] is False
    assert body["reason"].startswith("the container runtime is unreachable: "), body
    assert _ready_gauge(svc) == 0
    assert svc.proc.poll() is None and svc.http("/healthz")[0] == 200
    daemon.start()
    wait_for(lambda: svc.http("/readyz")[0] == 200, "readyz 200 once the runtime answers",
             timeout=60)
    assert json.loads(svc.http("/readyz")[1]) == {"ready": True, "reason": None}
    assert _ready_gauge(svc) == 1
    assert svc.terminate() == 0
