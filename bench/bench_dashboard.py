"""Benchmark of the web dashboard of ``dockwright watch --listen`` on the real Docker daemon.

One service watches N converged containers (default 200) with its journal on; a few
are killed by hand first so that the journal holds drift entries too. Then each page
is fetched ``--repeat`` times (default 50) one after another over loopback, timed
from the request to the last byte, and p50 / p95 / max reported:
- ``/`` (overview), ``/p/PROJECT`` (the N resources), ``/p/PROJECT/r/NAME`` (a
  resource: ``why``, its history, its diff), ``/journal`` (the latest 100 entries),
  ``/journal?resource=..&outcome=ok&since=1h`` (filtered), and the project page's
  fragment (what the inline script fetches after an event);
- "after a pass": the project page and a resource page fetched right after a pass
  ended (SIGHUP, then the ``pass`` event on ``/events``): the container list and the
  resource's ``why`` are not cached yet (``--cold`` times, default 15);
- for reference, the runtime's list call of the N containers alone (what a page
  right after a pass waits for), in the same run.
Goal: every page under 100 ms for 200 containers. Prints a table and writes
``bench/results/dashboard.json``; removes every container and network it made.

Run: ``.venv/bin/python bench/bench_dashboard.py`` (``--containers 20 --repeat 10
--cold 5`` for a quick try). Neighbours: ``controller.service.dashboard`` (measured).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import docker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runtime.types import LABEL_PROJECT  # noqa: E402
from tests.images import busybox_image  # noqa: E402

COMMAND = '["sh", "-c", "trap \'exit 0\' TERM; while :; do sleep 5 & wait $!; done"]'


def spec(name: str, index: int) -> str:
    return (f'[container.{name}]\nimage = "dockwright-test/busybox:latest"\n'
            f'command = {COMMAND}\nstop_timeout = "1s"\n'
            f'env = {{ IDX = "{index}" }}\nports = ["127.0.0.1::{8000 + index % 1000}"]\n')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Passes:
    """Counts the ``pass`` events of the service's ``/events`` stream."""

    def __init__(self, port: int) -> None:
        self.count = 0
        self.cond = threading.Condition()
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.sendall(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            buf += data
            found = buf.count(b"event: pass\n")
            if found:
                buf = buf[buf.rfind(b"event: pass\n") + 1:]
                with self.cond:
                    self.count += found
                    self.cond.notify_all()

    def wait_after(self, seen: int, timeout: float = 60.0) -> None:
        with self.cond:
            if not self.cond.wait_for(lambda: self.count > seen, timeout):
                raise TimeoutError("no pass event")

    def close(self) -> None:
        self.sock.close()


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[float, int, int]:
    """(seconds to the last byte, status, bytes)."""
    t0 = time.perf_counter()
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=30) as resp:
        body = resp.read()
        status = resp.status
    return time.perf_counter() - t0, status, len(body)


def summary(values: list[float], size: int) -> dict[str, Any]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(values) * 1000, 1),
            "p95_ms": round(p95 * 1000, 1), "max_ms": round(max(values) * 1000, 1),
            "n": len(values), "bytes": size}


def wait_running(client: Any, project: str, count: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = client.containers.list(filters={"label": f"{LABEL_PROJECT}={project}",
                                                  "status": "running"}, sparse=True)
        if len(running) == count:
            return
        time.sleep(1.0)
    raise TimeoutError(f"{count} containers not running within {timeout}s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--containers", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=50)
    ap.add_argument("--cold", type=int, default=15)
    ap.add_argument("--output", type=Path,
                    default=ROOT / "bench" / "results" / "dashboard.json")
    args = ap.parse_args()

    client = docker.from_env(timeout=300)
    busybox_image(client)
    project = f"dwb-{uuid.uuid4().hex[:8]}"
    tmp = Path(tempfile.mkdtemp(prefix="dwb-dash-"))
    specs = tmp / "specs"
    specs.mkdir()
    names = [f"{project}-c{i:03d}" for i in range(args.containers)]
    for i, name in enumerate(names):
        (specs / f"{name}.toml").write_text(spec(name, i))
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT), DOCKWRIGHT_LOCK_DIR=str(tmp),
               DOCKWRIGHT_STATE_DIR=str(tmp / "state"))
    log = (tmp / "watch.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "controller.cli", "--log-format", "json", "--project", project,
         "watch", str(specs), "--listen", f"127.0.0.1:{port}"],
        cwd=ROOT, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    result: dict[str, Any] = {"containers": args.containers, "repeat": args.repeat,
                              "cold": args.cold, "load_before": os.getloadavg()}
    passes: Passes | None = None
    try:
        t0 = time.monotonic()
        wait_running(client, project, args.containers)
        result["converge_s"] = round(time.monotonic() - t0, 1)
        time.sleep(3)
        for victim in names[1:6]:  # drift entries in the journal
            client.containers.get(victim).kill()
            time.sleep(1.5)
        wait_running(client, project, args.containers)
        time.sleep(3)
        target = names[1]
        pages = {
            "overview /": "/",
            f"project /p/P ({args.containers} resources)": f"/p/{project}",
            "project fragment (after an event)": f"/p/{project}",
            "resource /p/P/r/NAME (why, history, diff)": f"/p/{project}/r/{target}",
            "journal /journal (100 entries)": "/journal",
            "journal filtered": f"/journal?project={project}&resource={target}"
                                "&outcome=ok&since=1h",
        }
        timings: dict[str, Any] = {}
        for label, path in pages.items():
            headers = {"X-Dockwright-Fragment": "1"} if "fragment" in label else None
            fetch(base + path, headers)  # warm: templates compiled, caches filled
            values, size = [], 0
            for _ in range(args.repeat):
                took, status, size = fetch(base + path, headers)
                assert status == 200, (path, status)
                values.append(took)
            timings[label] = summary(values, size)
        passes = Passes(port)
        time.sleep(0.5)
        for label, path in ((f"project right after a pass ({args.containers} listed)",
                             f"/p/{project}"),
                            ("resource right after a pass (why computed)",
                             f"/p/{project}/r/{target}")):
            values = []
            for _ in range(args.cold):
                seen = passes.count
                os.kill(proc.pid, signal.SIGHUP)
                passes.wait_after(seen)
                took, status, size = fetch(base + path)
                assert status == 200, (path, status)
                values.append(took)
            timings[label] = summary(values, size)
        from runtime.docker.driver import DockerDriver

        driver = DockerDriver()  # the lower bound of a page that lists: the list call alone
        values = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            driver.list_containers({LABEL_PROJECT: project})
            values.append(time.perf_counter() - t0)
        driver.close()
        timings[f"reference: the runtime's list of {args.containers} (no page)"] = summary(
            values, 0)
        result["pages"] = timings
        result["load_after"] = os.getloadavg()
    finally:
        if passes is not None:
            passes.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        for c in client.containers.list(all=True, filters={"label": f"{LABEL_PROJECT}={project}"}):
            c.remove(force=True)
        for n in client.networks.list(filters={"label": f"{LABEL_PROJECT}={project}"}):
            n.remove()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"dashboard of {args.containers} containers ({args.repeat} fetches per page, "
          f"{args.cold} after a pass; load {result['load_before'][0]:.1f} -> "
          f"{result['load_after'][0]:.1f})")
    print(f"{'page':<52}{'p50':>9}{'p95':>9}{'max':>9}{'bytes':>9}")
    for label, t in result["pages"].items():
        print(f"{label:<52}{t['p50_ms']:>7.1f}ms{t['p95_ms']:>7.1f}ms{t['max_ms']:>7.1f}ms"
              f"{t['bytes']:>9}")
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
