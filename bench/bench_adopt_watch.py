"""Heal latency of ``dockwright watch`` for containers adopted from docker-compose.

A docker-compose 1.29 project of N services (default 5) is started, imported and
adopted as it runs (``apply --adopt-compose``); ``watch --resync 0`` then runs
on it, so only a runtime event can start a pass. Measured: ``docker kill`` of an
adopted container (it keeps compose's labels) -> its Docker ``start`` event,
median of ``--repeat`` (default 10), round-robin over the services; the same
figure for owned containers is ``bench/bench_watch.py``'s heal latency. Cleans
up what the compose project made (by label).

Run: ``.venv/bin/python bench/bench_adopt_watch.py`` (``--services 2 --repeat 3``
for a quick try). Neighbours: ``controller.service.triggers`` (what is measured),
``tests/compose/test_adopt_watch.py`` (the behaviour, asserted).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_watch import StartEvents, free_port  # noqa: E402
from tests.compose.conftest import cleanup  # noqa: E402
from tests.images import BUSYBOX, busybox_image  # noqa: E402

SERVICE = """  s{i}:
    image: {image}
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 5 & wait $$!; done"]
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--services", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    client = docker.from_env(timeout=120)
    busybox_image(client)
    name = f"dwbc{uuid.uuid4().hex[:8]}"
    tmp = Path(tempfile.mkdtemp(prefix="dwb-adopt-"))
    (tmp / "docker-compose.yml").write_text('version: "3.7"\nservices:\n' + "".join(
        SERVICE.format(i=i, image=BUSYBOX) for i in range(args.services)))
    env = {**os.environ, "DOCKWRIGHT_STATE_DIR": str(tmp / "state"),
           "DOCKWRIGHT_LOCK_DIR": str(tmp), "PYTHONPATH": str(ROOT)}
    dw = [sys.executable, "-m", "controller.cli"]

    def run(*cmd: str) -> None:
        subprocess.run(cmd, cwd=tmp, env=env, check=True, capture_output=True)

    service = None
    events = StartEvents(client, "", label_filter=f"com.docker.compose.project={name}")
    try:
        run("docker-compose", "-p", name, "up", "-d")
        run(*dw, "import", "-p", name)
        run(*dw, "apply", "dockwright", "--adopt-compose", name)
        service = subprocess.Popen(
            [*dw, "--log-format", "json", "watch", "--resync", "0", "dockwright",
             "--listen", f"127.0.0.1:{free_port()}"], cwd=tmp, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(3)  # the first pass: nothing to do
        heal = []
        for n in range(args.repeat):
            c = client.containers.get(f"{name}_s{n % args.services}_1")
            events.drain()
            t0 = time.time()
            c.kill()
            heal.append(events.wait(c.name, t0) - t0)
            time.sleep(0.5)
        print(f"adopted heal latency (docker kill -> start), {args.services} services: "
              f"median {statistics.median(heal):.3f}s, min {min(heal):.3f}s, "
              f"max {max(heal):.3f}s over {len(heal)}")
    finally:
        events.close()
        if service is not None:
            service.terminate()
            service.wait(30)
        cleanup(client, name)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
