"""``apply`` right after ``down`` on Swarm: the manager keeps listing a network it has
just dropped while the removed tasks' containers stop (a node-local copy), so the plan
takes it as there; the create of a service on it is answered "network not found"."""

from __future__ import annotations

from pathlib import Path

from runtime.swarm.driver import SwarmDriver
from tests.swarmruntime.conftest import IMAGE, Cli, write


def test_apply_right_after_down_makes_the_network_again(
        swarm_cli: Cli, swarm: SwarmDriver, name: str, tmp_path: Path) -> None:
    # sleep as PID 1 ignores SIGTERM: the task's container lives stop_timeout after down
    specs = write(tmp_path / "specs", name, f"""[container.{name}-app]
image = "{IMAGE}"
command = ["sleep", "100000"]
stop_timeout = "8s"
endpoint_mode = "dnsrr"
""")
    code, out, err = swarm_cli("apply", str(specs))
    assert code == 0, out + err
    code, out, err = swarm_cli("down", str(specs))
    assert code == 0, out + err
    assert f"remove-network network {name}_default" in out
    still = [n.name for n in swarm.list_networks({"io.dockwright.project": name})]
    assert still == [f"{name}_default"], "the dropped network is no longer listed: " \
        "this test no longer reaches the case it is about"
    code, out, err = swarm_cli("apply", str(specs))
    assert code == 0, out + err
    app = swarm.inspect_service(f"{name}-app")
    assert app.running == 1 and [n.network for n in app.spec.networks] == [f"{name}_default"]
    code, out, err = swarm_cli("diff", str(specs))
    assert code == 0, out + err
    assert swarm_cli("down", str(specs))[0] == 0
