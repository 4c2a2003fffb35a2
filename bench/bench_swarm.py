"""Benchmark: dockwright on a three-node Swarm vs ``docker stack deploy`` of the same application.

Role: on the test cluster of ``tests/swarm/cluster.py`` (three dockerds in their own
network namespaces, started here and torn down at the end), deploys the same
application twice side by side — N services (default 20) of one busybox task each,
env ``IDX=i``, ``dnsrr``, stop grace 1 s, on one overlay network — once as a
dockwright spec directory (``dockwright --runtime swarm apply``) and once as a
compose file (``docker stack deploy --resolve-image never``: the images are on the
nodes, and asking a registry would only slow stack deploy down). Measured in the same
run, the tools' rounds interleaved, whole processes wall-clocked from here:
(a) cold deploy until every task runs (medians of ``--cold`` rounds, everything
removed between rounds); (b) a no-op run: its time, and the services whose version
index changed (an update was sent); (c) one of the N services changed (its env):
services whose version changed, and the time until it is converged (its one task
running the new spec, the old one gone, Swarm's update state ``completed``: that
includes Swarm's monitor period, 5 s by default, the same for both tools); the time
until the new task runs is recorded too. Beside the CLI's no-op, (b) also times in this
process the no-op pass ``watch --runtime swarm`` runs (``swarmpass.reconcile`` on a
driver kept open: no process start, no imports) and a raw lower bound: the Engine
API calls such a pass needs, made directly on one connection. Readiness is polled
through the manager's API every 50 ms. Prints a table; writes
``bench/results/swarm-<UTC time>.json``. Run as root from the repository root:
``.venv/bin/python bench/bench_swarm.py``.
Neighbours: ``tests/swarm/cluster.py``, ``bench/README.md`` (method), the README.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.images import BUSYBOX, busybox_image  # noqa: E402
from tests.swarm.cluster import SwarmCluster  # noqa: E402

STACK, PROJECT = "st", "bdw"
LOOP = "trap 'exit 0' TERM; while :; do sleep 1; done"
CHANGED = 7  # the service changed in (c) (the last one with fewer services)


def compose_file(n: int, changed: str) -> str:
    which = min(CHANGED, n - 1)
    out = ['version: "3.8"', "services:"]
    for i in range(n):
        idx = changed if i == which else str(i)
        out += [f"  s{i:02d}:", f"    image: {BUSYBOX}",
                f"    command: {json.dumps(['sh', '-c', LOOP])}",
                f'    environment: {{ IDX: "{idx}" }}', "    stop_grace_period: 1s",
                "    networks: [net]",
                "    deploy: { replicas: 1, endpoint_mode: dnsrr }"]
    out += ["networks:", "  net: { driver: overlay }"]
    return "\n".join(out) + "\n"


def spec_file(n: int, changed: str) -> str:
    which = min(CHANGED, n - 1)
    out = [f'[project]\nname = "{PROJECT}"\nruntime = "swarm"\n', f"[network.{PROJECT}-net]\n"]
    for i in range(n):
        idx = changed if i == which else str(i)
        out += [f"[container.{PROJECT}-s{i:02d}]", f'image = "{BUSYBOX}"',
                f"command = {json.dumps(['sh', '-c', LOOP])}", f'env = {{ IDX = "{idx}" }}',
                'stop_timeout = "1s"', f'networks = ["{PROJECT}-net"]',
                'endpoint_mode = "dnsrr"', ""]
    return "\n".join(out)


class Bench:
    def __init__(self, cluster: SwarmCluster, n: int, work: Path) -> None:
        self.cluster, self.n, self.work = cluster, n, work
        self.client = cluster.client(timeout=120)
        self.env = {**os.environ, **cluster.env(), "DOCKWRIGHT_STATE_DIR": str(work / "state")}
        self.env.pop("DOCKWRIGHT_RUNTIME", None)
        (work / "specs").mkdir(parents=True)
        self.write("0")

    def write(self, changed: str) -> None:
        (self.work / "compose.yml").write_text(compose_file(self.n, changed))
        (self.work / "specs" / "app.toml").write_text(spec_file(self.n, changed))

    # the two tools, as whole processes ------------------------------------------------
    def argv(self, tool: str) -> list[str]:
        if tool == "stack":
            return ["docker", "stack", "deploy", "-c", str(self.work / "compose.yml"),
                    "--resolve-image", "never", "--quiet", STACK]
        return [str(ROOT / ".venv/bin/dockwright"), "--project", PROJECT, "--runtime",
                "swarm", "apply", str(self.work / "specs")]

    def run(self, tool: str, watch: Callable[[], bool] | None = None,
            ) -> tuple[float, float | None]:
        """Run the tool; meanwhile and after, poll ``watch`` (every 50 ms) until true.
        Returns (the process's time, the time ``watch`` first held), from the start."""
        argv = self.argv(tool)
        start = time.perf_counter()
        with tempfile.TemporaryFile() as out:
            proc = subprocess.Popen(argv, env=self.env, stdout=out, stderr=out)
            exited: float | None = None
            held: float | None = None
            while exited is None or (watch is not None and held is None):
                if exited is None and proc.poll() is not None:
                    exited = time.perf_counter() - start
                    if proc.returncode != 0:
                        out.seek(0)
                        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}:\n"
                                           f"{out.read().decode(errors='replace')}")
                if watch is not None and held is None and watch():
                    held = time.perf_counter() - start
                if time.perf_counter() - start > 300:
                    proc.kill()
                    raise TimeoutError(f"{tool}: not converged after 300 s")
                time.sleep(0.05 if watch is not None else 0.005)
        return exited, held

    def remove(self, tool: str) -> None:
        if tool == "stack":
            argv = ["docker", "stack", "rm", STACK]
        else:
            argv = [str(ROOT / ".venv/bin/dockwright"), "--project", PROJECT, "--runtime",
                    "swarm", "down", str(self.work / "specs")]
        proc = subprocess.run(argv, env=self.env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout}"
                               f"{proc.stderr}")
        net = f"{STACK}_net" if tool == "stack" else f"{PROJECT}-net"
        self.until(lambda: not self.services(tool) and not self.tasks(tool)
                   and not self.client.api.networks(names=[net]), 120)

    # what the cluster says ------------------------------------------------------------
    def services(self, tool: str) -> dict[str, dict[str, Any]]:
        prefix = f"{STACK}_" if tool == "stack" else f"{PROJECT}-s"
        return {s["Spec"]["Name"]: s for s in self.client.api.services()
                if s["Spec"]["Name"].startswith(prefix)}

    def versions(self, tool: str) -> dict[str, int]:
        return {k: int(v["Version"]["Index"]) for k, v in self.services(tool).items()}

    def tasks(self, tool: str) -> list[dict[str, Any]]:
        ids = {s["ID"] for s in self.services(tool).values()}
        return [t for t in self.client.api.tasks() if t["ServiceID"] in ids
                and t["Status"]["State"] not in ("shutdown", "complete", "failed", "rejected")]

    def all_running(self, tool: str) -> bool:
        services = self.services(tool)
        if len(services) != self.n:
            return False
        running = {t["ServiceID"] for t in self.tasks(tool) if t["DesiredState"] == "running"
                   and t["Status"]["State"] == "running"}
        return len(running) == self.n

    def changed_state(self, tool: str, idx: str) -> tuple[bool, bool]:
        """(the changed service's new task runs, and it is converged)."""
        which = min(CHANGED, self.n - 1)
        name = f"{STACK}_s{which:02d}" if tool == "stack" else f"{PROJECT}-s{which:02d}"
        service = self.services(tool)[name]
        tasks = [t for t in self.tasks(tool) if t["ServiceID"] == service["ID"]]
        new = [t for t in tasks if f"IDX={idx}" in (t["Spec"]["ContainerSpec"].get("Env") or [])
               and t["Status"]["State"] == "running"]
        others = [t for t in tasks if t not in new]
        done = (service.get("UpdateStatus") or {}).get("State") == "completed"
        return bool(new), bool(new) and not others and done

    @staticmethod
    def until(pred: Callable[[], bool], timeout: float = 300) -> None:
        start = time.perf_counter()
        while not pred():
            if time.perf_counter() - start > timeout:
                raise TimeoutError(f"not converged after {timeout}s")
            time.sleep(0.05)


def measure(bench: Bench, cold_rounds: int, rounds: int) -> dict[str, Any]:
    tools = ("stack", "dockwright")
    out: dict[str, Any] = {t: {"cold": [], "noop": [], "noop_bumped": [], "change": [],
                               "change_running": [], "change_bumped": [], "change_cmd": []}
                           for t in tools}
    for r in range(cold_rounds):  # (a)
        for tool in tools if r % 2 == 0 else tools[::-1]:
            _, ready = bench.run(tool, lambda t=tool: bench.all_running(t))
            out[tool]["cold"].append(ready)
            if r < cold_rounds - 1:
                bench.remove(tool)
    for r in range(rounds):  # (b)
        for tool in tools if r % 2 == 0 else tools[::-1]:
            before = bench.versions(tool)
            out[tool]["noop"].append(bench.run(tool)[0])
            after = bench.versions(tool)
            out[tool]["noop_bumped"].append(sum(after[k] != v for k, v in before.items()))
    for r in range(rounds):  # (c)
        idx = f"changed-{r}"
        bench.write(idx)
        for tool in tools if r % 2 == 0 else tools[::-1]:
            before = bench.versions(tool)
            seen: list[float] = []
            start = time.perf_counter()

            def converged(t: str = tool, idx: str = idx, seen: list[float] = seen,
                          start: float = start) -> bool:
                running, done = bench.changed_state(t, idx)
                if running and not seen:
                    seen.append(time.perf_counter() - start)
                return done

            took, done = bench.run(tool, converged)
            out[tool]["change_cmd"].append(took)
            out[tool]["change"].append(done)
            out[tool]["change_running"].append(seen[0])
            after = bench.versions(tool)
            out[tool]["change_bumped"].append(sum(after[k] != v for k, v in before.items()))
    return out


def in_process(bench: Bench, passes: int) -> dict[str, Any]:
    """(b) without process start-up: watch's no-op pass, and the API calls it makes."""
    os.environ["DOCKWRIGHT_STATE_DIR"] = bench.env["DOCKWRIGHT_STATE_DIR"]
    from controller.execution.swarmpass import reconcile
    from runtime.docker.sdk import transport_for
    from runtime.swarm.driver import SwarmDriver

    driver, raw = SwarmDriver(bench.cluster.url), transport_for(bench.cluster.url, 60)
    label = json.dumps({"label": [f"io.dockwright.project={PROJECT}"]})
    # what a watch pass asks (the manager is pinged at most every 30 s; a plan lists no
    # nodes): its lower bound
    calls = [("/networks", None), ("/services", {"status": "true"}),
             ("/secrets", {"filters": label}), ("/configs", {"filters": label})]
    out: dict[str, Any] = {"watch_pass": [], "raw_calls": [], "watch_bumped": 0}
    before = bench.versions("dockwright")
    try:
        for i in range(passes + 1):  # the first of each warms up (connection, snapshot)
            start = time.perf_counter()
            result = reconcile(bench.work / "specs", driver, project=PROJECT)
            took = time.perf_counter() - start
            assert not result.plan.has_changes, "the in-process pass found changes"
            start = time.perf_counter()
            for path, params in calls:
                raw.request("GET", path, params=params)
            if i:
                out["watch_pass"].append(took)
                out["raw_calls"].append(time.perf_counter() - start)
    finally:
        driver.close()
        raw.close()
    after = bench.versions("dockwright")
    out["watch_bumped"] = sum(after[k] != v for k, v in before.items())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--services", type=int, default=20)
    ap.add_argument("--cold", type=int, default=3, help="cold deploys per tool (median)")
    ap.add_argument("--repeat", type=int, default=5, help="rounds of (b) and (c) (median)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args()
    for package in ("controller", "specs", "runtime", "dwutil"):  # as an install has them
        compileall.compile_dir(str(ROOT / package), quiet=1)  # (PYTHONDONTWRITEBYTECODE)
    load_before = list(os.getloadavg())
    cluster = SwarmCluster(size=3, images=[busybox_image()])
    cluster.start()
    try:
        with tempfile.TemporaryDirectory(prefix="dw-bench-swarm-") as tmp:
            bench = Bench(cluster, args.services, Path(tmp))
            version = bench.client.version().get("Version")
            try:
                raw = measure(bench, args.cold, args.repeat)
                steady = in_process(bench, 20)
            finally:
                for tool in ("stack", "dockwright"):
                    with contextlib.suppress(Exception):
                        bench.remove(tool)
                bench.client.close()
    finally:
        cluster.teardown()
    med = {t: {k: statistics.median(v) for k, v in m.items()} for t, m in raw.items()}
    result = {"services": args.services, "cold_rounds": args.cold, "rounds": args.repeat,
              "raw": raw, "median": med, "in_process": steady,
              "in_process_median": {k: statistics.median(steady[k])
                                    for k in ("watch_pass", "raw_calls")},
              "load_average_before_after": [load_before, list(os.getloadavg())],
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "docker": version, "kernel": platform.release(), "nodes": 3}}
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%dT%H%M%SZ", time.gmtime())
    path = args.out / f"swarm-{stamp}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    s, d = med["stack"], med["dockwright"]
    rows = [("(a) cold deploy -> all running", s["cold"], d["cold"], "", ""),
            ("(b) no-op run", s["noop"], d["noop"], s["noop_bumped"], d["noop_bumped"]),
            ("(c) 1 changed: new task running", s["change_running"], d["change_running"],
             "", ""),
            ("(c) 1 changed: converged", s["change"], d["change"], s["change_bumped"],
             d["change_bumped"]),
            ("(c) 1 changed: the command itself", s["change_cmd"], d["change_cmd"], "", "")]
    print(f"{'scenario':36} {'stack s':>8} {'dw s':>8} {'dw/stack':>9} {'bumped st/dw':>13}")
    for label, st, dw, bs, bd in rows:
        bumped = f"{bs:g}/{bd:g}" if bs != "" else ""
        print(f"{label:36} {st:8.2f} {dw:8.2f} {dw / st:9.2f} {bumped:>13}")
    w, c = (statistics.median(steady[k]) for k in ("watch_pass", "raw_calls"))
    print(f"(b) no-op in process: watch pass {w * 1000:.1f} ms ({steady['watch_bumped']} "
          f"bumped), its API calls made directly {c * 1000:.1f} ms ({w / c:.1f}x); "
          f"CLI no-op/stack {d['noop'] / s['noop']:.2f}, watch pass/stack "
          f"{w / s['noop']:.3f}")
    print(f"load average before {load_before[0]:.1f}, after {os.getloadavg()[0]:.1f}; {path}")


if __name__ == "__main__":
    main()
