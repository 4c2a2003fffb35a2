"""Contract: the host-level container settings behave the same on every driver.

Each test creates a container with one group of ``ContainerConfig`` host-level fields
and checks, from inside it, that the setting took effect (a read-only root refuses a
write, a dropped NET_RAW forbids ping, the ulimit is what ``ulimit -n`` says, the
sysctl reads back, extra hosts and DNS are in /etc/hosts and resolv.conf, /dev/shm has
its size, the init is PID 1, ...), and that an inspect reports the fields as they were
asked for (the planner compares them so). Neighbours: ``runtime.native.hostopts``,
``runtime.docker.hostconfig``, ``tests/contract/conftest.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from controller.execution.reconcile import reconcile
from runtime.types import ContainerConfig, DeviceSpec, UlimitSpec
from tests.conftest import wait_for
from tests.contract.conftest import Project

HOST_FIELDS = ("init", "cap_add", "cap_drop", "privileged", "devices", "extra_hosts", "dns",
               "dns_search", "dns_opt", "ulimits", "sysctls", "read_only", "shm_size",
               "tmpfs", "group_add", "network_mode", "pid_mode", "oom_score_adj", "domainname",
               "mac_address")


def _run(project: Project, short: str, script: str, **fields: Any) -> str:
    """Run the container, then ``sh -c script`` in it; its output (exit code 0 asked)."""
    project.run(short, **fields)
    name = project.n(short)
    wait_for(lambda: project.driver.inspect_container(name).summary.state.value == "running",
             f"{name} running")
    result = project.driver.exec_in(name, ["sh", "-c", script])
    output = result.output.decode()
    assert result.exit_code == 0, output
    live = project.driver.inspect_container(name).config
    asked = ContainerConfig(name="", image="", **fields)
    for key in HOST_FIELDS:
        if key in fields:
            assert getattr(live, key) == getattr(asked, key), f"inspect reports {key}"
    return output


def test_read_only_root_with_a_writable_tmpfs(project: Project) -> None:
    out = _run(project, "ro", "touch /probe 2>/dev/null && echo root-writable; "
               "touch /scratch/probe && echo tmpfs-writable; grep ' /scratch ' /proc/mounts",
               read_only=True, tmpfs=(("/scratch", "size=1m"),))
    lines = out.splitlines()
    assert lines[0] == "tmpfs-writable" and "root-writable" not in out
    assert lines[1].split()[3].split(",")[:4] == ["rw", "nosuid", "nodev", "noexec"]
    assert "size=1024k" in lines[1]


def test_dropped_net_raw_forbids_ping_and_an_added_cap_is_held(project: Project) -> None:
    script = ("ping -c1 -W1 127.0.0.1 >/dev/null 2>&1 && echo ping-ok; "
              "grep CapEff /proc/self/status")
    out = _run(project, "caps", script, cap_drop=("NET_RAW",), cap_add=("NET_ADMIN",))
    assert "ping-ok" not in out
    eff = int(out.split()[-1], 16)
    assert eff & (1 << 12) and not eff & (1 << 13)  # NET_ADMIN held, NET_RAW not
    assert "ping-ok" in _run(project, "plain", script)  # Docker's default set has NET_RAW


def test_ulimits_sysctls_and_oom_score(project: Project) -> None:
    # `ulimit -n` of the container's own process (Docker's exec does not apply its ulimits)
    command = ("sh", "-c", "ulimit -n > /u; ulimit -Hn >> /u; "
               "trap 'exit 0' TERM; while :; do sleep 1; done")
    out = _run(project, "limits", "while [ ! -s /u ] || [ $(wc -l < /u) -lt 2 ]; do sleep 0.1; "
               "done; "
               "cat /u; cat /proc/sys/net/core/somaxconn; "
               "cat /proc/1/oom_score_adj", command=command,
               ulimits=(UlimitSpec("nofile", 1024, 2048),),
               sysctls=(("net.core.somaxconn", "1234"),), oom_score_adj=321)
    assert out.split() == ["1024", "2048", "1234", "321"]


def test_extra_hosts_dns_and_domainname(project: Project) -> None:
    out = _run(project, "names", "grep db.local /etc/hosts; grep -v '^#' /etc/resolv.conf; "
               "cat /proc/sys/kernel/domainname",
               extra_hosts=(("db.local", "10.0.0.5"),), dns=("10.0.0.53",),
               dns_search=("example.org",), dns_opt=("ndots:2",), domainname="example.org")
    lines = [line.split() for line in out.splitlines() if line.strip()]
    assert ["10.0.0.5", "db.local"] in lines
    assert ["search", "example.org"] in lines and ["options", "ndots:2"] in lines
    # Docker answers on a user network itself (127.0.0.11) and forwards to the dns given
    allowed = [[["nameserver", "10.0.0.53"]]]
    if project.driver.name == "docker":
        allowed.append([["nameserver", "127.0.0.11"]])
    assert [w for w in lines if w[0] == "nameserver"] in allowed
    assert lines[-1] == ["example.org"]


def test_shm_size_and_init_as_pid_1(project: Project) -> None:
    out = _run(project, "shm", "df -k /dev/shm | tail -1; cat /proc/1/comm",
               shm_size=32 * 1024 * 1024, init=True)
    df, comm = out.splitlines()
    assert df.split()[1] == "32768"
    assert comm.endswith("init"), comm  # docker-init / tini, not the command


def test_devices_and_group_add(project: Project) -> None:
    out = _run(project, "dev", "head -c 3 /dev/myzero | od -An -tx1; id -G",
               devices=(DeviceSpec("/dev/zero", "/dev/myzero", "rwm"),),
               group_add=("4242", "4343"))
    zeros, groups = out.splitlines()
    assert zeros.split() == ["00", "00", "00"]
    assert {"4242", "4343"} <= set(groups.split())


@pytest.mark.parametrize("mode", ["host", "none"])
def test_network_mode_host_and_none(project: Project, mode: str) -> None:
    def here() -> set[str]:  # other tests add and remove interfaces meanwhile
        with open("/proc/net/dev") as f:
            return {line.split(":")[0].strip() for line in f.readlines()[2:]}

    before = here()
    out = _run(project, f"net-{mode}", "tail -n +3 /proc/net/dev | cut -d: -f1",
               network_mode=mode, networks=())
    inside = {line.strip() for line in out.splitlines()}
    if mode == "none":
        assert inside == {"lo"}
    else:
        after = here()
        assert before & after <= inside and "lo" in inside


def test_pid_host_sees_the_host_processes(project: Project) -> None:
    out = _run(project, "pid", "cat /proc/1/comm", pid_mode="host")
    with open("/proc/1/comm") as f:
        assert out.strip() == f.read().strip()


def test_no_init_and_no_new_privileges(project: Project) -> None:
    out = _run(project, "noinit", "cat /proc/1/comm; grep NoNewPrivs /proc/self/status",
               init=False, security_opt=("no-new-privileges",))
    comm, nnp = out.splitlines()
    assert comm == "sh" and nnp.split() == ["NoNewPrivs:", "1"]


SPEC = """\
[container.{name}]
image = "{image}"
command = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]
stop_timeout = "1s"
init = true
cap_add = ["NET_ADMIN"]
cap_drop = ["NET_RAW"]
devices = ["/dev/zero:/dev/myzero:rw"]
extra_hosts = {{ "db.local" = "10.0.0.5" }}
dns = ["10.0.0.53"]
dns_search = ["example.org"]
dns_opt = ["ndots:2"]
ulimits = {{ nofile = {{ soft = 1024, hard = 2048 }}, nproc = 512 }}
sysctls = {{ "net.core.somaxconn" = "1024" }}
read_only = true
shm_size = "32m"
tmpfs = ["/scratch:size=1m"]
group_add = ["4242"]
oom_score_adj = 100
domainname = "example.org"
security_opt = ["no-new-privileges"]
expose = ["8080"]

[container.{name}.resources]
memory = "64m"
cpu_shares = 512
cpuset = "0"
memory_swap = "128m"
reservations = {{ memory = "32m" }}
"""


def test_a_spec_with_the_host_keys_converges_and_stays_converged(
        project: Project, tmp_path: Path) -> None:
    """The planner compares the live config of either runtime with the same rules: a
    second pass plans nothing."""
    root = tmp_path / "specs"
    root.mkdir()
    name = project.n("all")
    (root / "a.toml").write_text(SPEC.format(name=name, image=project.image))
    first = reconcile(root, project.driver, project=project.name)
    assert first.ok and first.changed, first.to_json()
    again = reconcile(root, project.driver, project=project.name)
    assert not again.changed and not again.plan.changes, again.to_json()
    result = project.driver.exec_in(name, ["grep", "open files", "/proc/1/limits"])
    assert result.output.decode().split()[3:5] == ["1024", "2048"]


def test_cpu_shares_cpuset_and_reservation_change_in_place(
        project: Project, tmp_path: Path) -> None:
    root = tmp_path / "specs"
    root.mkdir()
    name = project.n("cpu")
    base = (f'[container.{name}]\nimage = "{project.image}"\n'
            "command = [\"sh\", \"-c\", \"trap 'exit 0' TERM; while :; do sleep 1; done\"]\n"
            'stop_timeout = "1s"\n')
    (root / "a.toml").write_text(base + 'resources = { cpu_shares = 512, memory = "64m" }\n')
    assert reconcile(root, project.driver, project=project.name).ok
    before = project.driver.inspect_container(name).summary.id
    (root / "a.toml").write_text(base + 'resources = { cpu_shares = 256, memory = "64m", '
                                 'cpuset = "0", reservations = { memory = "32m" } }\n')
    result = reconcile(root, project.driver, project=project.name)
    assert result.ok and result.changed, result.to_json()
    live = project.driver.inspect_container(name)
    assert live.summary.id == before, "recreated instead of updated in place"
    res = live.config.resources
    assert (res.cpu_shares, res.cpuset, res.memory_reservation) == (256, "0", 32 << 20)
    shares = project.driver.exec_in(name, ["cat", "/sys/fs/cgroup/cpu/cpu.shares"])
    assert shares.output.decode().strip() == "256"
    assert not reconcile(root, project.driver, project=project.name).changed


def test_mac_address_on_the_first_network(project: Project) -> None:
    out = _run(project, "mac", "cat /sys/class/net/eth0/address",
               mac_address="02:42:ac:11:00:99")
    assert out.strip() == "02:42:ac:11:00:99"


def test_network_mode_container_shares_the_network_namespace(project: Project) -> None:
    target = _run(project, "net-a", "cat /sys/class/net/eth0/address; hostname")
    mac, hostname = target.split()
    joined = _run(project, "net-b", "cat /sys/class/net/eth0/address; cat /etc/hosts",
                  network_mode=f"container:{project.n('net-a')}", networks=())
    assert joined.split()[0] == mac
    assert hostname in joined.split()  # the target's /etc/hosts


def test_a_container_joining_another_converges(project: Project, tmp_path: Path) -> None:
    root = tmp_path / "specs"
    root.mkdir()
    loop = "[\"sh\", \"-c\", \"trap 'exit 0' TERM; while :; do sleep 1; done\"]"
    app, side = project.n("app"), project.n("side")
    (root / "a.toml").write_text(
        f'[container.{side}]\nimage = "{project.image}"\ncommand = {loop}\n'
        f'stop_timeout = "1s"\nnetwork_mode = "container:{app}"\n\n'
        f'[container.{app}]\nimage = "{project.image}"\ncommand = {loop}\n'
        'stop_timeout = "1s"\n')
    first = reconcile(root, project.driver, project=project.name)
    assert first.ok, first.to_json()
    again = reconcile(root, project.driver, project=project.name)
    assert not again.changed and not again.plan.changes, again.to_json()
    macs = [project.driver.exec_in(n, ["cat", "/sys/class/net/eth0/address"]).output
            for n in (app, side)]
    assert macs[0] == macs[1]


def test_pid_and_ipc_of_another_container(project: Project) -> None:
    donor = _run(project, "donor", "readlink /proc/self/ns/ipc; cat /proc/1/comm",
                 ipc_mode="shareable")
    joined = _run(project, "joiner", "readlink /proc/self/ns/ipc; cat /proc/1/comm",
                  pid_mode=f"container:{project.n('donor')}",
                  ipc_mode=f"container:{project.n('donor')}")
    assert joined.split() == donor.split()  # the same IPC namespace and the same PID 1
