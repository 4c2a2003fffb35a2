"""``why``, drift of a service removed by hand, and the journal on ``--runtime swarm``."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from runtime.swarm.driver import SwarmDriver
from tests.conftest import wait_for
from tests.dockerd import PrivateDockerd
from tests.swarmruntime.conftest import IMAGE, Cli
from tests.swarmruntime.test_apply import services, write


def web(name: str) -> str:
    return f"""[container.{name}-web]
image = "{IMAGE}"
command = ["sleep", "100000"]
stop_timeout = "1s"
"""


def git(folder: Path, *argv: str) -> None:
    subprocess.run(["git", "-C", str(folder), "-c", "user.name=Ann", "-c",
                    "user.email=ann@example.invalid", *argv], check=True,
                   capture_output=True)


def test_why_a_service(swarm_cli: Cli, swarm: SwarmDriver, name: str,
                                          tmp_path: Path) -> None:
    specs = write(tmp_path / "specs", name, web(name))
    git(specs, "init", "-q")
    git(specs, "add", ".")
    git(specs, "commit", "-q", "-m", "add the web service")
    assert swarm_cli("apply", str(specs))[0] == 0
    code, out, err = swarm_cli("why", str(specs), f"{name}-web")
    assert code == 0, err
    assert f"service {name}-web — project {name}, runtime swarm" in out, out
    assert f"declared      app.toml:4 container.{name}-web" in out, out
    assert "add the web service" in out and "Ann" in out, out  # the commit of that file
    assert "create (cause new, by apply)" in out and "ok" in out, out
    assert "in sync (1/1 running)" in out, out
    swarm.remove_service(f"{name}-web")  # by hand
    code, out, _ = swarm_cli("why", str(specs), f"{name}-web", "--output", "json")
    state = json.loads(out)["state"]
    assert code == 0 and state["kind"] == "drifted", state
    assert "removed outside dockwright" in state["summary"], state
    swarm_cli("down", str(specs))


def test_a_service_removed_by_hand_is_drift(swarm_cli: Cli, swarm: SwarmDriver, name: str,
                                            tmp_path: Path) -> None:
    """diff, apply and the journal say "drift" for it, not "new"; down forgets it."""
    specs = write(tmp_path / "specs", name, web(name))
    assert swarm_cli("apply", str(specs))[0] == 0
    swarm.remove_service(f"{name}-web")  # by hand
    code, out, _ = swarm_cli("diff", str(specs), "--output", "json")
    assert code == 2, out
    action = next(a for a in json.loads(out)["actions"] if a["name"] == f"{name}-web")
    assert (action["kind"], action["cause"], action["reason"]) == (
        "create", "drift", "removed outside dockwright"), action
    code, out, _ = swarm_cli("apply", str(specs))
    assert code == 0 and f"service {name}-web: removed outside dockwright — ok" in out, out
    code, out, _ = swarm_cli("history", str(specs), f"{name}-web", "--output", "json")
    entries = json.loads(out)["entries"]
    assert code == 0 and [(e["action"], e["cause"]) for e in entries][:2] == [
        ("create", "drift"), ("create", "new")], entries
    assert all(e["runtime"] == "swarm" and e["outcome"] == "ok" for e in entries[:2]), entries

    assert swarm_cli("down", str(specs))[0] == 0  # down forgets: a new apply creates it "new"
    code, out, _ = swarm_cli("history", str(specs), f"{name}-web", "--output", "json")
    last = json.loads(out)["entries"][0]
    assert (last["action"], last["cause"], last["source"], last["outcome"]) == (
        "remove", "down", "down", "ok"), last  # down is journalled as on Docker
    code, out, _ = swarm_cli("diff", str(specs), "--output", "json")
    action = next(a for a in json.loads(out)["actions"] if a["name"] == f"{name}-web")
    assert action["cause"] == "new", action


def test_why_a_stack_service_is_left_alone(swarm_host: PrivateDockerd, swarm_cli: Cli,
                                           swarm: SwarmDriver, name: str,
                                           tmp_path: Path) -> None:
    client = swarm_host.client()
    try:
        client.services.create(IMAGE, ["sleep", "100000"], name=f"{name}_api",
                               labels={"com.docker.stack.namespace": name})
    finally:
        client.close()
    wait_for(lambda: any(s.spec.name == f"{name}_api" for s in swarm.list_services()),
             "the stack's service exists", timeout=30)
    try:
        code, out, err = swarm_cli("why", f"{name}_api")
        assert code == 0, err
        assert f"owner         docker stack {name} (docker stack deploy)" in out, out
        assert "com.docker.stack.namespace" in out and "never changes" in out, out
        code, out, _ = swarm_cli("why", f"{name}_api", "--output", "json")
        answer = json.loads(out)
        assert (answer["kind"], answer["ownership"], answer["owner"]) == (
            "service", "stack", name), answer
    finally:
        swarm.remove_service(f"{name}_api")


def test_why_a_rolled_back_and_a_failing_service(swarm_cli: Cli, swarm: SwarmDriver,
                                                 name: str, tmp_path: Path) -> None:
    specs = write(tmp_path / "specs", name, services(name, replicas=1))
    assert swarm_cli("apply", str(specs))[0] == 0
    write(specs, name, services(name, '["sh", "-c", "sleep 1; exit 3"]', replicas=1))
    assert swarm_cli("apply", str(specs))[0] == 1  # Swarm rolls the update back
    code, out, _ = swarm_cli("why", str(specs), f"{name}-web", "--output", "json")
    answer = json.loads(out)
    state, last = answer["state"], answer["last_action"]
    assert code == 0 and state["kind"] == "failed", state
    assert "rolled back" in state["summary"] and "remembered" in state["summary"], state
    assert (last["action"], last["outcome"]) == ("update", "failed"), last

    write(tmp_path / "crash", f"{name}c", f"""[container.{name}-crash]
image = "{IMAGE}"
command = ["sh", "-c", "exit 7"]
restart = "on-failure"
""")
    code, out, _ = swarm_cli("apply", str(tmp_path / "crash"))
    assert code == 1 and "tasks failed" in out, out  # never converges: its tasks keep failing
    try:
        code, out, _ = swarm_cli("why", str(tmp_path / "crash"), f"{name}-crash")
        assert code == 0 and "tasks failing: task: non-zero exit (7)" in out, out
    finally:
        swarm_cli("down", str(tmp_path / "crash"))
        swarm_cli("down", str(specs))
