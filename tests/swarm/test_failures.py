"""A node that stops, and hand-made drift, on a three-node Swarm: ``status``, ``ps``, ``watch``.

Role: a worker whose daemon is stopped is shown down by ``status``; Swarm reschedules
its tasks onto the other worker, ``ps`` shows them there, and a running
``watch --runtime swarm`` reports the node and the rescheduled tasks; replicas count
only live tasks, and a change applied while the node is down converges. A service
scaled or updated by hand is put back by ``watch`` (checked on the live spec with the
Docker SDK). The ``watch`` processes are this test's own children, stopped by their
pid. Neighbours: ``tests/swarm/cluster.py`` (stop_node/start_node),
``tests/swarm/conftest.py``, ``tests/integration/conftest.py`` (the CLI environment).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.integration.conftest import ROOT
from tests.swarm.conftest import SwarmProject, wait_until
from tests.swarm.workloads import sleeper

WORKERS = 'placement = { constraints = ["node.role == worker"] }\n'


@contextmanager
def watching(p: SwarmProject, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``dockwright watch --runtime swarm DIR`` in the background, output in ``log``."""
    env = {**os.environ, **p.cluster.env(),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    env.pop("DOCKWRIGHT_RUNTIME", None)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "controller.cli", "--project", p.name, "--runtime", "swarm",
             "watch", str(p.dir), "--resync", "5s"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def _replicas(service: Any) -> int:
    service.reload()
    return int(service.attrs["Spec"]["Mode"]["Replicated"]["Replicas"])


def test_a_stopped_node_is_shown_and_its_tasks_rescheduled(swarm_project: SwarmProject,
                                                           tmp_path: Path) -> None:
    p = swarm_project
    name = p.n("work")
    p.write_specs(sleeper(name, replicas=4, extra=WORKERS))
    p.apply_ok()
    tasks = p.wait_running(name, 4)
    assert "node3" in p.node_names(tasks)  # Swarm spreads: both workers have tasks
    log = tmp_path / "watch.log"
    with watching(p, log):
        wait_until(lambda: log.stat().st_size > 0, "watch started", 60)
        p.cluster.stop_node("node3")
        p.cluster.wait_down("node3")
        moved = wait_until(lambda: (t if len(t := p.tasks(name)) == 4
                                    and set(p.node_names(t)) == {"node2"} else None),
                           "4 tasks running on node2", 120)
        status = p.cli("status")
        assert "node3" in status.text and "down" in status.text, str(status)
        ps = p.cli("ps", with_dir=False)
        assert ps.code == 0, str(ps)
        rows = [line.split() for line in ps.out.splitlines() if line.startswith(name)]
        assert sorted(r[0] for r in rows) == sorted(f"{name}.{t['Slot']}" for t in moved), str(ps)
        assert {r[2] for r in rows} == {"node2"} and {r[3] for r in rows} == {"running"}, str(ps)
        assert {r[4] for r in rows} == {"4/4"}, str(ps)  # not the dead node's tasks too
        assert "4/4 running" in status.text, str(status)
        why = p.cli("why", name)
        assert why.code == 0 and "state         node down: node3" in why.out, str(why)
        wait_until(lambda: "node_down" in (text := log.read_text(errors="replace"))
                   and "task_rescheduled" in text, "watch reports the node and the rescheduling",
                   60, what_else=lambda: log.read_text(errors="replace")[-3000:])
        events = [json.loads(line) for line in log.read_text().splitlines()
                  if line.startswith("{")]
        downs = [e for e in events if e.get("event") == "node_down"]
        assert [e["node"] for e in downs] == ["node3"], downs
        moves = [e for e in events if e.get("event") == "task_rescheduled"]
        assert len(moves) == 2 and all(e["node_down"] for e in moves), moves
    # with node3 still down, a change converges (its dead tasks are not counted as running)
    p.write_specs(sleeper(name, replicas=3, extra=WORKERS))
    p.apply_ok()
    ps = p.cli("ps", with_dir=False)
    assert [r.split()[4] for r in ps.out.splitlines() if r.startswith(name)] == ["3/3"] * 3, ps
    p.cluster.start_node("node3")


def test_watch_puts_back_a_service_scaled_or_updated_by_hand(swarm_project: SwarmProject,
                                                             tmp_path: Path) -> None:
    p = swarm_project
    name = p.n("svc")
    p.write_specs(sleeper(name, replicas=2))
    log = tmp_path / "watch.log"
    with watching(p, log) as proc:
        wait_until(lambda: name in {s.name for s in p.services()}, "watch created the service",
                   120)
        service = p.service(name)
        p.wait_running(name, 2)
        service.scale(5)
        wait_until(lambda: _replicas(service) == 2, "the scale put back to 2", 60)
        service.reload()
        service.update(env=["HAND=1"])
        wait_until(lambda: "HAND=1" not in (
            p.service(name).attrs["Spec"]["TaskTemplate"]["ContainerSpec"].get("Env") or []),
            "the hand-made env removed", 60)
        assert proc.poll() is None, log.read_text(errors="replace")
    p.wait_running(name, 2)
