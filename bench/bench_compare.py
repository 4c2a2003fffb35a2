"""Micro-benchmark of the field comparison (``controller.planning.compare.compare``).

Role: the planner compares every inspected container with its spec through the
rule table; this times one ``compare`` of a converged container (20 env keys,
labels, a port, a mount, a network, limits: nothing differs) and of one whose
every row differs, against the lower bound of the same run: one ``==`` of the
two configs (what a comparison that knew no rules would cost). Pure, no
runtime. Run from the repository root: ``.venv/bin/python bench/bench_compare.py``.
"""

from __future__ import annotations

import dataclasses
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from controller.desired.state import DesiredContainer, DesiredImage
from controller.planning.compare import compare, expected
from runtime.types import (
    ContainerConfig,
    ContainerInfo,
    ContainerSummary,
    HealthSpec,
    ImageInfo,
    MountSpec,
    NetworkAttach,
    PortBinding,
    ResourceSpec,
    RestartSpec,
    State,
)

IMAGE = ImageInfo(id="sha256:x", env=(("PATH", "/bin"), ("LANG", "C")), command=("sh",),
                  workdir="/srv", user="app", labels=(("vendor", "v"),),
                  healthcheck=HealthSpec(("CMD", "true"), interval=5.0))
CONFIG = ContainerConfig(
    name="a", image="img:1", env=tuple((f"K{i}", str(i)) for i in range(20)),
    labels=(("io.dockwright.project", "p"), ("x", "1")), ports=(PortBinding(80, "tcp", "", 8080),),
    mounts=(MountSpec("volume", "/data", "d"),), networks=(NetworkAttach("n", ("a", "b")),),
    restart=RestartSpec("always"), resources=ResourceSpec(memory=1 << 26), stop_timeout=2.0)
CHANGED = dataclasses.replace(
    CONFIG, image="img:2", command=("x",), env=(("K0", "new"),), workdir="/w", user="u",
    hostname="h", labels=(("x", "2"),), ports=(), mounts=(), networks=(NetworkAttach("m"),),
    restart=RestartSpec("no"), healthcheck=HealthSpec(("NONE",)), resources=ResourceSpec(),
    stdin_open=True, tty=True, stop_signal="SIGINT", stop_timeout=30.0)


def per_call(fn: object, number: int) -> float:
    """Best of 5 runs, in microseconds per call."""
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6  # type: ignore[arg-type]


def main() -> None:
    desired = DesiredContainer("a", "a", 1, "a.toml", CONFIG, DesiredImage("img:1", "ref"))
    summary = ContainerSummary("id", "a", "sha256:x", State.RUNNING)
    same = ContainerInfo(summary, expected(desired, IMAGE))
    other = ContainerInfo(summary, CHANGED)
    assert compare(desired, same, IMAGE) == []
    changes = len(compare(desired, other, IMAGE))
    n = 20000
    floor = per_call(lambda: same.config == expected(desired, IMAGE), n)
    converged = per_call(lambda: compare(desired, same, IMAGE), n)
    differing = per_call(lambda: compare(desired, other, IMAGE), n // 4)
    print(f"compare, converged:        {converged:6.1f} us")
    print(f"compare, {changes} changes:       {differing:6.1f} us")
    print(f"lower bound (merge + ==):  {floor:6.1f} us")


if __name__ == "__main__":
    main()
