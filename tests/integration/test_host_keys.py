"""Issue 12: the host-level keys compose services use, on the real Docker daemon.

A spec that uses every key (capabilities, devices, DNS, ulimits, sysctls,
logging, tmpfs, namespaces of another container and of the host, exposed
ports, a port range, resources updated in place, a disabled healthcheck)
converges, and a second apply plans nothing: every server default the daemon
fills in (``/dev/shm`` size, IPC mode, log driver, ``label=disable``, the
container id in ``container:`` modes) compares equal. A change of each key is
a field-level change; an in-place resource change keeps the container; a
change made by hand is drift that apply heals. Privileged containers cannot
start in this test environment (the daemon runs without every capability): that
one is created stopped, which is enough to compare its config.
"""

from __future__ import annotations

import json
import socket

import pytest

from controller.execution.reconcile import prepare
from controller.planning.compare import compare
from runtime.docker.driver import DockerDriver
from tests.ports import free_port

from .conftest import IMAGE, LOOP, Project

pytestmark = pytest.mark.docker

MIB = 1024 * 1024
BASE: dict[str, str] = {
    "init": "true",
    "cap_add": '["net_admin", "CAP_SYS_TIME"]',
    "cap_drop": '["mknod"]',
    "devices": '["/dev/fuse"]',
    "extra_hosts": '{ "db.local" = "10.0.0.5" }',
    "dns": '["1.1.1.1", "8.8.8.8"]',
    "dns_search": '["example.com"]',
    "dns_opt": '["ndots:2"]',
    "ulimits": "{ nofile = { soft = 1024, hard = 2048 }, nproc = 65535 }",
    "sysctls": '{ "net.core.somaxconn" = 1024 }',
    "logging": '{ driver = "json-file", options = { max-size = "10m" } }',
    "security_opt": '["no-new-privileges"]',
    "read_only": "true",
    "shm_size": '"32m"',
    "tmpfs": '["/run", "/tmp:size=64m,mode=1777"]',
    "group_add": '["1234"]',
    "ipc": '"shareable"',
    "expose": '["8080", "9000/udp"]',
    "domainname": '"example.com"',
    "mac_address": '"02:42:ac:11:00:99"',
    "oom_score_adj": "500",  # a negative one needs CAP_SYS_RESOURCE, which the daemon lacks
    "resources": '{ memory = "64m", memory_swap = "128m", cpu_shares = 512, cpuset = "0", '
                 'reservations = { memory = "32m" } }',
    "healthcheck": "{ disable = true }",
}


def _table(name: str, keys: dict[str, str]) -> str:
    lines = [f"[container.{name}]", f'image = "{IMAGE}"', f"command = {LOOP}",
             'stop_timeout = "1s"', *(f"{k} = {v}" for k, v in keys.items())]
    return "\n".join(lines) + "\n\n"


def write_spec(p: Project, ports: tuple[int, int], **changed: str | None) -> None:
    """base (every key, ``changed`` applied; None drops a key), side (in base's network,
    pid and IPC namespaces), host (privileged on the host's network and pid namespace),
    bridged (on Docker's default bridge), alone (no network)."""
    keys = {**BASE, "ports": f'["127.0.0.1:{ports[0]}-{ports[1]}:8100-8101"]'}
    for key, value in changed.items():
        if value is None:
            keys.pop(key, None)
        else:
            keys[key] = value
    base = p.n("base")
    p.write("all.toml", _table(base, keys)
            + _table(p.n("side"), {"network_mode": f'"container:{base}"',
                                   "pid": f'"container:{base}"', "ipc": f'"container:{base}"'})
            + _table(p.n("host"), {"network_mode": '"host"', "pid": '"host"',
                                   "privileged": "true", "state": '"stopped"'})
            + _table(p.n("bridged"), {"network_mode": '"bridge"', "ipc": '"private"'})
            + _table(p.n("alone"), {"network_mode": '"none"', "hostname": '"alone"'}))


def changes_of(p: Project, container: str) -> dict[str, dict[str, object]]:
    run = p.diff("--output", "json")
    assert run.code in (0, 2), str(run)
    plan = json.loads(run.out)
    return {ch["field"]: ch for a in plan["actions"] if a["name"] == container
            for ch in a["changes"]}


@pytest.fixture
def ports() -> tuple[int, int]:
    """Two consecutive TCP ports free on 127.0.0.1 (for a published range)."""
    for _ in range(50):
        first = free_port()
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", first + 1))
            except OSError:
                continue
        return first, first + 1
    raise AssertionError("no two consecutive free ports on 127.0.0.1")


def test_every_key_converges_and_a_second_apply_plans_nothing(
        project: Project, ports: tuple[int, int]) -> None:
    p = project
    write_spec(p, ports)
    p.apply_ok()
    again = p.diff()
    assert again.code == 0, f"a converged spec with every key plans nothing\n{again}"
    driver = DockerDriver()
    for c in prepare(p.dir, driver, project=p.name).desired.containers:
        # every field, not only those a recorded spec hash leaves to compare (an upgrade
        # or an adoption compares them all)
        live = driver.inspect_container(c.name)
        assert compare(c, live, driver.image_info(c.image.key)) == [], c.name
    base = p.container("base").attrs
    host, cfg = base["HostConfig"], base["Config"]
    assert sorted(c.upper().removeprefix("CAP_") for c in host["CapAdd"]) == [
        "NET_ADMIN", "SYS_TIME"]
    assert host["Init"] is True and host["ReadonlyRootfs"] is True
    assert host["ShmSize"] == 32 * MIB and host["OomScoreAdj"] == 500
    assert host["Tmpfs"] == {"/run": "", "/tmp": "size=64m,mode=1777"}
    assert {u["Name"]: (u["Soft"], u["Hard"]) for u in host["Ulimits"]} == {
        "nofile": (1024, 2048), "nproc": (65535, 65535)}
    assert host["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "10m"}}
    assert host["ExtraHosts"] == ["db.local:10.0.0.5"] and host["Dns"] == ["1.1.1.1", "8.8.8.8"]
    assert host["CpuShares"] == 512 and host["CpusetCpus"] == "0"
    assert host["MemorySwap"] == 128 * MIB and host["MemoryReservation"] == 32 * MIB
    assert cfg["Healthcheck"]["Test"] == ["NONE"]
    assert set(cfg["ExposedPorts"]) == {"8080/tcp", "9000/udp", "8100/tcp", "8101/tcp"}
    assert set(host["PortBindings"]) == {"8100/tcp", "8101/tcp"}, "the range expands"
    assert cfg["Domainname"] == "example.com"
    side = p.container("side").attrs["HostConfig"]
    assert side["NetworkMode"] == side["PidMode"] == f"container:{base['Id']}"
    limits = p.exec("base", "cat", "/proc/1/limits")[1]  # the container's own process
    assert any(line.split()[3:5] == ["1024", "2048"] for line in limits.splitlines()
               if line.startswith("Max open files")), limits
    assert "1234" in p.exec("base", "id")[1]
    assert "db.local" in p.exec("side", "cat", "/etc/hosts")[1], "side shares base's network"
    assert p.container("host").attrs["HostConfig"]["Privileged"] is True
    assert set(p.container("bridged").attrs["NetworkSettings"]["Networks"]) == {"bridge"}
    links = p.exec("alone", "ip", "-o", "link")[1]
    assert ": lo:" in links and "eth0" not in links, links


CHANGES: list[tuple[str, str | None, str]] = [  # key, new TOML value (None: removed), fields
    ("init", "false", "init"),
    ("cap_add", '["NET_ADMIN"]', "cap_add"),
    ("cap_drop", '["mknod", "chown"]', "cap_drop"),
    ("devices", None, "devices"),
    ("extra_hosts", '{ "db.local" = "10.0.0.6" }', "extra_hosts.db.local"),
    ("dns", '["8.8.8.8", "1.1.1.1"]', "dns"),
    ("dns_search", None, "dns_search"),
    ("dns_opt", '["ndots:3"]', "dns_opt"),
    ("ulimits", "{ nofile = { soft = 1024, hard = 4096 }, nproc = 65535 }", "ulimits.nofile"),
    ("sysctls", '{ "net.core.somaxconn" = 2048 }', "sysctls.net.core.somaxconn"),
    ("logging", '{ driver = "json-file", options = { max-size = "20m" } }',
     "log_options.max-size"),
    ("logging", '{ driver = "none" }', "log_driver log_options.max-size"),
    ("logging", '{ driver = "json-file" }', "log_options.max-size"),  # an option taken out
    ("security_opt", None, "security_opt"),
    ("read_only", None, "read_only"),
    ("shm_size", None, "shm_size"),
    ("tmpfs", '["/run"]', "tmpfs./tmp"),
    ("group_add", '["1235"]', "group_add"),
    ("ipc", '"private"', "ipc_mode"),
    ("ipc", None, "ipc_mode"),  # "shareable" may be the daemon's default: still a change
    ("expose", '["8080"]', "expose"),
    ("domainname", '"example.org"', "domainname"),
    ("mac_address", '"02:42:ac:11:00:98"', "mac_address"),
    ("oom_score_adj", None, "oom_score_adj"),
    ("healthcheck", '{ test = ["CMD", "true"] }', "healthcheck"),
    ("resources", '{ memory = "64m", memory_swap = "96m", cpu_shares = 256, cpuset = "0", '
                  'reservations = { memory = "16m" } }', "resources"),
]


def test_a_change_of_each_key_is_a_field_change(project: Project,
                                                 ports: tuple[int, int]) -> None:
    p = project
    write_spec(p, ports)
    p.apply_ok()
    missed = []
    for key, value, fields in CHANGES:
        write_spec(p, ports, **{key: value})
        found = changes_of(p, p.n("base"))
        if sorted(found) != sorted(fields.split()):
            missed.append(f"{key} = {value}: expected a change of {fields} only, got "
                          f"{sorted(found)}")
    assert not missed, "\n".join(missed)
    write_spec(p, ports)
    assert p.diff().code == 0


def test_resources_change_in_place_and_drift_by_hand_is_healed(
        project: Project, ports: tuple[int, int]) -> None:
    p = project
    write_spec(p, ports)
    p.apply_ok()
    before = p.container("base").id
    write_spec(p, ports, resources='{ memory = "96m", memory_swap = "128m", cpu_shares = 256, '
                                   'cpuset = "0", reservations = { memory = "16m" } }')
    found = changes_of(p, p.n("base"))
    assert found["resources"]["in_place"] is True, found
    p.apply_ok()
    host = p.container("base").attrs["HostConfig"]
    assert p.container("base").id == before, "cpu_shares and the reservation change in place"
    assert (host["CpuShares"], host["MemoryReservation"], host["Memory"],
            host["MemorySwap"]) == (256, 16 * MIB, 96 * MIB, 128 * MIB)
    assert p.diff().code == 0
    p.container("base").update(cpu_shares=700, mem_reservation="8m")
    run = p.diff("--output", "json")
    assert run.code == 2, str(run)
    action = next(a for a in json.loads(run.out)["actions"] if a["name"] == p.n("base"))
    assert action["kind"] == "update" and action["cause"] == "drift", action
    p.apply_ok()
    host = p.container("base").attrs["HostConfig"]
    assert (host["CpuShares"], host["MemoryReservation"]) == (256, 16 * MIB)
    assert p.container("base").id == before
    assert p.diff().code == 0
