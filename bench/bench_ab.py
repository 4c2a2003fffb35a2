"""Benchmark: two checkouts of dockwright side by side (before and after a change), one run.

Role: tell whether a change slows what users wait for, on a busy machine: the
runs of the two trees alternate (each goes first in every other round), so both
see the same load. Measured: the
in-process ``specs.loader.load_dir`` of ``bench_load``'s 1,000 containers
(caches off, CPU time) and ``dockwright validate`` as a process, and the
no-op ``dockwright diff`` of ``bench_docker``'s workload (``--noop`` live
containers, created once by the ``after`` tree, caches as a user has them;
``--no-cache`` turns them off). Each tree's code is run from its own folder
(``PYTHONPATH``) with this interpreter; a tree that is not a checkout of
dockwright is refused. Prints a table of medians.
Usage: ``python bench/bench_ab.py --before DIR [--after DIR] [--noop 50] [--runs 7]``
(``git worktree add --detach /tmp/before COMMIT`` makes a before tree).
Neighbours: ``bench_load.write_specs``, ``bench_docker.write_specs``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import bench_docker  # noqa: E402
import bench_load  # noqa: E402

LOAD = """
import os, sys, time
from pathlib import Path
from specs.loader import load_dir
root = Path(sys.argv[1])
load_dir(root, environ={})
times = []
for _ in range(int(sys.argv[2])):
    t = time.process_time()
    assert load_dir(root, environ={}).ok
    times.append(time.process_time() - t)
print(sorted(times)[len(times) // 2])
"""


def run(tree: Path, argv: list[str], env: dict[str, str] | None = None
        ) -> tuple[subprocess.CompletedProcess[str], float, float]:
    """``argv`` with ``tree``'s code: the result, wall and CPU seconds (the process's)."""
    full = {**os.environ, "PYTHONPATH": str(tree), **(env or {})}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, *argv], cwd=tree, env=full, capture_output=True,
                          text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return proc, wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def ok(proc: subprocess.CompletedProcess[str], what: str) -> None:
    if proc.returncode != 0:
        raise SystemExit(f"{what} failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, default=BENCH.parent)
    parser.add_argument("--noop", type=int, default=50, help="live containers of the diff")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-cache", action="store_true", help="DOCKWRIGHT_NO_CACHE=1")
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    for tree in trees.values():
        if not (tree / "controller" / "cli.py").is_file():
            raise SystemExit(f"{tree} is not a checkout of dockwright")
    rows: dict[str, dict[str, list[float]]] = {}

    def note(what: str, tree: str, value: float) -> None:
        rows.setdefault(what, {}).setdefault(tree, []).append(value)

    def turn(i: int) -> list[tuple[str, Path]]:
        """Both trees, the first one first in even rounds only (neither always goes first)."""
        order = list(trees.items())
        return order[::-1] if i % 2 else order

    cli = ["-m", "controller.cli"]
    nocache = {"DOCKWRIGHT_NO_CACHE": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        specs = Path(tmp) / "load"
        specs.mkdir()
        bench_load.write_specs(specs, 100, 10)
        for i in range(2):
            for name, tree in turn(i):
                proc, _, _ = run(tree, ["-c", LOAD, str(specs), str(args.runs)], nocache)
                ok(proc, f"load_dir ({name})")
                note("load_dir, 1000 containers, cpu (no caches)", name, float(proc.stdout))
        for i in range(args.runs):
            for name, tree in turn(i):
                proc, wall, cpu = run(tree, [*cli, "validate", str(specs)])
                ok(proc, f"validate ({name})")
                note("validate, 1000 containers, wall", name, wall)
                note("validate, 1000 containers, cpu", name, cpu)
        folder = Path(tmp) / "noop"
        folder.mkdir()
        project = f"dwt-ab{os.getpid()}"
        bench_docker.write_specs(folder, project, args.noop)
        env = nocache if args.no_cache else {}
        base = [*cli, "--project", project]
        try:
            ok(run(trees["after"], [*base, "apply", "--concurrency", "8", str(folder)])[0],
               "apply")
            for name, tree in trees.items():
                ok(run(tree, [*base, "diff", str(folder)], env)[0], f"diff ({name})")
            for i in range(args.runs):
                for name, tree in turn(i):
                    proc, wall, cpu = run(tree, [*base, "diff", str(folder)], env)
                    ok(proc, f"diff ({name})")
                    note(f"no-op diff, {args.noop} containers, wall", name, wall)
                    note(f"no-op diff, {args.noop} containers, cpu", name, cpu)
        finally:
            run(trees["after"], [*base, "down", str(folder)])
    print(f"{'measurement (median, s)':<48} {'before':>8} {'after':>8} {'after/before':>13}")
    for what, by_tree in rows.items():
        b, a = statistics.median(by_tree["before"]), statistics.median(by_tree["after"])
        print(f"{what:<48} {b:>8.3f} {a:>8.3f} {a / b:>13.2f}")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
