"""``apply --runtime swarm`` on a single-node Swarm: create in order, no needless update
(zero version bumps), drift put back, a Swarm rollback reported as a failure and not sent
again, prune of what the project owns only, down."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.swarm.driver import SwarmDriver
from tests.conftest import wait_for
from tests.swarmruntime.conftest import IMAGE, Cli, write


def services(name: str, command: str = '["sleep", "100000"]', replicas: int = 2) -> str:
    return f"""
[container.{name}-db]
image = "{IMAGE}"
command = ["sleep", "100000"]
stop_timeout = "1s"
healthcheck = {{ test = ["CMD", "true"], interval = "1s" }}

[container.{name}-web]
image = "{IMAGE}"
command = {command}
replicas = {replicas}
stop_timeout = "1s"
links = ["{name}-db:database"]
depends_on = {{ "{name}-db" = "healthy" }}
endpoint_mode = "dnsrr"
update = {{ order = "start-first", failure_action = "rollback", monitor = "2s" }}
"""


def versions(swarm: SwarmDriver, project: str) -> dict[str, int]:
    return {s.spec.name: s.version for s in swarm.list_services(
        {"io.dockwright.project": project})}


def test_apply_then_nothing_to_send(swarm_cli: Cli, swarm: SwarmDriver, name: str,
                                    tmp_path: Path) -> None:
    specs = write(tmp_path / "specs", name, services(name))
    code, out, err = swarm_cli("apply", str(specs))
    assert code == 0, out + err
    assert f"create         service {name}-web" in out
    live = {s.spec.name: s for s in swarm.list_services({"io.dockwright.project": name})}
    assert live[f"{name}-web"].running == 2 and live[f"{name}-db"].running == 1
    web = live[f"{name}-web"].spec
    assert [(n.network, n.aliases) for n in web.networks] == [(f"{name}_default", ())]
    assert swarm.inspect_service(f"{name}-db").spec.networks[0].aliases == ("database",)
    assert web.label("io.dockwright.managed-by") == "dockwright"  # on the service itself
    before = versions(swarm, name)
    code, out, err = swarm_cli("apply", str(specs))
    assert code == 0 and "no changes" in out, out + err
    assert versions(swarm, name) == before  # no update sent: Swarm's rollback target kept
    assert swarm_cli("diff", str(specs))[0] == 0
    code, out, _ = swarm_cli("down", str(specs))
    assert code == 0 and versions(swarm, name) == {}
    # the node forgets its copy of the removed overlay network once its tasks are gone
    wait_for(lambda: f"{name}_default" not in {n.name for n in swarm.list_networks()},
             "the project network removed", timeout=60)


def test_drift_is_put_back(swarm_cli: Cli, swarm: SwarmDriver, name: str,
                           tmp_path: Path) -> None:
    specs = write(tmp_path / "specs", name, services(name, replicas=1))
    assert swarm_cli("apply", str(specs))[0] == 0
    web = swarm.inspect_service(f"{name}-web")
    swarm.update_service(web.id, web.spec.__class__(**{**web.spec.__dict__, "replicas": 3}),
                         web.version)
    code, out, _ = swarm_cli("diff", str(specs), "-o", "json")
    assert code == 2 and '"cause": "drift"' in out and '"field": "replicas"' in out, out
    code, out, err = swarm_cli("apply", str(specs))
    assert code == 0, out + err
    assert swarm.inspect_service(f"{name}-web").spec.replicas == 1
    swarm_cli("down", str(specs))


def test_a_rollback_is_a_failure_and_not_sent_again(swarm_cli: Cli, swarm: SwarmDriver,
                                                    name: str, tmp_path: Path) -> None:
    specs = write(tmp_path / "specs", name, services(name, replicas=1))
    assert swarm_cli("apply", str(specs))[0] == 0
    write(specs, name, services(name, '["sh", "-c", "sleep 1; exit 3"]', replicas=1))
    code, out, err = swarm_cli("apply", str(specs))
    assert code == 1 and "rolled back: " in out, out + err
    after = versions(swarm, name)
    code, out, err = swarm_cli("apply", str(specs))
    assert code == 1 and "rolled back" in err, out + err
    assert versions(swarm, name) == after  # the failed spec is not sent again
    code, out, _ = swarm_cli("status", str(specs))
    assert code == 2 and "rolled back" in out, out
    write(specs, name, services(name, '["sleep", "99999"]', replicas=1))  # a fixed spec
    code, out, err = swarm_cli("apply", str(specs))
    assert code == 0, out + err
    swarm_cli("down", str(specs))


def test_prune_removes_only_what_the_project_owns(swarm_cli: Cli, swarm: SwarmDriver,
                                                  name: str, tmp_path: Path) -> None:
    specs = write(tmp_path / "specs", name, services(name, replicas=1))
    assert swarm_cli("apply", str(specs))[0] == 0
    other = write(tmp_path / "other", f"{name}x", f"""
[container.{name}-other]
image = "{IMAGE}"
command = ["sleep", "100000"]
""")
    assert swarm_cli("apply", str(other))[0] == 0
    body = services(name, replicas=1).split(f"[container.{name}-web]")[0]
    write(specs, name, body + f"\n[container.{name}-extra]\nimage = \"{IMAGE}\"\n"
          'command = ["sleep", "100000"]\n')
    code, out, err = swarm_cli("apply", str(specs))
    assert code == 0, out + err
    assert f"remove         service {name}-web: no longer declared" in out
    assert set(versions(swarm, name)) == {f"{name}-db", f"{name}-extra"}
    assert set(versions(swarm, f"{name}x")) == {f"{name}-other"}  # another project's
    swarm_cli("down", str(specs))
    swarm_cli("down", str(other))


def test_secret_rotation(swarm_cli: Cli, swarm: SwarmDriver, name: str,
                         tmp_path: Path) -> None:
    """A secret is a Swarm secret named by its (keyed) digest; a new content is a new
    secret and a rolling update; the old revision is removed once no service uses it; the
    value is nowhere in the service spec, the labels or the diff."""
    specs = tmp_path / "specs"
    body = f"""
[container.{name}-app]
image = "{IMAGE}"
command = ["sleep", "100000"]
stop_timeout = "1s"
secrets = {{ pw = {{ file = "pw.txt" }} }}
configs = {{ "/etc/app.conf" = {{ file = "app.conf" }} }}
"""
    write(specs, name, body)
    (specs / "pw.txt").write_text("first-value")
    (specs / "app.conf").write_text("a=1\n")
    assert swarm_cli("apply", str(specs))[0] == 0
    first = {o.name for o in swarm.list_objects("secret", {"io.dockwright.project": name})}
    assert len(first) == 1 and next(iter(first)).startswith(f"{name}_pw_")
    (specs / "pw.txt").write_text("second-value")
    code, out, _ = swarm_cli("diff", str(specs))
    assert code == 2 and "files.secret:/run/secrets/pw" in out and "value" not in out, out
    code, out, err = swarm_cli("apply", str(specs))
    assert code == 0, out + err
    second = {o.name for o in swarm.list_objects("secret", {"io.dockwright.project": name})}
    assert len(second) == 1 and second != first  # the old revision is gone
    live = swarm.inspect_service(f"{name}-app")
    assert [f.name for f in live.spec.files if f.kind == "secret"] == list(second)
    assert "second-value" not in repr(live.spec)
    swarm_cli("down", str(specs))
    assert not swarm.list_objects("secret", {"io.dockwright.project": name})
    assert not swarm.list_objects("config", {"io.dockwright.project": name})


def test_host_level_keys_reach_the_tasks(swarm_cli: Cli, swarm: SwarmDriver, name: str,
                                        tmp_path: Path) -> None:
    specs = write(tmp_path / "specs", name, f"""
[container.{name}-hk]
image = "{IMAGE}"
command = ["sleep", "100000"]
init = true
cap_add = ["NET_ADMIN"]
sysctls = {{ "net.core.somaxconn" = "512" }}
read_only = true
extra_hosts = {{ "db.local" = "10.0.0.5" }}
dns_search = ["example.org"]
group_add = ["1234"]
ulimits = {{ nofile = {{ soft = 1024, hard = 2048 }} }}
resources = {{ memory = "64m", reservations = {{ memory = "16m", cpus = 0.1 }} }}
stop_timeout = "1s"
""")
    code, out, err = swarm_cli("apply", str(specs))
    assert code == 0, out + err
    code, out, _ = swarm_cli("exec", f"{name}-hk", "--", "sh", "-c",
                             "grep db.local /etc/hosts; cat /proc/sys/net/core/somaxconn; "
                             "ulimit -n; id -G; grep search /etc/resolv.conf; "
                             "touch /x 2>/dev/null || echo read-only")
    assert code == 0, out
    assert out.split("\n")[:6] == ["10.0.0.5\tdb.local", "512", "1024", "0 1234",
                                   "search example.org", "read-only"], out
    resources = swarm.inspect_service(f"{name}-hk").spec.resources
    assert (resources.reserve_memory, resources.reserve_cpus) == (16 << 20, 0.1)
    code, out, _ = swarm_cli("diff", str(specs))
    assert code == 0, out  # read back equal: nothing to send
    swarm_cli("down", str(specs))


@pytest.mark.parametrize("command,restart", [
    ('["sh", "-c", "echo broken; exit 2"]', ""),
    # "running" for a second, then gone: a create must not be called converged when its
    # task was seen running once (the task has to stay up for SETTLE seconds)
    ('["sh", "-c", "sleep 1; exit 7"]', 'restart = "on-failure"'),
])
def test_tasks_that_keep_failing_fail_the_create(swarm_cli: Cli, name: str, tmp_path: Path,
                                                 command: str, restart: str) -> None:
    """Swarm retries a failing task for ever; apply reports it instead of waiting."""
    specs = write(tmp_path / "specs", name, f"""
[container.{name}-bad]
image = "{IMAGE}"
command = {command}
{restart}
""")
    code, out, err = swarm_cli("apply", str(specs))
    assert code == 1 and "tasks failed" in out, out + err
    swarm_cli("down", str(specs))
