"""A global service is converged when Swarm has made one task per node its constraints
admit, not when it reports 0 of 0 right after the create (``apply`` said "ok" in 10 ms
and the task started later: the example's ``web`` was not running when apply ended).
``runtime.swarm.placement`` decides as Swarm does; checked on values and on the
single-node Swarm's real node."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from controller.execution.swarmapply import SwarmExecutor
from controller.planning.actions import Plan
from runtime.swarm.driver import SwarmDriver
from runtime.swarm.placement import eligible
from runtime.swarm.spec import NodeInfo
from tests.swarmruntime.conftest import IMAGE, Cli, write

NODES = (
    NodeInfo("n1", "alpha", "manager", "active", "ready", labels=(("zone", "a"),), os="linux",
             arch="x86_64", engine_labels=(("disk", "ssd"),)),
    NodeInfo("n2", "beta", "worker", "active", "ready", labels=(("zone", "b"),), os="linux",
             arch="x86_64"),
    NodeInfo("n3", "gamma", "worker", "drain", "ready", labels=(("zone", "a"),)),
    NodeInfo("n4", "delta", "worker", "active", "down", labels=(("zone", "a"),)),
)


def test_constraints_are_read_as_swarm_reads_them() -> None:
    assert eligible(NODES, ()) == 2  # drained and down nodes get no task
    assert eligible(NODES, ("node.role == worker",)) == 1
    assert eligible(NODES, ("node.labels.zone==a",)) == 1
    assert eligible(NODES, ("node.labels.zone != a",)) == 1
    assert eligible(NODES, ("node.labels.rack != 1",)) == 2  # a missing label is ""
    assert eligible(NODES, ("node.labels.rack == 1",)) == 0
    assert eligible(NODES, ("node.hostname == ALPHA", "engine.labels.disk == ssd")) == 1
    assert eligible(NODES, ("node.platform.os == linux", "node.id != n1")) == 1
    assert eligible(NODES, ("node.ip == 10.0.0.1",)) is None  # not readable: no guess


def test_the_real_node_is_read(swarm: SwarmDriver) -> None:
    nodes = swarm.nodes()
    assert len(nodes) == 1 and nodes[0].os == "linux" and nodes[0].arch
    assert eligible(nodes, ("node.role == manager", f"node.hostname == {nodes[0].hostname}",
                            f"node.platform.arch == {nodes[0].arch}")) == 1
    assert eligible(nodes, ("node.role != manager",)) == 0


def test_a_global_service_is_running_when_apply_returns(
        swarm_cli: Cli, swarm: SwarmDriver, name: str, tmp_path: Path) -> None:
    specs = write(tmp_path / "specs", name, f"""[container.{name}-all]
image = "{IMAGE}"
command = ["sleep", "100000"]
mode = "global"
stop_timeout = "1s"
endpoint_mode = "dnsrr"

[container.{name}-none]
image = "{IMAGE}"
command = ["sleep", "100000"]
mode = "global"
placement = {{ constraints = ["node.labels.zone == nowhere"] }}
endpoint_mode = "dnsrr"
""")
    code, out, err = swarm_cli("apply", str(specs))
    assert code == 0, out + err  # the service no node admits converged with no task
    everywhere = swarm.inspect_service(f"{name}-all")
    assert (everywhere.running, everywhere.desired) == (1, 1)
    assert swarm.inspect_service(f"{name}-none").desired == 0
    executor = SwarmExecutor(swarm, Plan(project=name))
    # what Swarm reports right after the create: 0 of 0, not yet converged
    assert not executor.all_made(dataclasses.replace(everywhere, desired=0, running=0),
                                 time.monotonic())
    assert executor.all_made(everywhere, time.monotonic())
    assert swarm_cli("down", str(specs))[0] == 0
