"""examples/swarm converges on a single-node Swarm (with its registry in the node's network
namespace), web answers through its host-mode port with the config it was given, the api
reads its secret, and a second apply sends nothing. ``web`` is global: one task on the
one node."""

from __future__ import annotations

import shutil
from pathlib import Path

from runtime.swarm.driver import SwarmDriver
from tests.conftest import wait_for
from tests.dockerd import PrivateDockerd
from tests.swarmruntime.conftest import ROOT, Cli


def test_the_swarm_example(swarm_cli: Cli, swarm: SwarmDriver, swarm_host: PrivateDockerd,
                           netns_registry: str, tmp_path: Path) -> None:
    examples = tmp_path / "examples"
    shutil.copytree(ROOT / "examples" / "swarm", examples / "swarm")
    shutil.copytree(ROOT / "examples" / "images", examples / "images")
    code, out, err = swarm_cli("apply", str(examples / "swarm"))
    assert code == 0, out + err
    live = {s.spec.name: s for s in swarm.list_services({"io.dockwright.project": "shop"})}
    assert live["api"].running == 2 and live["web"].running == 1
    assert live["web"].spec.image.startswith(f"{netns_registry}/dockwright-examples/busybox:")
    page = wait_for(lambda: swarm_host.http_get("http://127.0.0.1:18080/"), "web answers")
    assert "served by dockwright on Swarm" in page
    code, out, _ = swarm_cli("exec", "web", "--", "wget", "-q", "-O", "-", "http://backend:8080/")
    assert code == 0 and out.startswith("api ") and "token=29" in out, out
    versions = {n: s.version for n, s in live.items()}
    code, out, _ = swarm_cli("apply", str(examples / "swarm"))
    assert code == 0 and "no changes" in out
    assert {s.spec.name: s.version for s in swarm.list_services(
        {"io.dockwright.project": "shop"})} == versions
    assert swarm_cli("down", str(examples / "swarm"))[0] == 0
