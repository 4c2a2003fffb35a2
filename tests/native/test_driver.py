"""The native driver against the real thing: crun/runc, conmon, overlayfs, netns.

Role: behaviour of ``runtime.native.driver.NativeDriver`` that the contract
suite does not pin down or that is specific to this runtime: process settings
(env, workdir, user, hostname), mounts, cgroup limits, exit codes, OOM, stop
with a grace period, restart policies, health checks, exec, logs, published
ports, names between containers, adoption by a restarted controller. Crash
tests live in ``test_crash.py``.
Neighbours: ``tests/native/conftest.py`` (fixtures).
"""

from __future__ import annotations

import os
import signal
import threading
import urllib.request
from pathlib import Path

import pytest

from runtime.errors import Conflict, InvalidRequest, NotFound
from runtime.native import gc, rootfs
from runtime.native.driver import NativeDriver
from runtime.types import (
    HealthSpec,
    MountSpec,
    NetworkAttach,
    NetworkConfig,
    PortBinding,
    ResourceSpec,
    RestartSpec,
    State,
    VolumeConfig,
)
from tests.conftest import wait_for
from tests.native.conftest import NProject
from tests.ports import free_port

pytestmark = pytest.mark.native


def _exited(driver: NativeDriver, cid: str) -> int | None:
    info = driver.inspect_container(cid)
    return info.summary.exit_code if info.summary.state == State.EXITED else None


def _finish(p: NProject, short: str, script: str, **fields: object) -> tuple[int, str]:
    """Run ``sh -c script`` to completion; return (exit code, output)."""
    cid = p.run(short, command=("sh", "-c", script), **fields)
    code = wait_for(lambda: _exited(p.driver, cid) is not None, f"{short} to exit", timeout=20)
    assert code
    out = b"".join(p.driver.logs(cid)).decode()
    return _exited(p.driver, cid) or 0, out


def test_process_settings_and_exit_code(nproject: NProject) -> None:
    code, out = _finish(
        nproject, "proc",
        'echo "foo=$FOO"; pwd; id -u; id -g; hostname; cat /proc/1/cmdline | tr "\\0" " "; exit 3',
        env=(("FOO", "bar baz"),), workdir="/tmp", user="1234:99", hostname="box1",
    )  # fmt: skip
    lines = out.splitlines()
    assert code == 3
    assert lines[:5] == ["foo=bar baz", "/tmp", "1234", "99", "box1"]
    assert lines[5].startswith("/.dockwright/init -- sh -c")  # tini is PID 1


def test_a_failed_create_leaves_nothing(nproject: NProject, tmp_path: Path) -> None:
    d = nproject.driver
    net = nproject.n("net")
    d.create_network(NetworkConfig(name=net, labels=nproject.labels))
    net_records = d.state_dir / "net" / "containers"

    def objects() -> tuple[set[str], set[str], set[str]]:
        return (set(d.records.ids()), set(rootfs.mounts_under(d.records.root)),
                {p.name for p in net_records.glob("*.json")})  # fmt: skip

    before = objects()
    with pytest.raises(InvalidRequest):  # fails after the netns, veth and rootfs exist
        d.create_container(nproject.config("nouser", user="nobody-here", networks=(
            NetworkAttach(net),)))  # fmt: skip
    with pytest.raises(InvalidRequest):
        d.create_container(nproject.config("nobind", mounts=(
            MountSpec("bind", "/x", str(tmp_path / "absent")),)))  # fmt: skip
    assert objects() == before  # records, rootfs mounts, netns/veth records all gone
    assert d.list_containers(dict(nproject.labels)) == []
    assert d.records.name_owner(nproject.n("nouser")) is None


def test_names_are_unique(nproject: NProject) -> None:
    nproject.driver.create_container(nproject.config("dup"))
    with pytest.raises(Conflict):
        nproject.driver.create_container(nproject.config("dup"))
    with pytest.raises(NotFound):
        nproject.driver.inspect_container(nproject.n("missing"))


def test_limits_take_effect(nproject: NProject) -> None:
    code, out = _finish(
        nproject, "limits",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us"
        " /sys/fs/cgroup/pids/pids.max",
        resources=ResourceSpec(memory=48 * 1024 * 1024, cpus=0.5, pids=64),
    )  # fmt: skip
    assert code == 0
    assert out.split() == [str(48 * 1024 * 1024), "50000", "64"]


def test_oom_kill_is_137_and_flagged(nproject: NProject) -> None:
    code, _ = _finish(
        nproject, "oom", "head -c 200m /dev/zero | tail > /dev/null",
        resources=ResourceSpec(memory=16 * 1024 * 1024),
    )  # fmt: skip
    assert code == 137
    d = nproject.driver
    cid = d.records.resolve(nproject.n("oom"))
    # conmon writes the oom file just after the exit file; inspect picks it up
    wait_for(lambda: d.inspect_container(cid) and d.records.read(cid).oom, "the oom flag")


def test_mounts(nproject: NProject, tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("from-host\n")
    vol = nproject.n("vol")
    nproject.driver.create_volume(VolumeConfig(name=vol, labels=nproject.labels))
    mounts = (
        MountSpec(type="bind", source=str(tmp_path), target="/host"),
        MountSpec(type="bind", source=str(tmp_path), target="/host-ro", read_only=True),
        MountSpec(type="volume", source=vol, target="/data"),
        MountSpec(type="tmpfs", target="/scratch", size=8 * 1024 * 1024),
    )
    script = (
        "cat /host/in.txt; echo written > /host/out.txt; echo v1 > /data/v;"
        " touch /host-ro/x 2>/dev/null || echo ro-refused;"
        " grep ' /scratch ' /proc/mounts | grep -o 'size=[0-9]*k'"
    )
    code, out = _finish(nproject, "mounts", script, mounts=mounts)
    assert code == 0
    assert out.split() == ["from-host", "ro-refused", "size=8192k"]
    assert (tmp_path / "out.txt").read_text() == "written\n"
    # the named volume keeps its content for the next container; volumes_from shares it
    source = ((nproject.n("mounts"), True),)
    code, out = _finish(nproject, "reader", "cat /data/v", volumes_from=source)
    assert (code, out) == (0, "v1\n")
    with pytest.raises(Conflict):
        nproject.driver.remove_volume(vol)  # still used by the two containers


def test_volume_is_populated_from_the_image(nproject: NProject) -> None:
    vol = nproject.n("bin")
    nproject.driver.create_volume(VolumeConfig(name=vol, labels=nproject.labels))
    code, _ = _finish(nproject, "pop", "ls /bin/sh", mounts=(MountSpec("volume", "/bin", vol),))
    assert code == 0
    assert (Path(nproject.driver.volumes.data_dir(vol)) / "busybox").exists()


def test_stop_is_term_then_kill(nproject: NProject) -> None:
    polite = nproject.run("polite")  # LOOP exits 0 on TERM
    ignore_term = ("sh", "-c", "trap '' TERM; while :; do sleep 1; done")
    stubborn = nproject.run("stubborn", command=ignore_term)
    nproject.driver.stop_container(polite, timeout=5)
    nproject.driver.stop_container(stubborn, timeout=0.5)
    assert _exited(nproject.driver, polite) == 0
    assert _exited(nproject.driver, stubborn) == 137
    nproject.driver.start_container(polite)  # a stopped container starts again
    assert nproject.driver.inspect_container(polite).summary.state == State.RUNNING


def test_restart_policy_restarts_a_dying_container(nproject: NProject) -> None:
    cid = nproject.run(
        "crashy", command=("sh", "-c", "sleep 0.2; exit 2"),
        restart=RestartSpec(name="on-failure", max_retries=2),
    )  # fmt: skip
    wait_for(
        lambda: nproject.driver.inspect_container(cid).restart_count == 2
        and _exited(nproject.driver, cid) == 2,
        "two restarts then exit 2", timeout=30,
    )  # fmt: skip
    never = nproject.run("never", command=("sh", "-c", "exit 2"))
    wait_for(lambda: _exited(nproject.driver, never) == 2, "exit 2")
    assert nproject.driver.inspect_container(never).restart_count == 0


def test_healthcheck_turns_healthy_and_unhealthy(nproject: NProject) -> None:
    good = nproject.run("good", healthcheck=HealthSpec(("CMD", "true"), interval=0.2, retries=1))
    bad = nproject.run(
        "bad", healthcheck=HealthSpec(("CMD-SHELL", "exit 1"), interval=0.2, retries=2)
    )
    d = nproject.driver
    wait_for(lambda: d.inspect_container(good).summary.health.value == "healthy", "healthy")
    wait_for(lambda: d.inspect_container(bad).summary.health.value == "unhealthy", "unhealthy")


def test_exec_and_logs(nproject: NProject) -> None:
    cid = nproject.run(
        "talk", env=(("GREETING", "hi"),), workdir="/tmp",
        command=("sh", "-c", "for i in 1 2 3; do echo line$i; done; echo err >&2;"
                 " trap 'exit 0' TERM; while :; do sleep 1; done"),
    )  # fmt: skip
    d = nproject.driver
    wait_for(lambda: b"err" in b"".join(d.logs(cid)), "output")
    result = d.exec_in(cid, ["sh", "-c", "echo $GREETING; pwd; exit 4"])
    assert (result.exit_code, result.output) == (4, b"hi\n/tmp\n")
    assert b"".join(d.logs(cid, tail=2)) == b"line3\nerr\n"
    follow = d.logs(cid, follow=True)
    assert next(follow) == b"line1\n"
    d.stop_container(cid, timeout=2)
    assert b"".join(follow) == b"line2\nline3\nerr\n"  # ends when the container stops
    with pytest.raises(Conflict):
        d.exec_in(cid, ["true"])


def test_published_port_and_alias(nproject: NProject) -> None:
    d = nproject.driver
    net = nproject.n("net")
    d.create_network(NetworkConfig(name=net, labels=nproject.labels))
    port = free_port()
    web = nproject.run(
        "web", networks=(NetworkAttach(net, ("webby",)),),
        ports=(PortBinding(80, host_ip="127.0.0.1", host_port=port),),
        command=("sh", "-c", "mkdir /www; echo native-ok > /www/index.html;"
                 " exec httpd -f -p 80 -h /www"),
    )  # fmt: skip

    def get() -> bytes:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
                return bytes(resp.read())
        except OSError:
            return b""

    assert wait_for(get, "HTTP on the published port") == b"native-ok\n"
    info = d.inspect_container(web)
    assert info.host_ports == (PortBinding(80, "tcp", "127.0.0.1", port),)
    code, out = _finish(
        nproject, "client", "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc webby 80",
        networks=(NetworkAttach(net),),
    )  # fmt: skip
    assert code == 0 and "native-ok" in out


def test_a_new_driver_adopts_running_containers(nproject: NProject, native_state: Path) -> None:
    d = nproject.driver
    cid = nproject.run("adopt", healthcheck=HealthSpec(("CMD", "true"), interval=0.2, retries=1))
    wait_for(lambda: d.inspect_container(cid).summary.health.value == "healthy", "healthy")
    old_checker = d.records.read(cid).shim_pid
    assert old_checker and gc.is_shim_of(old_checker, cid)
    os.kill(old_checker, signal.SIGKILL)  # as if the host lost the controller's helpers
    wait_for(lambda: not gc.is_shim_of(old_checker, cid), "the health checker to die")
    again = NativeDriver(state_dir=native_state)  # a restarted controller
    (row,) = [c for c in again.list_containers(dict(nproject.labels)) if c.id == cid]
    assert row.state == State.RUNNING
    assert gc.is_shim_of(again.records.read(cid).shim_pid, cid)  # re-adopted
    assert again.exec_in(cid, ["true"]).exit_code == 0


def test_events_report_start_die_and_oom(nproject: NProject) -> None:
    d = nproject.driver
    seen: list[tuple[str, str, str]] = []
    with d.events(dict(nproject.labels)) as stream:

        def read() -> None:
            for event in stream:
                seen.append((event.action, event.name, event.detail))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        nproject.run("ev", command=("sh", "-c", "exit 3"))
        nproject.run(
            "evoom", command=("sh", "-c", "head -c 200m /dev/zero | tail"),
            resources=ResourceSpec(memory=16 * 1024 * 1024),
        )  # fmt: skip
        wait_for(lambda: ("die", nproject.n("ev"), "3") in seen, "die of ev with 3")
        wait_for(lambda: ("oom", nproject.n("evoom"), "") in seen, "oom of evoom")
    reader.join(5)
    assert not reader.is_alive()
    assert ("start", nproject.n("ev"), "") in seen


def test_update_changes_live_limits(nproject: NProject) -> None:
    d = nproject.driver
    cid = nproject.run("upd", resources=ResourceSpec(memory=64 * 1024 * 1024))
    d.update_container(cid, resources=ResourceSpec(memory=32 * 1024 * 1024, pids=50))
    out = d.exec_in(cid, ["cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes",
                          "/sys/fs/cgroup/pids/pids.max"]).output  # fmt: skip
    assert out.split() == [str(32 * 1024 * 1024).encode(), b"50"]
    d.stop_container(cid, timeout=2)
    d.start_container(cid)  # the new limits survive a restart (they are in the bundle)
    out = d.exec_in(cid, ["cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]).output
    assert out.strip() == str(32 * 1024 * 1024).encode()


def test_a_missing_command_fails_at_start(nproject: NProject) -> None:
    d = nproject.driver
    cid = d.create_container(nproject.config("nocmd", command=("no-such-command", "x")))
    with pytest.raises(InvalidRequest, match="executable file not found"):
        d.start_container(cid)
    assert d.inspect_container(cid).summary.state == State.CREATED
    ok = d.create_container(nproject.config("abs", command=("/bin/sh", "-c", "exit 0")))
    d.start_container(ok)  # an absolute path through the image's symlinks (/bin/sh -> busybox)
