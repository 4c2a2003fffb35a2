"""Benchmark of ``dockwright watch`` on the real Docker daemon.

Measures, against one running service with N converged containers (default 50):
- edit latency: a spec file saved -> the changed container running (its Docker
  ``start`` event), median of 10;
- heal latency: ``docker kill`` of an owned container -> it running again,
  median of 10;
- idle cost: CPU (utime+stime from /proc/<pid>/stat) and RSS (VmRSS from
  /proc/<pid>/status, max of 1 s samples) of the service over 60 s.
Goals: < 1 s, < 1 s, < 1% of one core, < 80 MB. Prints a table and writes
``bench/results/watch.json``. Cleans up everything it created (by label).

Run: ``.venv/bin/python bench/bench_watch.py``
(``--containers 10 --repeat 3 --idle 10`` for a quick try).
Neighbours: ``controller.commands.watch`` (what is measured).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
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

# exits at once on TERM (``wait`` is interruptible, a foreground ``sleep`` is not)
COMMAND = '["sh", "-c", "trap \'exit 0\' TERM; while :; do sleep 5 & wait $!; done"]'
TICKS = os.sysconf("SC_CLK_TCK")


def spec(name: str, value: int) -> str:
    return (f'[container.{name}]\nimage = "dockwright-test/busybox:latest"\n'
            f'command = {COMMAND}\nstop_timeout = "1s"\nenv = {{ REV = "{value}" }}\n')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class StartEvents:
    """Docker ``start`` events of the project's containers: (name, unix time)."""

    def __init__(self, client: Any, project: str, label_filter: str = "") -> None:
        self.q: queue.Queue[tuple[str, float]] = queue.Queue()
        self._stream = client.api.events(decode=True, filters={
            "type": "container", "event": "start",
            "label": label_filter or f"{LABEL_PROJECT}={project}"})
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        try:
            for ev in self._stream:
                name = ev.get("Actor", {}).get("Attributes", {}).get("name", "")
                self.q.put((name, ev["timeNano"] / 1e9))
        except Exception:  # closed
            return

    def wait(self, name: str, after: float, timeout: float = 30.0) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                got, when = self.q.get(timeout=0.5)
            except queue.Empty:
                continue
            if got == name and when >= after:
                return when
        raise TimeoutError(f"{name} did not start within {timeout}s")

    def drain(self) -> None:
        while not self.q.empty():
            self.q.get_nowait()

    def close(self) -> None:
        self._stream.close()


def raw_baselines(client: Any, label: str, repeat: int) -> tuple[list[float], list[float]]:
    """The lower bound without dockwright, on a container the service does not own.

    heal: ``docker kill`` then an immediate ``start`` from this process;
    recreate: stop + remove + create + start, as fast as the SDK allows.
    Both measured to the Docker ``start`` event, like the service's figures.
    """
    name = f"{label}-raw"
    events = StartEvents(client, "", label_filter=f"dwb={label}")
    kwargs: dict[str, Any] = {"image": "dockwright-test/busybox:latest", "name": name,
                              "command": ["sh", "-c", "trap 'exit 0' TERM; "
                                          "while :; do sleep 5 & wait $!; done"],
                              "labels": {"dwb": label}, "stop_signal": "SIGTERM"}
    heal: list[float] = []
    recreate: list[float] = []
    network = client.networks.create(name, labels={"dwb": label})  # like the project network
    kwargs["network"] = network.name
    try:
        c = client.containers.run(detach=True, **kwargs)
        for _ in range(repeat):
            time.sleep(0.5)
            events.drain()
            t0 = time.time()
            c.kill()
            c.start()
            heal.append(events.wait(name, t0) - t0)
        for _ in range(repeat):
            time.sleep(0.5)
            events.drain()
            t0 = time.time()
            c.stop(timeout=1)
            c.remove()
            c = client.containers.run(detach=True, **kwargs)
            recreate.append(events.wait(name, t0) - t0)
    finally:
        events.close()
        for left in client.containers.list(all=True, filters={"label": f"dwb={label}"}):
            left.remove(force=True)
        network.remove()
    return heal, recreate


def action_durations(log_path: Path, resource: str, kind: str) -> list[float]:
    """Durations of the service's own Docker calls for one kind of action (from its log)."""
    out = []
    for line in log_path.read_text().splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if (event.get("event") == "action" and event.get("action") == kind
                and (not resource or event.get("resource") == resource)):
            out.append(float(event["duration"]))
    return out


def summary(values: list[float]) -> dict[str, Any]:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3), "samples": [round(x, 3) for x in values]}


def wait_converged(client: Any, project: str, count: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = client.containers.list(filters={"label": f"{LABEL_PROJECT}={project}",
                                                  "status": "running"}, sparse=True)
        if len(running) == count:
            return
        time.sleep(0.5)
    raise TimeoutError(f"{count} containers not running within {timeout}s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--containers", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--idle", type=float, default=60.0, help="idle measurement, seconds")
    ap.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "watch.json")
    ap.add_argument("--keep-logs", action="store_true", help="keep the service's log folder")
    args = ap.parse_args()

    client = docker.from_env(timeout=120)
    busybox_image(client)
    project = f"dwb-{uuid.uuid4().hex[:8]}"
    tmp = Path(tempfile.mkdtemp(prefix="dwb-watch-"))
    specs = tmp / "specs"
    specs.mkdir()
    names = [f"{project}-c{i:02d}" for i in range(args.containers)]
    for name in names:
        (specs / f"{name}.toml").write_text(spec(name, 0))
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT), DOCKWRIGHT_LOCK_DIR=str(tmp))
    log = (tmp / "watch.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "controller.cli", "--log-format", "json", "--project", project,
         "watch", str(specs), "--listen", f"127.0.0.1:{port}"],
        cwd=ROOT, env=env, stdout=log, stderr=log)
    events = StartEvents(client, project)
    result: dict[str, Any] = {"containers": args.containers, "repeat": args.repeat}
    try:
        t0 = time.monotonic()
        wait_converged(client, project, args.containers)
        result["cold_converge_s"] = round(time.monotonic() - t0, 3)
        time.sleep(2)
        events.drain()

        edit: list[float] = []
        target = names[0]
        for i in range(1, args.repeat + 1):
            path = specs / f"{target}.toml"
            saved = time.time()
            path.write_text(spec(target, i))
            edit.append(events.wait(target, saved) - saved)
            time.sleep(1.0)

        # a different container each time: killing one container 10 times in a row is a
        # crash loop, which the service rightly backs off (see controller.service.backoff)
        heal: list[float] = []
        for i in range(args.repeat):
            victim = client.containers.get(names[1 + i % (len(names) - 1)])
            time.sleep(1.0)
            events.drain()
            killed = time.time()
            victim.kill()
            heal.append(events.wait(str(victim.name), killed) - killed)

        time.sleep(3)  # let follow-up passes finish
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as resp:
            assert resp.status == 200
        cpu0, w0, rss_max = cpu_seconds(proc.pid), time.monotonic(), 0.0
        while time.monotonic() - w0 < args.idle:
            rss_max = max(rss_max, rss_mb(proc.pid))
            time.sleep(1.0)
        cpu_pct = 100 * (cpu_seconds(proc.pid) - cpu0) / (time.monotonic() - w0)
        log.flush()
        raw_heal, raw_recreate = raw_baselines(client, project, args.repeat)
        log_path = tmp / "watch.log"
        recreate_calls = action_durations(log_path, target, "recreate")
        start_calls = action_durations(log_path, "", "start")[-args.repeat:]
        result.update({
            "edit_latency_s": summary(edit),
            "heal_latency_s": summary(heal),
            "docker_recreate_call_s": summary(recreate_calls),
            "docker_start_call_s": summary(start_calls),
            "raw_sdk_recreate_s": summary(raw_recreate),
            "raw_sdk_kill_start_s": summary(raw_heal),
            "idle_seconds": args.idle,
            "idle_cpu_percent_of_core": round(cpu_pct, 3),
            "idle_rss_mb_max": round(rss_max, 1),
            "goals": {"edit_latency_s": 1.0, "heal_latency_s": 1.0,
                      "idle_cpu_percent_of_core": 1.0, "idle_rss_mb_max": 80.0},
            "host": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                     "loadavg_1m_at_end": os.getloadavg()[0]},
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        })
    finally:
        events.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        for c in client.containers.list(all=True, sparse=True,
                                        filters={"label": f"{LABEL_PROJECT}={project}"}):
            c.remove(force=True)
        for n in client.networks.list(filters={"label": f"{LABEL_PROJECT}={project}"}):
            n.remove()
        client.close()
        if args.keep_logs:
            print(f"service log: {tmp / 'watch.log'}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    rows = [
        ("save spec -> container running (median)", f"{result['edit_latency_s']['median']:.3f} s",
         "< 1 s"),
        ("docker kill -> running again (median)", f"{result['heal_latency_s']['median']:.3f} s",
         "< 1 s"),
        (f"idle CPU, {args.containers} containers, {args.idle:.0f} s",
         f"{result['idle_cpu_percent_of_core']:.2f} % of a core", "< 1 %"),
        ("idle RSS (max)", f"{result['idle_rss_mb_max']:.1f} MB", "< 80 MB"),
        (f"cold converge of {args.containers}", f"{result['cold_converge_s']:.2f} s", "-"),
        ("  service's recreate action (Docker calls, median)",
         f"{result['docker_recreate_call_s']['median']:.3f} s", "-"),
        ("  service's start action (Docker calls, median)",
         f"{result['docker_start_call_s']['median']:.3f} s", "-"),
        ("  raw SDK stop+rm+create+start (median)",
         f"{result['raw_sdk_recreate_s']['median']:.3f} s", "-"),
        ("  raw SDK kill + immediate start (median)",
         f"{result['raw_sdk_kill_start_s']['median']:.3f} s", "-"),
        ("  host load average (1 min) at the end",
         f"{result['host']['loadavg_1m_at_end']:.1f}", "-"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>22}  goal")
    for label, value, goal in rows:
        print(f"{label:<{width}}  {value:>22}  {goal}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
