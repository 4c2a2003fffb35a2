"""Benchmark of the journal: its write cost, and a no-op pass with it on and off.

Measures, in one run:
- write cost (no Docker): ``Journal.record`` of a no-op pass (no entry) and of a
  pass with 5 actions, on a journal in a temp folder, median and p95 of 2000 each,
  and the first record of a process (creating the journal; opening an existing one);
- a no-op ``watch`` pass of N converged containers (default 200) on the real
  daemon: two real ``WatchService``s of the project in this process, one with the
  service's journal and one without (as ``watch --no-journal``), each asked for a
  resync pass in interleaved rounds, timed from the request to the end of the
  worker's pass (the journal's record included), medians and the paired difference;
- a no-op ``dockwright apply`` of the same N as a whole process, with the
  journal and with ``--no-journal``, interleaved, medians.
Prints a table and writes ``bench/results/journal.json``; removes what it created.

Run: ``.venv/bin/python bench/bench_journal.py`` (``--containers 20 --rounds 5``
for a quick try). Neighbours: ``controller.execution.journal.writer``,
``controller.service.loop`` (what a watch pass does).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from controller.execution.journal.writer import Journal  # noqa: E402
from controller.execution.result import Trigger  # noqa: E402
from controller.planning.actions import Cause, Kind  # noqa: E402
from controller.service.journalfeed import ServiceJournal  # noqa: E402
from tests.journal.passes import action, done, passed  # noqa: E402

COMMAND = '["sh", "-c", "trap \'exit 0\' TERM; while :; do sleep 5 & wait $!; done"]'


def spec(name: str) -> str:
    return (f'[container.{name}]\nimage = "dockwright-test/busybox:latest"\n'
            f'command = {COMMAND}\nstop_timeout = "1s"\n')


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def write_cost(folder: Path, count: int) -> dict[str, Any]:
    path = folder / "journal.db"
    journal = Journal(path)
    t = time.perf_counter()
    journal.record(passed("bench"), runtime="docker", source="watch")
    first = time.perf_counter() - t
    noop, busy = [], []
    actions = tuple(done(action(f"c{i}", Kind.RECREATE, Cause.SPEC, reason="env.A changed"))
                    for i in range(5))
    for _ in range(count):
        t = time.perf_counter()
        journal.record(passed("bench", triggers=frozenset({Trigger.RESYNC})), runtime="docker",
                       source="watch")
        noop.append(time.perf_counter() - t)
        t = time.perf_counter()
        journal.record(passed("bench", *actions), runtime="docker", source="watch")
        busy.append(time.perf_counter() - t)
    journal.close()
    again = Journal(path)  # what each apply process pays: open an existing journal
    t = time.perf_counter()
    again.record(passed("bench"), runtime="docker", source="apply")
    reopen = time.perf_counter() - t
    again.close()
    return {"first_ms": round(first * 1e3, 3), "reopen_first_ms": round(reopen * 1e3, 3),
            "apply_process_ms": apply_part(path),
            "noop_pass_us": {"median": round(statistics.median(noop) * 1e6, 1),
                             "p95": round(pct(noop, 0.95) * 1e6, 1)},
            "five_actions_us": {"median": round(statistics.median(busy) * 1e6, 1),
                                "p95": round(pct(busy, 0.95) * 1e6, 1)},
            "passes": 2 * count + 1, "file_bytes": path.stat().st_size}


def cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ROOT / ".venv" / "bin" / "dockwright"), *args], env=env,
                          capture_output=True, text=True, timeout=600, check=False)


def docker_part(n: int, rounds: int, folder: Path) -> dict[str, Any]:
    from runtime.docker.driver import DockerDriver
    from runtime.types import LABEL_PROJECT
    from tests.conftest import cleanup_project
    from tests.images import busybox_image

    busybox_image()
    project = f"dwb-{uuid.uuid4().hex[:8]}"
    specs = folder / "specs"
    specs.mkdir()
    for i in range(n):
        (specs / f"c{i:03}.toml").write_text(spec(f"{project}-c{i:03}"))
    env = {**os.environ, "DOCKWRIGHT_STATE_DIR": str(folder / "state")}
    driver = DockerDriver()
    try:
        done_ = cli(["--project", project, "apply", str(specs)], env)
        assert done_.returncode == 0, done_.stderr
        assert len(driver.list_containers({LABEL_PROJECT: project})) == n
        watch = watch_part(specs, project, rounds, folder / "state" / "journal.db")
        apply_on: list[float] = []
        apply_off: list[float] = []
        for i in range(rounds):
            for flag in ([], ["--no-journal"]) if i % 2 == 0 else (["--no-journal"], []):
                t = time.perf_counter()
                run = cli(["--project", project, "apply", str(specs), *flag], env)
                (apply_off if flag else apply_on).append(time.perf_counter() - t)
                assert run.returncode == 0 and "no changes" in run.stdout, run.stdout + run.stderr
    finally:
        cleanup_project(driver, project)
        driver.close()
    return {"containers": n, "rounds": rounds, "watch_pass_s": watch,
            "apply_noop_s": {"journal": round(statistics.median(apply_on), 4),
                             "no_journal": round(statistics.median(apply_off), 4),
                             "paired_diff_ms": paired(apply_on, apply_off),
                             "rounds": len(apply_on)}}


class TimedJournal(ServiceJournal):
    """The service's journal, timing each of its records (the write's share of a pass)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, "docker", max_age=90 * 86400.0, max_bytes=200 << 20)
        self.times: list[float] = []

    def record(self, *args: Any, **kwargs: Any) -> int | None:
        t = time.perf_counter()
        try:
            return super().record(*args, **kwargs)
        finally:
            self.times.append(time.perf_counter() - t)


def watch_part(specs: Path, project: str, rounds: int, path: Path) -> dict[str, Any]:
    """Two real watch services of the project in this process, one with the journal and
    one without (``watch --no-journal``), no resync, no file events: each round asks
    each for a pass (``resync``), in alternating order, and times it from the request
    to the end of its worker's pass (journal record included); every pass is a no-op."""
    from controller.service.loop import WatchConfig, WatchService
    from runtime.docker.driver import DockerDriver

    journal = TimedJournal(path)
    done: dict[bool, queue.Queue[Any]] = {True: queue.Queue(), False: queue.Queue()}
    services = {on: WatchService(WatchConfig(root=specs, project=project, resync=0.0),
                                 DockerDriver, journal=journal if on else None,
                                 on_pass=done[on].put) for on in (True, False)}
    times: dict[bool, list[float]] = {True: [], False: []}
    try:
        for on, service in services.items():
            service.start()
            done[on].get(timeout=600)  # the start pass
        journal.times.clear()
        for i in range(rounds):  # interleaved, the order swapped every round
            for on in ((True, False) if i % 2 == 0 else (False, True)):
                t = time.perf_counter()
                services[on].enqueue(Trigger.RESYNC.value)
                result = done[on].get(timeout=120)
                times[on].append(time.perf_counter() - t)
                assert not result.changed and result.ok, result.to_json()
    finally:
        for service in services.values():
            service.stop()
            service.handle.close()
        journal.close()
    return {"journal": round(statistics.median(times[True]), 4),
            "no_journal": round(statistics.median(times[False]), 4),
            "fastest": {"journal": round(min(times[True]), 4),
                        "no_journal": round(min(times[False]), 4)},
            "paired_diff_ms": paired(times[True], times[False]),
            "record_part_ms": round(statistics.median(journal.times) * 1e3, 3),
            "recorded": len(journal.times)}


def paired(on: list[float], off: list[float]) -> dict[str, float]:
    """Median and quartiles of the per-round differences (on - off), in ms: the cost with
    the machine's drift between rounds taken out, and how noisy it is."""
    diffs = sorted((a - b) * 1e3 for a, b in zip(on, off, strict=True))
    return {"median": round(statistics.median(diffs), 2), "q1": round(pct(diffs, 0.25), 2),
            "q3": round(pct(diffs, 0.75), 2)}


IN_APPLY = """
import os, sys, time
sys.path.insert(0, {root!r})
import controller.execution.reconcile, controller.execution.result  # what apply has loaded
from pathlib import Path
from tests.journal.passes import action, done, passed
result = passed("bench", done(action("a")))
t = time.perf_counter()
from controller.execution.journal.writer import Journal
journal = Journal(Path({path!r}))
journal.record(result, runtime="docker", source="apply")
journal.close()
print(time.perf_counter() - t)
os._exit(0)
"""


def apply_part(path: Path, runs: int = 9) -> float:
    """The journal's share of one ``apply`` process: loading sqlite3 and the journal's
    modules, opening an existing journal, one record, closing it (median, ms)."""
    times = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", IN_APPLY.format(root=str(ROOT),
                                                                    path=str(path))],
                             capture_output=True, text=True, check=True).stdout
        times.append(float(out))
    return round(statistics.median(times) * 1e3, 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--containers", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--writes", type=int, default=2000)
    parser.add_argument("--no-docker", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dw-bench-journal-") as tmp:
        folder = Path(tmp)
        (folder / "w").mkdir()
        out: dict[str, Any] = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                               "load": os.getloadavg()[0],
                               "write": write_cost(folder / "w", args.writes)}
        if not args.no_docker:
            out["docker"] = docker_part(args.containers, args.rounds, folder)
    w = out["write"]
    print(f"journal write, no-op pass:     median {w['noop_pass_us']['median']} us, "
          f"p95 {w['noop_pass_us']['p95']} us")
    print(f"journal write, 5 actions:      median {w['five_actions_us']['median']} us, "
          f"p95 {w['five_actions_us']['p95']} us")
    print(f"first write, new journal:      {w['first_ms']} ms (create, WAL, schema)")
    print(f"first write, existing journal: {w['reopen_first_ms']} ms (open, schema check)")
    print(f"journal's share of an apply:   {w['apply_process_ms']} ms (import sqlite3 and the "
          "journal, open, record, close)")
    if "docker" in out:
        d = out["docker"]
        print(f"no-op watch pass of {d['containers']}: journal {d['watch_pass_s']['journal']} s, "
              f"without {d['watch_pass_s']['no_journal']} s (medians of {d['rounds']}; "
              f"fastest {d['watch_pass_s']['fastest']['journal']} / "
              f"{d['watch_pass_s']['fastest']['no_journal']} s); "
              f"paired difference {d['watch_pass_s']['paired_diff_ms']} ms; the record itself "
              f"{d['watch_pass_s']['record_part_ms']} ms")
        print(f"no-op apply of {d['containers']} (process): journal "
              f"{d['apply_noop_s']['journal']} s, --no-journal {d['apply_noop_s']['no_journal']} s "
              f"(medians of {d['apply_noop_s']['rounds']}); paired difference "
              f"{d['apply_noop_s']['paired_diff_ms']} ms")
    results = ROOT / "bench" / "results" / "journal.json"
    results.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {results.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
