"""Contract: container lifecycle and the round trip of every ContainerConfig field.

What every driver must do with containers: create/start/inspect gives back
the configuration it was given (in the canonical form of ``runtime.types``:
env/labels as sorted pairs that may add the image's defaults, ports and mounts
sorted, networks by name with sorted aliases), each field takes effect in the
running process, list filters by labels in one call, and stop/start/remove/
rename/update behave as the ``Driver`` protocol says. Neighbours:
``tests/contract/conftest.py`` (``driver``, ``project``), the other contract
modules (networking, images, events).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from runtime.driver import Driver
from runtime.errors import Conflict, NotFound
from runtime.types import (
    ContainerConfig,
    Health,
    HealthSpec,
    NetworkAttach,
    ResourceSpec,
    RestartSpec,
    State,
)
from tests.conftest import wait_for
from tests.contract.conftest import Project

pytestmark = pytest.mark.docker


def running(driver: Driver, ref: str) -> bool:
    return driver.inspect_container(ref).summary.state is State.RUNNING


def logs_text(driver: Driver, ref: str) -> str:
    return b"".join(driver.logs(ref)).decode(errors="replace")


def test_round_trip_of_every_field(driver: Driver, project: Project) -> None:
    config = project.config(
        "all",
        command=("-c", "echo started; trap 'exit 0' TERM; while :; do sleep 1; done"),
        entrypoint=("/bin/sh",),
        env=(("EMPTY", ""), ("GREETING", "hello world"), ("WITH_EQ", "a=b")),
        workdir="/tmp",
        user="65534:65534",
        hostname="roundtrip",
        labels=(*project.labels, ("org.example.team", "core")),
        restart=RestartSpec("on-failure", 3),
        healthcheck=HealthSpec(("CMD-SHELL", "true"), 1.0, 2.0, 3, 0.5),
        resources=ResourceSpec(memory=64 * 1024 * 1024, cpus=0.5, pids=64),
        stdin_open=True,
        tty=True,
        stop_signal="SIGUSR1",
        stop_timeout=2.0,
    )
    cid = driver.create_container(config)
    driver.start_container(cid)
    info = driver.inspect_container(cid)
    live = info.config
    assert info.summary.id == cid
    assert info.summary.name == config.name
    assert info.summary.state is State.RUNNING
    assert info.image_ref == config.image
    image = driver.image_info(config.image)
    assert image is not None
    assert info.summary.image_id == image.id
    # env and labels: what was given, plus whatever the image brings
    assert set(config.env) <= set(live.env)
    assert set(live.env) - set(config.env) <= set(image.env)
    assert live.env == tuple(sorted(live.env))
    assert set(config.labels) <= set(live.labels)
    assert live.labels == tuple(sorted(live.labels))
    for field in (
        "name", "image", "command", "entrypoint", "workdir", "user", "hostname", "ports",
        "mounts", "volumes_from", "networks", "restart", "healthcheck", "resources",
        "stdin_open", "tty", "stop_signal", "stop_timeout",
    ):  # fmt: skip
        assert getattr(live, field) == getattr(config, field), field
    # ... and it took effect in the process
    result = driver.exec_in(cid, ["sh", "-c", 'id -u; pwd; hostname; echo "$GREETING"'])
    assert result.exit_code == 0, result
    assert result.output.decode().split("\n")[:4] == ["65534", "/tmp", "roundtrip", "hello world"]
    assert "pts" in driver.exec_in(cid, ["readlink", "/proc/1/fd/1"]).output.decode()
    memory = driver.exec_in(
        cid, ["sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes "
              "2>/dev/null || cat /sys/fs/cgroup/memory.max"],
    )  # fmt: skip
    assert memory.output.decode().strip() == str(64 * 1024 * 1024)
    wait_for(lambda: "started" in logs_text(driver, cid), "the entrypoint's output")
    wait_for(
        lambda: driver.inspect_container(cid).summary.health is Health.HEALTHY,
        "the healthcheck to pass",
    )


def test_defaults_round_trip_as_none(driver: Driver, project: Project) -> None:
    config = ContainerConfig(name=project.n("plain"), image=project.image, labels=project.labels)
    cid = driver.create_container(config)
    live = driver.inspect_container(cid).config
    assert live.command == ("sh",)  # the image's default, as the runtime reports it
    assert live.entrypoint is None
    assert (live.workdir, live.user, live.hostname) == (None, None, None)
    assert (live.ports, live.mounts, live.volumes_from, live.networks) == ((), (), (), ())
    assert live.restart == RestartSpec()
    assert live.healthcheck is None
    assert live.resources == ResourceSpec()
    assert (live.stdin_open, live.tty, live.stop_signal, live.stop_timeout) == (
        False, False, None, None,
    )  # fmt: skip
    created = driver.inspect_container(cid)
    assert created.summary.state is State.CREATED
    assert (created.started_at, created.restart_count, created.host_ports) == ("", 0, ())


def test_list_filters_by_labels_in_one_call(driver: Driver, project: Project) -> None:
    a = project.run("a", labels=(*project.labels, ("role", "web")))
    b = driver.create_container(project.config("b", labels=(*project.labels, ("role", "db"))))
    every = {c.id: c for c in driver.list_containers(project.selector)}
    assert set(every) == {a, b}
    assert every[a].state is State.RUNNING and every[b].state is State.CREATED
    assert every[a].name == project.n("a")
    assert every[a].label("role") == "web"
    image = driver.image_info(project.image)
    assert image is not None and every[a].image_id == image.id
    web = driver.list_containers({**project.selector, "role": "web"})
    assert [c.id for c in web] == [a]
    assert driver.list_containers({**project.selector, "role": "none"}) == []
    assert {a, b} <= {c.id for c in driver.list_containers()}


def test_stop_start_remove(driver: Driver, project: Project) -> None:
    cid = project.run("life")
    driver.stop_container(cid, timeout=1)
    summary = driver.inspect_container(cid).summary
    assert summary.state is State.EXITED
    assert summary.exit_code == 0  # the trap ran: TERM was delivered
    driver.start_container(cid)
    assert running(driver, cid)
    driver.remove_container(cid, force=True)
    with pytest.raises(NotFound):
        driver.inspect_container(cid)
    with pytest.raises(NotFound):
        driver.remove_container(cid)


def test_stop_kills_a_process_that_ignores_sigterm(driver: Driver, project: Project) -> None:
    # busybox `sleep` as PID 1 ignores SIGTERM; under an init (native: tini) it would not, so the
    # shell ignores TERM explicitly (sleep inherits that): only the kill after the timeout ends it
    cid = project.run(
        "stubborn", command=("sh", "-c", "trap '' TERM; sleep 3600"), stop_timeout=None
    )
    driver.stop_container(cid, timeout=1)
    summary = driver.inspect_container(cid).summary
    assert summary.state is State.EXITED
    assert summary.exit_code == 137
    # a stopped container's summary from a list says so too
    (listed,) = driver.list_containers({**project.selector})
    assert (listed.state, listed.exit_code) == (State.EXITED, 137)


def test_exit_code_and_restart_policy(driver: Driver, project: Project) -> None:
    cid = project.run("crash", command=("sh", "-c", "exit 3"), restart=RestartSpec("on-failure", 2))
    wait_for(lambda: driver.inspect_container(cid).restart_count >= 1, "a restart")
    assert driver.inspect_container(cid).config.restart == RestartSpec("on-failure", 2)
    once = project.run("once", command=("sh", "-c", "exit 3"))
    wait_for(lambda: not running(driver, once), "the container to exit")
    summary = driver.inspect_container(once).summary
    assert (summary.state, summary.exit_code) == (State.EXITED, 3)
    assert driver.inspect_container(once).restart_count == 0


def test_rename(driver: Driver, project: Project) -> None:
    cid = project.run("old")
    driver.rename_container(cid, project.n("new"))
    assert driver.inspect_container(project.n("new")).summary.id == cid
    with pytest.raises(NotFound):
        driver.inspect_container(project.n("old"))
    other = driver.create_container(project.config("other"))
    with pytest.raises(Conflict):
        driver.rename_container(other, project.n("new"))


def test_update_in_place(driver: Driver, project: Project) -> None:
    cid = project.run("upd", resources=ResourceSpec(memory=64 << 20, cpus=0.5, pids=64))
    started = driver.inspect_container(cid).started_at
    driver.update_container(
        cid,
        restart=RestartSpec("unless-stopped"),
        resources=ResourceSpec(memory=96 << 20, cpus=1.0, pids=128),
    )
    info = driver.inspect_container(cid)
    assert info.config.restart == RestartSpec("unless-stopped")
    assert info.config.resources == ResourceSpec(memory=96 << 20, cpus=1.0, pids=128)
    assert info.summary.id == cid and info.started_at == started  # not restarted
    driver.update_container(cid, resources=ResourceSpec(memory=32 << 20))
    assert driver.inspect_container(cid).config.resources.memory == 32 << 20


def test_not_found_and_conflict(driver: Driver, project: Project) -> None:
    missing = project.n("missing")
    for call in (
        lambda: driver.inspect_container(missing),
        lambda: driver.start_container(missing),
        lambda: driver.stop_container(missing, timeout=0),
        lambda: driver.remove_container(missing),
        lambda: driver.rename_container(missing, project.n("x")),
        lambda: driver.exec_in(missing, ["true"]),
    ):
        with pytest.raises(NotFound):
            call()
    config = project.config("dup")
    driver.create_container(config)
    with pytest.raises(Conflict):
        driver.create_container(config)
    with pytest.raises(Conflict):  # a different config, the same name
        driver.create_container(replace(config, command=("true",)))
    with pytest.raises(NotFound):
        driver.create_container(project.config("noimage", image="dockwright-test/absent:never"))
    absent = NetworkAttach(project.n("absent-net"))
    for short, networks in (
        ("nonet", (absent,)),
        ("nonet2", (NetworkAttach(project.network), absent)),
    ):
        with pytest.raises(NotFound):  # at create or, on Docker, at start
            project.run(short, networks=networks)


def test_stdin_open_keeps_stdin_open(driver: Driver, project: Project) -> None:
    # `cat` as the process: it waits on an open stdin, and ends at once on a closed one
    held = project.run("stdin", command=("cat",), stdin_open=True, stop_signal="SIGKILL")
    closed = project.run("nostdin", command=("cat",))
    wait_for(lambda: not running(driver, closed), "cat without stdin to end")
    assert driver.inspect_container(closed).summary.exit_code == 0
    assert running(driver, held)
