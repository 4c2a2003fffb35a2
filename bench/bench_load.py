"""Benchmark: load and validate 1,000 containers in 100 spec files.

Role: measure what a user waits for: ``dockwright validate DIR`` as a whole
process (interpreter start included; median of 5 runs) and the in-process
``specs.loader.load_dir`` time (median of 5), each as wall time and as CPU time
(user + system: less sensitive to other work on a busy machine). Target: the
process under 1 s.
Prints a table and writes ``bench/results/load.json``.
Usage: ``python bench/bench_load.py [--files 100] [--per-file 10] [--runs 5]``.
Neighbours: ``specs.loader`` (measured), ``controller.cli`` (the process).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def write_specs(root: Path, files: int, per_file: int) -> int:
    """A realistic spec directory: short syntaxes, references, healthchecks."""
    (root / "secrets").mkdir()
    (root / "secrets" / "pw").write_text("s3cret\n")
    (root / "volumes.toml").write_text(
        "".join(f"[volume.data-{f}]\n" for f in range(files)) + "[network.backend]\n")
    port = 20000
    for f in range(files):
        parts = []
        for c in range(per_file):
            name = f"svc-{f}-{c}"
            links = f'links = ["svc-{f}-{c - 1}:prev"]\n' if c else ""
            parts.append(
                f"[container.{name}]\n"
                f'image = "registry.example.com:5000/team/app-{c}:1.{f}"\n'
                f'command = "sh -c \'echo {name}; sleep 3600\'"\n'
                f'env = {{ NAME = "{name}", LEVEL = "${{LEVEL:-info}}", '
                f'PW = {{ file = "secrets/pw" }} }}\n'
                f'ports = ["127.0.0.1:{port}:80", {{ host = {port + 1}, container = 443 }}]\n'
                f'volumes = ["data-{f}:/data/{c}", "/srv/{name}:/srv:ro"]\n'
                f"{links}"
                f'networks = ["backend"]\n'
                f'restart = "on-failure:3"\n'
                f'healthcheck = {{ test = ["CMD", "true"], interval = "5s", timeout = "1s" }}\n'
                f'resources = {{ memory = "256m", cpus = 0.5, pids = 100 }}\n'
                f'labels = {{ team = "t{f}", tier = "app" }}\n\n')
            port += 2
        (root / f"svc-{f:03d}.toml").write_text("".join(parts))
    return files * per_file


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _median_process(spec_dir: Path, runs: int) -> tuple[float, list[float], float]:
    """Median wall time, every wall time, and median CPU time (user + system)."""
    times, cpu = [], []
    cmd = [sys.executable, "-m", "controller.cli", "validate", str(spec_dir)]
    for _ in range(runs):
        start, cpu_start = time.perf_counter(), _children_cpu()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        cpu.append(_children_cpu() - cpu_start)
        if proc.returncode != 0:
            raise SystemExit(f"validate failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return statistics.median(times), times, statistics.median(cpu)


def _median_in_process(spec_dir: Path, runs: int) -> tuple[float, float, int]:
    sys.path.insert(0, str(ROOT))
    from specs.loader import load_dir

    times, cpu, count = [], [], 0
    for _ in range(runs):
        start, cpu_start = time.perf_counter(), time.process_time()
        result = load_dir(spec_dir, environ={})
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu_start)
        count = len(result.resources("container"))
        if not result.ok:
            raise SystemExit("\n".join(e.format() for e in result.all_errors()[:10]))
    return statistics.median(times), statistics.median(cpu), count


def _runtime_checks(spec_dir: Path, runs: int) -> dict[str, float]:
    """CPU seconds (best of ``runs``) of the per-runtime key check (``specs.runtimes``)
    over the loaded containers, per runtime: what ``--runtime R`` adds to a load."""
    from specs import runtimes
    from specs.loader import load_dir

    resources = [r for f in load_dir(spec_dir, environ={}).files for r in f.resources]
    out = {}
    for runtime in runtimes.RUNTIMES:
        best = float("inf")
        for _ in range(runs):
            start = time.process_time()
            runtimes.check(resources, runtime, lambda _f, _p: None, registry="registry:5000")
            best = min(best, time.process_time() - start)
        out[runtime] = best
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--per-file", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "load.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dw-bench-") as tmp:
        spec_dir = Path(tmp)
        total = write_specs(spec_dir, args.files, args.per_file)
        baseline, _ = _median_process_cmd([sys.executable, "-c", "pass"], args.runs)
        process, process_runs, process_cpu = _median_process(spec_dir, args.runs)
        in_process, in_process_cpu, count = _median_in_process(spec_dir, args.runs)
        checks = _runtime_checks(spec_dir, max(args.runs, 10))
    assert count == total, (count, total)
    rows: list[tuple[str, float | None, float | None]] = [
        ("python -c pass (interpreter start)", baseline, None),
        (f"dockwright validate, {total} containers / {args.files} files (process)", process,
         process_cpu),
        ("load_dir in process", in_process, in_process_cpu),
        *((f"  + key check for --runtime {name} (best)", None, cpu)
          for name, cpu in checks.items()),
    ]
    width = max(len(label) for label, _, _ in rows)
    print(f"{'measurement':<{width}}  wall median (s)  cpu median (s)")
    for label, wall, cpu in rows:
        shown = "" if wall is None else f"{wall:15.3f}"
        print(f"{label:<{width}}  {shown:>15}  {'' if cpu is None else f'{cpu:14.3f}'}")
    verdict = "OK" if process < 1.0 else "OVER"
    load = os.getloadavg()[0]
    print(f"target: process < 1.000 s -> {verdict} (load average {load:.1f} on "
          f"{os.cpu_count()} cpus: other work on the machine slows every figure)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "containers": total, "files": args.files, "runs": args.runs,
        "interpreter_start_s": round(baseline, 4),
        "validate_process_median_s": round(process, 4),
        "validate_process_runs_s": [round(t, 4) for t in process_runs],
        "validate_process_cpu_median_s": round(process_cpu, 4),
        "load_dir_in_process_median_s": round(in_process, 4),
        "load_dir_in_process_cpu_median_s": round(in_process_cpu, 4),
        "runtime_key_check_cpu_best_s": {k: round(v, 4) for k, v in checks.items()},
        "target_s": 1.0, "python": sys.version.split()[0], "cpus": os.cpu_count(),
        "load_average_1m": round(load, 2),
    }, indent=2) + "\n")
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


def _median_process_cmd(cmd: list[str], runs: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


if __name__ == "__main__":
    sys.exit(main())
