"""Benchmark: dockwright on Docker vs docker-compose 1.29 vs raw SDK calls (issue 3).

Role: measures, in one run and on the same daemon, (a) a cold converge of N
containers, (b) a no-op diff of M containers, (c) recreating one changed
container of N, for three tools: ``dockwright apply|diff`` (the CLI, a whole
process), ``docker-compose -p X -f compose.yml up -d`` (Debian's 1.29) and the
lower bound ``bench/rawsdk.py`` (raw SDK calls, 16 threads, also a whole
process). (c) runs the three tools in interleaved rounds (rotated order) on
their three converged projects, so a drift of the daemon's speed hits all
alike. Reports seconds, ratios against compose and the number of Docker
API calls of each (counted by ``bench/apicount.py``, which wraps
``requests.Session.send`` inside each tool's process). Prints a table and
writes ``bench/results/docker-<UTC time>.json``. Cleans up everything it made.

Usage: ``.venv/bin/python bench/bench_docker.py [--quick] [--cold N]
[--noop M] [--repeat R]`` from the repository root. Neighbours:
``bench/apicount.py``, ``bench/rawsdk.py``, ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import docker

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PY = sys.executable
COMPOSE_PY = "/usr/bin/python3"  # Debian's docker-compose runs on the system Python
IMAGE = "dockwright-test/busybox:latest"
CMD = ["sh", "-c", "trap \"exit 0\" TERM; sleep 3600 & wait"]
CHANGED = 7  # the container changed in scenario (c)
COMPOSE_BATCH = 50  # compose 1.29 hangs on `up -d` with >= 130 new services: create in batches
TOOLS = ("dockwright", "compose", "raw")


@dataclass
class Measure:
    seconds: float
    calls: int
    by_call: dict[str, int] = field(default_factory=dict)
    exit_code: int = 0
    note: str = ""
    best: float | None = None  # fastest of the repeated runs, when repeated


# -- running the three tools -------------------------------------------------------------------


def timed(argv: list[str], *, count: bool, cwd: Path = ROOT) -> Measure:
    """Run a process, wall-clock it, and read its API call counts when ``count``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(BENCH)])
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        count_file = fh.name
    if count:
        env["DW_APICOUNT_FILE"] = count_file
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=900,
                          check=False)
    seconds = time.perf_counter() - start
    by_call: dict[str, int] = {}
    if count and os.path.getsize(count_file):
        with open(count_file) as fh:
            by_call = json.load(fh)
    os.unlink(count_file)
    note = "" if proc.returncode in (0, 2) else (proc.stdout + proc.stderr)[-2000:]
    return Measure(seconds, sum(by_call.values()), by_call, proc.returncode, note)


def dockwright(project: str, args: list[str], *, count: bool) -> Measure:
    if count:
        boot = ("import sys, apicount; "
                "apicount.run_module_counted('controller.cli', sys.argv[1:])")
        return timed([PY, "-c", boot, "--project", project, *args], count=True)
    return timed([PY, "-m", "controller.cli", "--project", project, *args], count=False)


def compose(project: str, file: Path, args: list[str], *, count: bool) -> Measure:
    argv = ["-p", project, "-f", str(file), *args]
    if count:
        boot = ("import sys, apicount; apicount.install(); from compose.cli.main import main; "
                "sys.argv = ['docker-compose'] + sys.argv[1:]; main()")
        return timed([COMPOSE_PY, "-c", boot, *argv], count=True)
    return timed(["/usr/bin/docker-compose", *argv], count=False)


def raw(mode: str, project: str, *args: str, count: bool) -> Measure:
    extra = ["--count"] if count else []
    return timed([PY, str(BENCH / "rawsdk.py"), mode, project, *args, *extra], count=count)


# -- the workloads, written the same way for each tool ----------------------------------------


def env_value(i: int, changed: int | None, version: int) -> str:
    """Container i's env; the ``changed`` one gets version ``version`` (same as rawsdk.py)."""
    return f"{i}-v{version}" if i == changed and version else str(i)


def write_specs(folder: Path, project: str, n: int, changed: int | None = None,
                version: int = 0) -> None:
    parts = [f'[project]\nname = "{project}"\n']
    for i in range(n):
        parts.append(
            f"[container.{project}-c{i}]\nimage = \"{IMAGE}\"\ncommand = {json.dumps(CMD)}\n"
            f"stop_timeout = \"1s\"\nenv = {{ IDX = \"{env_value(i, changed, version)}\" }}\n")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "containers.toml").write_text("\n".join(parts))


def write_compose(file: Path, n: int, changed: int | None = None, version: int = 0) -> None:
    lines = ["version: '2.4'", "services:"]
    for i in range(n):
        lines += [f"  c{i}:", f"    image: {IMAGE}", f"    command: {json.dumps(CMD)}",
                  "    stop_grace_period: 1s", "    environment:",
                  f"      IDX: '{env_value(i, changed, version)}'"]
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text("\n".join(lines) + "\n")


# -- observing and cleaning up with the SDK (not timed) -----------------------------------------


def owned(api: Any, project: str) -> list[dict[str, Any]]:
    rows = api.containers(all=True, filters={"name": project})
    return [r for r in rows if r["Names"][0].lstrip("/").startswith((f"{project}-", f"{project}_"))]


def running_envs(api: Any, project: str) -> dict[str, tuple[str, str]]:
    """Container name -> (id, IDX env) for running containers (inspects: not timed)."""
    out: dict[str, tuple[str, str]] = {}
    for row in owned(api, project):
        if row["State"] != "running":
            continue
        env = dict(e.split("=", 1) for e in api.inspect_container(row["Id"])["Config"]["Env"])
        out[row["Names"][0].lstrip("/")] = (row["Id"], env.get("IDX", ""))
    return out


def teardown(api: Any, project: str) -> None:
    rows = owned(api, project)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda r: api.remove_container(r["Id"], force=True), rows))
    for net in api.networks(names=[f"{project}_default"]):
        for attempt in range(6):
            try:
                api.remove_network(net["Id"])
                break
            except docker.errors.APIError as exc:
                if attempt == 5:  # the daemon's "active endpoints" trap (issue 3)
                    print(f"warning: network {net['Name']} left behind: {exc}", file=sys.stderr)
                time.sleep(0.5)


def check(condition: bool, message: str) -> None:
    if not condition:
        raise SystemExit(f"benchmark check failed: {message}")


# -- scenarios --------------------------------------------------------------------------------


def cold_only(api: Any, n: int, concurrency: int, work: Path, projects: list[str]) -> Measure:
    """(a) again for dockwright with ``--concurrency``: an extra row, for information."""
    project = f"dwb{uuid.uuid4().hex[:6]}j"
    projects.append(project)
    write_specs(work / project, project, n)
    cold = dockwright(project, ["apply", str(work / project), "--concurrency", str(concurrency)],
                      count=True)
    check(cold.exit_code == 0, f"dockwright -j{concurrency} cold converge failed: {cold.note}")
    check(len(running_envs(api, project)) == n, f"dockwright -j{concurrency}: not all running")
    teardown(api, project)
    return cold


@dataclass
class Setup:
    """One tool's project of n converged containers, for (c)."""

    tool: str
    project: str
    folder: Path
    before: dict[str, tuple[str, str]]  # name -> (id, IDX env) of the running containers


def cold(api: Any, tool: str, n: int, work: Path, projects: list[str]) -> tuple[Measure, Setup]:
    """(a) cold converge of n containers with ``tool`` (counted and timed)."""
    project = f"dwb{uuid.uuid4().hex[:6]}{tool[0]}"
    projects.append(project)
    folder = work / project
    if tool == "dockwright":
        write_specs(folder, project, n)
        measure = dockwright(project, ["apply", str(folder)], count=True)
    elif tool == "compose":
        write_compose(folder / "compose.yml", n)
        measure = compose(project, folder / "compose.yml", ["up", "-d"], count=True)
    else:
        measure = raw("cold", project, str(n), count=True)
    check(measure.exit_code == 0, f"{tool} cold converge failed: {measure.note}")
    before = running_envs(api, project)
    check(len(before) == n, f"{tool}: {len(before)} of {n} containers running after cold converge")
    return measure, Setup(tool, project, folder, before)


def recreate(api: Any, s: Setup, n: int, version: int, *, count: bool) -> Measure:
    """(c) change container ``CHANGED``'s env to ``version`` and converge with the tool."""
    changed = CHANGED % n
    if s.tool == "dockwright":
        write_specs(s.folder, s.project, n, changed, version)
        rec = dockwright(s.project, ["apply", str(s.folder)], count=count)
    elif s.tool == "compose":
        write_compose(s.folder / "compose.yml", n, changed, version)
        rec = compose(s.project, s.folder / "compose.yml", ["up", "-d", "-t", "0"], count=count)
    else:
        rec = raw("recreate", s.project, str(n), str(changed), str(version), count=count)
    check(rec.exit_code == 0, f"{s.tool} recreate failed: {rec.note}")
    after = running_envs(api, s.project)
    moved = {name for name in after if s.before.get(name, ("", ""))[0] != after[name][0]}
    check(len(after) == n and len(moved) == 1, f"{s.tool}: recreated {sorted(moved)} (want 1)")
    check(after[moved.pop()][1] == f"{changed}-v{version}", f"{s.tool}: env not changed")
    s.before = after
    return rec


def recreate_rounds(api: Any, setups: list[Setup], n: int, repeat: int) -> dict[str, Measure]:
    """(c) for every tool, interleaved: round 1 counts the API calls (and warms up), rounds
    2.. are timed as plain commands (the counting wrapper imports requests and adds an audit
    hook, which only the counted process pays). Each round runs the tools in a rotated
    order, so a drift of the daemon's speed during the run hits every tool alike."""
    runs: dict[str, list[Measure]] = {s.tool: [] for s in setups}
    for version in range(1, repeat + 2):
        shift = version % len(setups)
        for s in setups[shift:] + setups[:shift]:
            runs[s.tool].append(recreate(api, s, n, version, count=version == 1))
    return {tool: median_of(found[1:], counted=found[0]) for tool, found in runs.items()}


def median_of(runs: list[Measure], counted: Measure) -> Measure:
    """The median time of ``runs``; the API calls of the ``counted`` run (they are the same
    each time)."""
    times = sorted(r.seconds for r in runs)
    return Measure(statistics.median(times), counted.calls, counted.by_call, best=times[0],
                   note=f"median of {len(runs)}: " + ", ".join(f"{t:.3f}" for t in times))


def noop(api: Any, tool: str, m: int, repeat: int, work: Path, projects: list[str]) -> Measure:
    """(b) set up m containers (not timed), then time the no-op check ``repeat`` times."""
    project = f"dwb{uuid.uuid4().hex[:6]}{tool[0]}"
    projects.append(project)
    folder, cfile = work / project, work / project / "compose.yml"
    run: Callable[[bool], Measure]
    if tool == "dockwright":
        write_specs(folder, project, m)
        setup = dockwright(project, ["apply", str(folder), "--concurrency", "16"], count=False)
        run = lambda count: dockwright(project, ["diff", str(folder)], count=count)  # noqa: E731
    elif tool == "compose":
        write_compose(cfile, m)
        setup = Measure(0, 0)
        for start in range(0, m, COMPOSE_BATCH):
            names = [f"c{i}" for i in range(start, min(m, start + COMPOSE_BATCH))]
            setup = compose(project, cfile, ["up", "-d", *names], count=False)
            check(setup.exit_code == 0, f"compose setup failed: {setup.note}")
        run = lambda count: compose(project, cfile, ["up", "-d"], count=count)  # noqa: E731
    else:
        setup = raw("cold", project, str(m), count=False)
        run = lambda count: raw("diff", project, str(m), count=count)  # noqa: E731
    check(setup.exit_code == 0, f"{tool} setup of {m} failed: {setup.note}")
    ids = {r["Id"] for r in owned(api, project) if r["State"] == "running"}
    check(len(ids) == m, f"{tool}: {len(ids)} of {m} running after setup")
    counted = run(True)  # also a warm-up of the page cache
    times = [run(False) for _ in range(repeat)]
    for t in (counted, *times):
        check(t.exit_code == 0, f"{tool} no-op check did not exit 0: {t.note}")
    check({r["Id"] for r in owned(api, project)} == ids, f"{tool}: the no-op changed containers")
    teardown(api, project)
    return median_of(times, counted=counted)


# -- report -----------------------------------------------------------------------------------


GOALS = {  # scenario -> (dockwright / compose must be <= this, extra absolute limit in s)
    "cold": (0.9, None),
    "noop": (0.1, 0.5),
    "recreate": (0.5, None),
}


def report(results: dict[str, dict[str, Measure]], sizes: dict[str, int]) -> dict[str, Any]:
    titles = {"cold": f"(a) cold converge of {sizes['cold']}",
              "noop": f"(b) no-op diff of {sizes['noop']}",
              "recreate": f"(c) recreate 1 changed of {sizes['cold']}"}
    print(f"\n{'scenario':<30} {'tool':<15} {'seconds':>8} {'x compose':>9} {'API calls':>9}"
          f" {'best s':>7} {'best x':>7}")
    summary: dict[str, Any] = {}
    for scenario, by_tool in results.items():
        base = by_tool["compose"].seconds
        best_base = by_tool["compose"].best or base
        for tool in by_tool:
            m = by_tool[tool]
            best = (f" {m.best:7.3f} {m.best / best_base:7.2f}" if m.best is not None else "")
            print(f"{titles[scenario]:<30} {tool:<15} {m.seconds:8.3f} {m.seconds / base:9.2f} "
                  f"{m.calls:9d}{best}")
        limit, absolute = GOALS[scenario]
        ratio = by_tool["dockwright"].seconds / base
        met = ratio <= limit and (absolute is None or by_tool["dockwright"].seconds < absolute)
        goal = f"dockwright <= {limit}x compose" + (f" and < {absolute}s" if absolute else "")
        print(f"  goal: {goal}: {'MET' if met else 'NOT MET'} ({ratio:.2f}x)")
        summary[scenario] = {"title": titles[scenario], "goal": goal, "met": met,
                             "dockwright_vs_compose": round(ratio, 3),
                             "dockwright_vs_compose_best": round(
                                 (by_tool["dockwright"].best or by_tool["dockwright"].seconds)
                                 / best_base, 3),
                             "raw_vs_compose": round(by_tool["raw"].seconds / base, 3),
                             "dockwright_vs_raw": round(by_tool["dockwright"].seconds
                                                        / by_tool["raw"].seconds, 3),
                             "tools": {t: asdict(m) for t, m in by_tool.items()}}
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small sizes (10 / 20) for a smoke run")
    parser.add_argument("--cold", type=int, default=50, help="containers for (a) and (c)")
    parser.add_argument("--noop", type=int, default=200, help="containers for (b)")
    parser.add_argument("--repeat", type=int, default=5,
                        help="timed runs of the no-op check and of the recreate")
    parser.add_argument("--concurrency", type=int, default=16,
                        help="also measure (a) with `apply --concurrency N` (0: skip)")
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    args = parser.parse_args(argv)
    sizes = {"cold": 10, "noop": 20} if args.quick else {"cold": args.cold, "noop": args.noop}
    # Measure dockwright as installed: with byte-compiled modules, as `pip install` leaves
    # them (an editable checkout run with PYTHONDONTWRITEBYTECODE=1 would recompile each run).
    compileall.compile_dir(str(ROOT / "controller"), quiet=1)
    compileall.compile_dir(str(ROOT / "specs"), quiet=1)
    compileall.compile_dir(str(ROOT / "runtime"), quiet=1)
    client = docker.from_env(timeout=300)
    api = client.api
    client.images.get(IMAGE)  # built by tests/images.py: busybox_image()
    projects: list[str] = []
    results: dict[str, dict[str, Measure]] = {"cold": {}, "noop": {}, "recreate": {}}
    started = time.time()
    load_before = list(os.getloadavg())
    try:
        with tempfile.TemporaryDirectory(prefix="dwbench-") as tmp:
            setups: list[Setup] = []
            for tool in TOOLS:
                print(f"(a) {tool} ...", flush=True)
                results["cold"][tool], setup = cold(api, tool, sizes["cold"], Path(tmp),
                                                    projects)
                setups.append(setup)
            print("(c) all tools, interleaved ...", flush=True)
            results["recreate"] = recreate_rounds(api, setups, sizes["cold"], args.repeat)
            for setup in setups:
                teardown(api, setup.project)
            if args.concurrency:
                print(f"(a) dockwright -j{args.concurrency} ...", flush=True)
                results["cold"][f"dockwright -j{args.concurrency}"] = cold_only(
                    api, sizes["cold"], args.concurrency, Path(tmp), projects)
            for tool in TOOLS:
                print(f"(b) {tool} ...", flush=True)
                results["noop"][tool] = noop(api, tool, sizes["noop"], args.repeat, Path(tmp),
                                             projects)
    finally:
        for project in projects:
            try:
                teardown(api, project)
            except Exception as exc:  # keep the original error visible
                print(f"warning: cleanup of {project} failed: {exc}; remove its containers "
                      f"with: docker ps -aq --filter name={project} | xargs docker rm -f",
                      file=sys.stderr)
    summary = report(results, sizes)
    record = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "duration_s": round(time.time() - started, 1), "quick": args.quick, "sizes": sizes,
        "load_average_before_after": [load_before, list(os.getloadavg())],
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "docker": client.version().get("Version"), "kernel": platform.release()},
        "api_calls_counted_by": "requests.Session.send wrapper in each tool's process "
                                "(bench/apicount.py)",
        "scenarios": summary,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"docker-{'quick-' if args.quick else ''}{record['when'].replace(':', '')}.json"
    (args.out / name).write_text(json.dumps(record, indent=1) + "\n")
    print(f"load average before {load_before[0]:.1f}, after {os.getloadavg()[0]:.1f} "
          f"(on {os.cpu_count()} CPUs)")
    print(f"\nwrote {args.out / name}")
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
