"""Benchmark: ``dockwright import`` of a 50-service compose file.

Role: measure what a user waits for when moving from compose: the whole
``dockwright import`` process (interpreter start, ruamel.yaml parse,
interpolation, extends, conversion, writing 51 TOML files, validating them with
the real loader), median of N runs, as wall time and as CPU time (user + system
of the child: less sensitive to other work on a busy machine); and the
in-process ``controller.compose.importer.run`` (median of N); in the same
run, the reference: ``docker-compose config -q`` (1.29) reading the same file.
Target: the process under 0.5 s. The file uses what real ones do: anchors and merge keys,
``x-`` fields, ``extends``, interpolation with defaults, named volumes, two
networks with aliases, depends_on conditions, healthchecks, ports, env lists,
labels, logging, ulimits.
Prints a table and writes ``bench/results/import.json``.
Usage: ``python bench/bench_import.py [--services 50] [--runs 7]``.
Neighbours: ``controller.compose`` (measured), ``controller.cli`` (the process).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def compose_file(services: int) -> str:
    out = ["x-common: &common",
           "  restart: unless-stopped",
           "  logging: {driver: json-file, options: {max-size: 10m}}",
           "  ulimits: {nofile: {soft: 1024, hard: 4096}}",
           "services:",
           "  base:",
           "    image: registry.example.com/team/base:${TAG:-1.0}",
           "    environment: [LANG=C.UTF-8]",
           "    labels: {team: core}"]
    for i in range(services - 1):
        dep = f"    depends_on: {{svc{i - 1}: {{condition: service_healthy}}}}\n" if i else ""
        extends = "    extends: base\n" if i % 5 == 0 else \
            f"    image: registry.example.com/team/app{i}:${{TAG:-1.0}}\n"
        out.append(
            f"  svc{i}:\n    <<: *common\n{extends}"
            f"    command: [\"sh\", \"-c\", \"echo svc{i}; sleep 3600\"]\n"
            f"    environment:\n      - NAME=svc{i}\n      - LEVEL=${{LEVEL:-info}}\n"
            f"    ports: [\"127.0.0.1:{20000 + i}:80\"]\n"
            f"    volumes: [\"data{i % 10}:/data/{i}\", \"./conf/svc{i}:/etc/app:ro\"]\n"
            f"    networks:\n      front: {{aliases: [svc{i}.front]}}\n      back:\n"
            f"{dep}"
            f"    healthcheck: {{test: [\"CMD\", \"true\"], interval: 5s, timeout: 1s}}\n"
            f"    labels: {{tier: app, index: \"{i}\"}}\n"
            f"    mem_limit: 256m\n    cpus: 0.5\n    x-owner: team{i % 3}")
    out.append("volumes:")
    out += [f"  data{i}:" for i in range(10)]
    out += ["networks:", "  front:", "  back:"]
    return "\n".join(out) + "\n"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=50)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    from controller.compose.importer import Options, run

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "docker-compose.yml").write_text(compose_file(args.services))
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        walls, cpus, inproc = [], [], []
        for i in range(args.runs):
            out = folder / f"out{i}"
            cpu0, t0 = _children_cpu(), time.perf_counter()
            subprocess.run([sys.executable, "-m", "controller.cli", "import", "--out", str(out)],
                           cwd=folder, env=env, check=True, capture_output=True)
            walls.append(time.perf_counter() - t0)
            cpus.append(_children_cpu() - cpu0)
            shutil.rmtree(out)
        compose = []  # the reference: docker-compose 1.29 reading the same file (`config -q`)
        for _ in range(args.runs if shutil.which("docker-compose") else 0):
            t0 = time.perf_counter()
            subprocess.run(["docker-compose", "config", "-q"], cwd=folder, check=True,
                           capture_output=True)
            compose.append(time.perf_counter() - t0)
        for i in range(args.runs):
            t0 = time.perf_counter()
            result = run(Options(cwd=folder, out=folder / f"in{i}"), environ={})
            inproc.append(time.perf_counter() - t0)
        written = len(result.written)
    table = {"services": args.services, "files_written": written, "runs": args.runs,
             "process_wall_s": round(statistics.median(walls), 3),
             "process_cpu_s": round(statistics.median(cpus), 3),
             "in_process_s": round(statistics.median(inproc), 3), "target_s": 0.5,
             "compose_config_s": round(statistics.median(compose), 3) if compose else None,
             "load_average": round(os.getloadavg()[0], 1)}
    for key, value in table.items():
        print(f"{key:<16} {value}")
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "import.json").write_text(json.dumps(table, indent=2) + "\n")


if __name__ == "__main__":
    main()
